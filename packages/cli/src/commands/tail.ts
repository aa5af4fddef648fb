import { connect, type SessionStore } from '@durable-sessions/core';
import { parseCommand, stringOption } from '../args.js';
import { closeStore, eventLine, type CliContext } from '../output.js';
import { URL_HELP } from './session-url.js';

/** Help of `durable-sessions tail`. */
export const TAIL_USAGE = `Usage: durable-sessions tail <session> [--url URL] [--from start|now|OFFSET]

Prints the session's events, one JSON object per line: history first, then live events as they are appended.
Stops after the end-of-stream event ($end, printed too) or on Ctrl-C.

  --from POS    start|now|an offset (strictly after it) (default: start)
${URL_HELP}`;

/** Options of {@link tailSession}. */
export interface TailOptions {
  /** The session id. */
  session: string;
  /** Where to start. @default 'start' */
  from?: string;
  /** Stops the tail (as Ctrl-C does). */
  signal?: AbortSignal;
}

/**
 * Prints every event of a session from a position, one JSON line each, until `$end` or `signal`. Resolves with
 * the number of events printed; rejects with the subscription's error.
 */
export async function tailSession(store: SessionStore, options: TailOptions, ctx: CliContext): Promise<number> {
  const session = store.session(options.session);
  let printed = 0;
  try {
    for await (const event of session.events({ from: options.from ?? 'start', ...(options.signal ? { signal: options.signal } : {}) })) {
      ctx.out(eventLine(event));
      printed++;
    }
  } finally {
    await session.close();
  }
  return printed;
}

/** `durable-sessions tail <session>`: follows a session until `$end` or Ctrl-C (both exit 0). */
export async function tailCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(args, { url: { type: 'string' }, from: { type: 'string' } }, { min: 1, max: 1 });
  if (values.help) {
    ctx.out(TAIL_USAGE);
    return 0;
  }
  const store = await connect(stringOption(values, 'url'));
  const ac = new AbortController();
  const dispose = ctx.onInterrupt(() => ac.abort());
  try {
    await tailSession(store, { session: positionals[0]!, from: stringOption(values, 'from') ?? 'start', signal: ac.signal }, ctx);
    return 0;
  } finally {
    dispose();
    await closeStore(ctx, store);
  }
}
