import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The option declarations `node:util` parseArgs accepts. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parsed arguments: option values by name, and positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses one command's arguments strictly (unknown options are errors) and checks the positional count, so every
 * mistake becomes a {@link UsageError} instead of a stack trace. `--help`/`-h` is always accepted.
 */
export function parseCommand(args: string[], options: OptionSpec, positionals: { min: number; max: number }): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (!values.help) {
    if (parsed.positionals.length < positionals.min) throw new UsageError('Missing argument.');
    if (parsed.positionals.length > positionals.max) throw new UsageError(`Unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}.`);
  }
  return { values, positionals: parsed.positionals };
}

/** A string option's value, or undefined. */
export function stringOption(values: ParsedArgs['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A positive number option (e.g. `--time-scale 2`), or undefined; anything else is a usage error. */
export function numberOption(values: ParsedArgs['values'], name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(raw)}.`);
  return value;
}
