import { writeFile } from 'node:fs/promises';
import { connect, redact, registeredBackends, DurableSessionError, type Backend, type StoreOptions } from '@durable-sessions/core';
import type { ConformanceTarget } from '@durable-sessions/conformance';
import { numberOption, parseCommand, stringOption } from '../args.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions conformance`. */
export const CONFORMANCE_USAGE = `Usage: durable-sessions conformance <url> [--filter SUBSTR] [--json FILE] [--time-scale N]

Runs the Durable Sessions conformance suite against a backend URL (memory:, redis://…, nats://…, kafka://…,
ably:…). Progress goes to stderr, the pass matrix to stdout; its last line is "N passed, N failed, N skipped".
Exit code 1 when a test failed. Fault tests (server restart, dropped connections) need hooks into the server
that a URL cannot give, so they skip here; adapter test files run them against their own launcher.

  --filter S      only tests whose id contains S (or that carry the tag S)
  --json FILE     also write the full report as JSON
  --time-scale N  multiply every timeout by N, for slow or remote backends (default 1)`;

/**
 * A conformance target for a URL. Every `connect` must reach the same data, so a private `memory:` URL becomes a
 * process-wide named memory instance; `backend()` builds a fresh adapter instance from the same URL, which lets
 * the suite simulate a crashed client process.
 */
export function urlTarget(url: string, timeScale?: number): ConformanceTarget {
  const trimmed = url.trim();
  const server = /^memory:\/?$/i.test(trimmed) ? `memory://conformance-${globalThis.crypto.randomUUID().slice(0, 8)}` : undefined;
  // The memory "server" lives in this process: one named instance per retention setting, since retention is fixed
  // when an instance is created (a real server applies each client's retention per append instead).
  const urlFor = (options: StoreOptions = {}) =>
    server ? `${server}-${JSON.stringify(options.retention ?? {}).replace(/[^A-Za-z0-9]/g, '_')}` : trimmed;
  return {
    name: redact(url),
    connect: (options?: StoreOptions) => connect(urlFor(options), options),
    backend: (options?: StoreOptions) => backendFor(urlFor(options), options),
    ...(timeScale !== undefined ? { timeScale } : {}),
  };
}

/** Says why a fault test skipped here: a hook needs the server, which the CLI did not start. */
function explainSkip(reason: string | undefined): string | undefined {
  return reason && /\bno (restart|dropConnections) hook\b/.test(reason)
    ? `${reason}: the CLI cannot restart or disconnect a server it did not start (the adapter's own test file runs these against its launcher)`
    : reason;
}

async function backendFor(url: string, options: StoreOptions = {}): Promise<Backend> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const registration = registeredBackends().find((r) => scheme !== undefined && r.schemes.includes(scheme));
  if (!registration) throw new DurableSessionError('CONFIG_INVALID', `No backend is registered for ${JSON.stringify(redact(url))}.`);
  const factory = await registration.load();
  return factory({ url, ...(options.retention ? { retention: options.retention } : {}) });
}

/** `durable-sessions conformance <url>`: runs the suite, prints the matrix; exit 1 if any test failed. */
export async function conformanceCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(
    args,
    { filter: { type: 'string' }, json: { type: 'string' }, 'time-scale': { type: 'string' } },
    { min: 1, max: 1 },
  );
  if (values.help) {
    ctx.out(CONFORMANCE_USAGE);
    return 0;
  }
  const url = positionals[0]!;
  const filter = stringOption(values, 'filter');
  const jsonFile = stringOption(values, 'json');
  // Fail fast, with exit code 2, on a URL that cannot work, before the suite starts.
  await (await connect(url)).close();
  const { runConformance, formatReport } = await import('@durable-sessions/conformance');
  ctx.err(`conformance: running against ${redact(url)}${filter ? ` (tests matching ${JSON.stringify(filter)})` : ''}`);
  const report = await runConformance(urlTarget(url, numberOption(values, 'time-scale')), {
    ...(filter !== undefined ? { filter: (test) => test.id.includes(filter) || (test.tags ?? []).includes(filter) } : {}),
    onResult(result) {
      const detail = result.status === 'skipped' ? ` (${explainSkip(result.reason)})` : result.status === 'failed' ? `: ${result.error?.split('\n')[0]}` : '';
      ctx.err(`  ${result.status.padEnd(7)} ${result.id} ${result.status === 'skipped' ? '' : `${result.durationMs} ms`}${detail}`);
    },
  });
  for (const result of report.results) result.reason = explainSkip(result.reason);
  if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  ctx.out(formatReport(report));
  return report.totals.failed > 0 ? 1 : 0;
}
