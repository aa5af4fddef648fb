import type { LogKind } from './backend.js';
import { DurableSessionError } from './errors.js';

/** What an adapter's raw offset may contain. Every character sorts above the tag separator `-`. */
export const RAW_OFFSET = /^[0-9A-Za-z_.:]{1,128}$/;
const SEPARATOR = '-';
const TAG_WIDTH = 7;

/**
 * The per-log tag the core appends to raw offsets (`<raw>-<tag>`), so an offset from another session or from the
 * control log is recognised instead of silently resuming at a wrong position. Because `-` sorts below every
 * character a raw offset may hold, appending one constant suffix keeps string order within a log.
 */
export function offsetTag(sessionId: string, kind: LogKind): string {
  // FNV-1a, 32 bit: a cheap, stable fingerprint; collisions only weaken a sanity check, never correctness.
  let hash = 0x811c9dc5;
  const input = `${kind}\u0000${sessionId}`;
  for (let i = 0; i < input.length; i++) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36).padStart(TAG_WIDTH, '0');
}

/** Turns a raw adapter offset into the public offset of a log. */
export function formatOffset(raw: string, tag: string): string {
  return `${raw}${SEPARATOR}${tag}`;
}

/**
 * Turns a public offset back into the adapter's raw offset, or throws `INVALID_OFFSET` when it is malformed or
 * belongs to another session or log.
 */
export function parseOffset(offset: unknown, tag: string): string {
  if (typeof offset !== 'string') {
    throw new DurableSessionError('INVALID_OFFSET', `Offset must be a string, 'start' or 'now'; got ${typeof offset}.`);
  }
  const cut = offset.lastIndexOf(SEPARATOR);
  const raw = cut > 0 ? offset.slice(0, cut) : '';
  if (cut < 0 || !RAW_OFFSET.test(raw) || offset.length - cut - 1 !== TAG_WIDTH) {
    throw new DurableSessionError('INVALID_OFFSET', `Offset ${JSON.stringify(offset.slice(0, 200))} is malformed.`);
  }
  if (offset.slice(cut + 1) !== tag) {
    throw new DurableSessionError(
      'INVALID_OFFSET',
      `Offset ${JSON.stringify(offset)} belongs to another session or log.`,
      { details: { offset } },
    );
  }
  return raw;
}

/**
 * Zero-pads a non-negative integer to a fixed width, so numeric positions sort as strings. Adapters build their
 * raw offsets with it (`padNumber(42, 16)` → `0000000000000042`).
 */
export function padNumber(value: number | bigint, width: number): string {
  const text = value.toString();
  if (text.startsWith('-') || text.length > width) {
    throw new DurableSessionError('INTERNAL', `Cannot encode ${text} in ${width} digits.`);
  }
  return text.padStart(width, '0');
}
