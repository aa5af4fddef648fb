import { GatewayError } from '../errors.js';

/**
 * Durable Streams offsets over session offsets. A stream is a chain of segments (a fork reads its ancestors up to
 * the fork point, then its own session), so a DS offset is `<segment index, 2 digits>_<core offset>`: the index
 * orders segments, the core offset (already sortable within its session) orders events inside one. The reserved
 * zero offset sorts below every other offset, as the protocol requires.
 */
export const ZERO_OFFSET = '0000000000000000_0000000000000000';

/** A parsed DS offset: a segment index and a core offset in it, or the start of the stream. */
export type DsPosition = { start: true } | { start: false; segment: number; offset: string };

const FORMAT = /^(\d\d)_([0-9A-Za-z_.:]{1,128}-[0-9a-z]{7})$/;

/** Formats the position after the event at `offset` of segment `segment`. */
export function formatDsOffset(segment: number, offset: string): string {
  return `${String(segment).padStart(2, '0')}_${offset}`;
}

/** Parses `-1`, the zero offset or a gateway offset; anything else is a 400. `now` is handled by callers. */
export function parseDsOffset(value: string): DsPosition {
  if (value === '-1' || value === ZERO_OFFSET) return { start: true };
  const match = FORMAT.exec(value);
  if (!match) throw new GatewayError('INVALID_OFFSET', 'Malformed offset.');
  return { start: false, segment: Number(match[1]), offset: match[2]! };
}
