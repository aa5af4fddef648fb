import { GatewayError } from '../errors.js';

/**
 * Durable Streams offsets over session offsets: `00_<core offset>`. The core offset is already sortable within a
 * session, forks included (a fork's inherited events keep their source offsets and its own sort after them, C21),
 * so a stream's DS offsets are one constant prefix away from its session's. The prefix makes every offset sort
 * above the reserved zero offset, as the protocol requires (`_` sorts above every digit).
 */
export const ZERO_OFFSET = '0000000000000000_0000000000000000';

/** A parsed DS offset: a core offset of the stream's session, or the start of the stream. */
export type DsPosition = { start: true } | { start: false; offset: string };

const PREFIX = '00_';
// The core validates the offset itself (session tag, fork point, end of the log); this only bounds its shape.
const FORMAT = /^00_([0-9A-Za-z_.:~-]{1,4096})$/;

/** Formats the position after the session event at core offset `offset`. */
export function formatDsOffset(offset: string): string {
  return `${PREFIX}${offset}`;
}

/** The core position of a DS position: `'start'` or an offset. */
export function corePosition(position: DsPosition): string {
  return position.start ? 'start' : position.offset;
}

/** Parses `-1`, the zero offset or a gateway offset; anything else is a 400. `now` is handled by callers. */
export function parseDsOffset(value: string): DsPosition {
  if (value === '-1' || value === ZERO_OFFSET) return { start: true };
  const match = FORMAT.exec(value);
  if (!match) throw new GatewayError('INVALID_OFFSET', 'Malformed offset.');
  return { start: false, offset: match[1]! };
}
