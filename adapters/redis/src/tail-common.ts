import { DurableSessionError, type BackendEntry } from '@durable-sessions/core';
import { OffsetEncoder } from './keys.js';

/**
 * How long a live tail keeps retrying a failing connection by itself before it reports BACKEND_UNAVAILABLE, after
 * which the core takes over (re-reading from the last delivered offset, with its own reconnect timeout). Long enough
 * to ride out a restarted redis-server or a dropped socket without the subscriber noticing.
 */
export const TAIL_GRACE_MS = 10_000;
/** Entries fetched per stream per round: bounds one delivery while a follower catches up. */
export const TAIL_BATCH = 1_000;

/** Turns XRANGE/XREAD entries (`[id, [field, value, …]]`) into backend entries. */
export function toEntries(raw: unknown): BackendEntry[] {
  if (!Array.isArray(raw)) return [];
  const encoder = new OffsetEncoder();
  const entries: BackendEntry[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i] as [unknown, unknown];
    const id = item[0];
    const fields = item[1];
    // Hot path of replay: our entries are exactly `[id, ['d', payload]]` with string ids (RESP2).
    const payload = Array.isArray(fields) && fields.length === 2 && fields[0] === 'd' && typeof fields[1] === 'string' ? fields[1] : payloadOf(fields);
    entries[i] = { offset: encoder.encode(typeof id === 'string' ? id : String(id)), payload };
  }
  return entries;
}

/** The core's page-text hook (see the core's `decodeEntries`): a registered symbol, so no import is needed. */
const PAGE_TEXT = Symbol.for('durable-sessions.pageText');
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = Buffer.from(',');
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/** An entry whose payload stays bytes until something asks for it (only the careful decoding path does). */
class ByteEntry implements BackendEntry {
  private text: string | undefined;
  constructor(
    readonly offset: string,
    private readonly bytes: Buffer,
  ) {}

  get payload(): string {
    return (this.text ??= this.bytes.toString('utf8'));
  }
}

/**
 * {@link toEntries} for an XRANGE reply whose bulk strings are Buffers: one UTF-8 decode for the whole page (the
 * payloads joined as a JSON array, which the core parses at once) instead of one string per payload. Replies of
 * any other shape (a client that ignored the type mapping) take {@link toEntries}.
 */
export function toPage(raw: unknown): BackendEntry[] {
  if (!Array.isArray(raw)) return [];
  const encoder = new OffsetEncoder();
  const entries: BackendEntry[] = new Array(raw.length);
  const parts: Buffer[] = new Array(raw.length * 2 + 1);
  parts[0] = OPEN;
  let objects = true;
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i] as [unknown, unknown];
    const id = item[0];
    const fields = item[1];
    if (!Buffer.isBuffer(id) || !Array.isArray(fields) || fields.length !== 2 || !Buffer.isBuffer(fields[1]) || !isField(fields[0])) {
      return toEntries(raw.map(stringify));
    }
    const bytes = fields[1];
    if (bytes.length < 2 || bytes[0] !== OPEN_BRACE || bytes[bytes.length - 1] !== CLOSE_BRACE) objects = false;
    entries[i] = new ByteEntry(encoder.encode(id.toString('latin1')), bytes);
    parts[i * 2 + 1] = bytes;
    parts[i * 2 + 2] = i === raw.length - 1 ? CLOSE : COMMA;
  }
  if (raw.length === 0) return entries;
  if (objects) Object.defineProperty(entries, PAGE_TEXT, { value: () => Buffer.concat(parts).toString('utf8') });
  return entries;
}

function isField(name: unknown): boolean {
  return Buffer.isBuffer(name) ? name.length === 1 && name[0] === 0x64 : name === 'd';
}

/** An XRANGE item with Buffers as strings, for {@link toEntries}. */
function stringify(item: unknown): unknown {
  if (Buffer.isBuffer(item)) return item.toString('utf8');
  return Array.isArray(item) ? item.map(stringify) : item;
}

function payloadOf(fields: unknown): string {
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) if (String(fields[i]) === 'd') return String(fields[i + 1]);
    return '';
  }
  if (fields && typeof fields === 'object') return String((fields as Record<string, unknown>).d ?? '');
  return '';
}

/** The index of the first entry strictly after `cursor`. */
export function indexAfter(entries: readonly BackendEntry[], cursor: string | null): number {
  if (cursor === null) return 0;
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.offset <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What a tail reports once Redis stayed unreachable past the grace period: retryable, so the core resubscribes. */
export function unavailable(backend: string, cause: unknown): DurableSessionError {
  return new DurableSessionError('BACKEND_UNAVAILABLE', `Live tail lost Redis for more than ${TAIL_GRACE_MS} ms.`, { backend, cause });
}
