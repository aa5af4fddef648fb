import { isDurableSessionError, type SessionEvent } from '@durable-sessions/core';
import { UsageError } from './args.js';

/**
 * Where a command writes and how it learns about Ctrl-C. The binary wires it to the process; tests run commands
 * in-process with their own.
 */
export interface CliContext {
  /** Writes one line (a newline is added) to standard output: results only. */
  out(line: string): void;
  /** Writes one line to standard error: progress, logs and errors. */
  err(line: string): void;
  /** Calls `handler` on SIGINT/SIGTERM; returns a function that removes it. */
  onInterrupt(handler: (signal: string) => void): () => void;
}

/** The context of the real binary: process streams and signals. */
export const processContext: CliContext = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  onInterrupt(handler) {
    const listener = (signal: NodeJS.Signals) => handler(signal);
    process.on('SIGINT', listener);
    process.on('SIGTERM', listener);
    return () => {
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    };
  },
};

/** Error codes that mean the input (URL, id, event, offset) is wrong rather than the backend failing. */
const INPUT_CODES = ['CONFIG_INVALID', 'INVALID_SESSION_ID', 'INVALID_EVENT', 'INVALID_OFFSET', 'PAYLOAD_TOO_LARGE'] as const;

/**
 * Prints an error the way users should see it (`CODE: message`) and returns the exit code: 2 for usage and
 * input mistakes, 1 for everything else.
 */
export function reportError(ctx: CliContext, err: unknown): number {
  if (err instanceof UsageError) {
    ctx.err(`error: ${err.message}`);
    return 2;
  }
  if (isDurableSessionError(err)) {
    ctx.err(`error: ${err.code}: ${err.message}`);
    return isDurableSessionError(err, ...INPUT_CODES) ? 2 : 1;
  }
  ctx.err(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
}

/** One event as a single JSON line; byte payloads become `{"$base64": "…"}` since JSON has no bytes. */
export function eventLine(event: SessionEvent): string {
  const data = event.data instanceof Uint8Array ? { $base64: Buffer.from(event.data).toString('base64') } : event.data;
  return JSON.stringify({ ...event, data });
}

/** How long a command waits for a store to close before it exits anyway (an unreachable backend must not hang it). */
export const CLOSE_TIMEOUT_MS = 5_000;

/** Closes a store, giving up (with a note on stderr) after {@link CLOSE_TIMEOUT_MS}. */
export async function closeStore(ctx: CliContext, store: { close(): Promise<void> }): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)));
  try {
    const outcome = await Promise.race([store.close().then(() => 'closed' as const, () => 'closed' as const), gaveUp]);
    if (outcome === 'timeout') ctx.err(`warning: the backend connection did not close within ${CLOSE_TIMEOUT_MS} ms; exiting anyway`);
  } finally {
    clearTimeout(timer);
  }
}
