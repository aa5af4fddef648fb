import { connect, DurableSessionError, type JsonValue } from '@durable-sessions/core';
import { parseCommand, stringOption } from '../args.js';
import { closeStore, type CliContext } from '../output.js';
import { URL_HELP } from './session-url.js';

/** Help of `durable-sessions append`. */
export const APPEND_USAGE = `Usage: durable-sessions append <session> <json> [--url URL] [--type TYPE]

Appends one event whose data is <json> and prints its offset.

  --type TYPE   the event type (default: message)
${URL_HELP}`;

/** `durable-sessions append <session> <json>`: appends one event, prints its offset. */
export async function appendCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(args, { url: { type: 'string' }, type: { type: 'string' } }, { min: 2, max: 2 });
  if (values.help) {
    ctx.out(APPEND_USAGE);
    return 0;
  }
  const [sessionId, json] = positionals as [string, string];
  let data: JsonValue;
  try {
    data = JSON.parse(json) as JsonValue;
  } catch (cause) {
    throw new DurableSessionError('INVALID_EVENT', `The event data is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const store = await connect(stringOption(values, 'url'));
  try {
    const offset = await store.session(sessionId).append({ type: stringOption(values, 'type') ?? 'message', data });
    ctx.out(offset);
    return 0;
  } finally {
    await closeStore(ctx, store);
  }
}
