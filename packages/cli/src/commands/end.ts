import { connect } from '@durable-sessions/core';
import { parseCommand, stringOption } from '../args.js';
import { closeStore, type CliContext } from '../output.js';
import { URL_HELP } from './session-url.js';

/** Help of `durable-sessions end`. */
export const END_USAGE = `Usage: durable-sessions end <session> [--url URL] [--reason REASON]

Appends the durable end-of-stream event ($end) and prints its offset; tails of the session then stop.

  --reason R    why the stream ended (complete, cancelled, error, …)
${URL_HELP}`;

/** `durable-sessions end <session>`: ends a session, prints the `$end` offset. */
export async function endCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(args, { url: { type: 'string' }, reason: { type: 'string' } }, { min: 1, max: 1 });
  if (values.help) {
    ctx.out(END_USAGE);
    return 0;
  }
  const store = await connect(stringOption(values, 'url'));
  try {
    const reason = stringOption(values, 'reason');
    ctx.out(await store.session(positionals[0]!).end(reason === undefined ? {} : { reason }));
    return 0;
  } finally {
    await closeStore(ctx, store);
  }
}
