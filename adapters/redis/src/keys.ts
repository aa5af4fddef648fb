import { DurableSessionError, type LogRef, type PresenceRef } from '@durable-sessions/core';

/**
 * Key layout. Every key of one session carries the hash tag `{<key>}`, so on Redis Cluster a session lives in one
 * slot and the multi-key Lua scripts never fail with CROSSSLOT.
 *
 * - `ds:{K}:events` / `ds:{K}:control`: the two logs (Redis Streams, one field `d` per entry)
 * - `ds:{K}:events:meta` / `ds:{K}:control:meta`: hash with `e` (ended: id of the end record), `t` (trim watermark:
 *   id of the newest entry removed by retention) and `p:<producerId>` (idempotent producer state)
 * - `ds:{K}:presence` (hash connectionId → payload) and `ds:{K}:presence:exp` (sorted set scored by expiresAt)
 *
 * Wake-up notifications are published on {@link NOTIFY_SHARDS} fixed channels `ds:n:<0-f>` with the message
 * `e:<K>` / `c:<K>` / `p:<K>`, so a process listens on at most 16 channels whatever the number of sessions.
 */
export interface LogKeys {
  readonly stream: string;
  readonly meta: string;
  /** The notification channel and message for this log. */
  readonly channel: string;
  readonly message: string;
}

/** Fixed so that writers and readers always agree; changing it would silently break live tails over REST. */
export const NOTIFY_SHARDS = 16;

/** The keys of one log. */
export function logKeys(log: LogRef, prefix = 'ds'): LogKeys {
  const stream = `${prefix}:{${log.key}}:${log.kind}`;
  return { stream, meta: `${stream}:meta`, channel: notifyChannel(log.key, prefix), message: `${log.kind === 'events' ? 'e' : 'c'}:${log.key}` };
}

/** The keys of one presence set. */
export function presenceKeys(ref: PresenceRef, prefix = 'ds') {
  const hash = `${prefix}:{${ref.key}}:presence`;
  return { hash, expiry: `${hash}:exp`, channel: notifyChannel(ref.key, prefix), message: `p:${ref.key}` };
}

/** The notification channel of a session key: `ds:n:<hex digit>`. Channel names stay URL-safe for Upstash SSE. */
export function notifyChannel(key: string, prefix = 'ds'): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${prefix}:n:${(hash % NOTIFY_SHARDS).toString(16)}`;
}

const MS_WIDTH = 15;
const SEQ_WIDTH = 10;
const RAW = /^(\d{15})\.(\d{10})$/;

/**
 * A stream id `ms-seq` as a raw offset `<ms:15 digits>.<seq:10 digits>`: fixed width, so string order is id order.
 * 15 digits of milliseconds last until the year 33658; 10 digits of sequence allow 10^10 entries in one millisecond.
 */
export function idToOffset(id: string): string {
  // Hot path of every replayed entry: a cheap split, with the full check only on what looks wrong.
  const dash = id.indexOf('-');
  if (dash > 0 && dash <= MS_WIDTH && id.length - dash - 1 <= SEQ_WIDTH && id.length - dash > 1) {
    return id.slice(0, dash).padStart(MS_WIDTH, '0') + '.' + id.slice(dash + 1).padStart(SEQ_WIDTH, '0');
  }
  throw new DurableSessionError('INTERNAL', `Stream id ${JSON.stringify(id)} does not fit the offset encoding.`, { backend: 'redis' });
}

/** Zeros that pad a sequence number of `n` digits (the index) to {@link SEQ_WIDTH}: no padding work per entry. */
const SEQ_PAD = Array.from({ length: SEQ_WIDTH + 1 }, (_, n) => '0'.repeat(SEQ_WIDTH - n));

/**
 * {@link idToOffset} for a run of ids, as in a replayed page: entries appended together share their millisecond,
 * so its padded form is reused while it repeats, and only the sequence part is built per entry. Same output and
 * same failures as {@link idToOffset}.
 */
export class OffsetEncoder {
  /** The previous id's `ms-` prefix, and its encoded form `<ms, 15 digits>.`. */
  private ms = '';
  private prefix = '';

  encode(id: string): string {
    const dash = id.indexOf('-');
    const seqLength = id.length - dash - 1;
    if (dash <= 0 || dash > MS_WIDTH || seqLength < 1 || seqLength > SEQ_WIDTH) return idToOffset(id);
    if (dash + 1 !== this.ms.length || !id.startsWith(this.ms)) {
      this.ms = id.slice(0, dash + 1);
      this.prefix = id.slice(0, dash).padStart(MS_WIDTH, '0') + '.';
    }
    return this.prefix + SEQ_PAD[seqLength] + id.slice(dash + 1);
  }
}

/** The stream id of a raw offset; `INVALID_OFFSET` when it is not one of ours. */
export function offsetToId(offset: string): string {
  const match = RAW.exec(offset);
  if (!match) throw new DurableSessionError('INVALID_OFFSET', `Offset ${JSON.stringify(offset)} is not a Redis stream offset.`, { backend: 'redis' });
  return `${stripZeros(match[1]!)}-${stripZeros(match[2]!)}`;
}

function stripZeros(digits: string): string {
  const stripped = digits.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}
