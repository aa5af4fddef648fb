import { UsageError } from './args.js';
import { appendCommand } from './commands/append.js';
import { benchCommand } from './commands/bench.js';
import { benchReportCommand } from './commands/bench-report.js';
import { conformanceCommand } from './commands/conformance.js';
import { demoCommand } from './commands/demo.js';
import { endCommand } from './commands/end.js';
import { infraCommand } from './commands/infra.js';
import { serveCommand } from './commands/serve.js';
import { tailCommand } from './commands/tail.js';
import { processContext, reportError, type CliContext } from './output.js';

/** Top-level help. */
export const USAGE = `Usage: durable-sessions <command> [options]

Commands:
  demo [url]                 the web demo: an AI chat over the gateway (--terminal: the terminal tour)
  conformance <url>          run the conformance suite against a backend URL
  bench <url>                benchmark a backend: Durable Sessions vs the raw client, side by side
  bench-report               benchmark every backend vs its raw client and the peers; write docs/benchmarks.md
  serve <url>                run the gateway (WebSocket, SSE, Durable Streams HTTP) over a backend
  infra <name> | --list      run local test infrastructure (redis, nats, kafka, …) in the foreground
  tail <session>             print a session's events as JSON lines until $end or Ctrl-C
  append <session> <json>    append one event, print its offset
  end <session>              append the end-of-stream event

Backend URLs: memory:, redis://host:6379, rediss://…, upstash+https://…, nats://host:4222, kafka://host:9092, ably:…
tail/append/end use --url, else $DURABLE_SESSIONS_URL, else memory: (which lives only inside one process).
Run "durable-sessions <command> --help" for a command's options.
Exit codes: 0 ok, 1 failure (a failed conformance test, a backend error), 2 usage or configuration error.`;

type Command = (args: string[], ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  demo: demoCommand,
  conformance: conformanceCommand,
  bench: (args, ctx) => benchCommand(args, ctx, ['bench', ...args]),
  'bench-report': benchReportCommand,
  serve: serveCommand,
  infra: infraCommand,
  tail: tailCommand,
  append: appendCommand,
  end: endCommand,
};

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. Never throws. */
export async function main(argv: readonly string[], ctx: CliContext = processContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? ctx.err : ctx.out)(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (!command) throw new UsageError(`Unknown command ${JSON.stringify(name)}. Commands: ${Object.keys(COMMANDS).join(', ')}.`);
    return await command(args, ctx);
  } catch (err) {
    const code = reportError(ctx, err);
    if (err instanceof UsageError) ctx.err(`Run "durable-sessions ${command ? `${name} ` : ''}--help" for usage.`);
    return code;
  }
}
