import { DurableSessionError } from './errors.js';
import type { EventData, EventInput, JsonValue, ProducerInfo, SessionEvent } from './types.js';

/** Event types starting with this are the library's own (`$end`, `$ack`). */
export const RESERVED_PREFIX = '$';
/** The durable end-of-stream event. */
export const END_TYPE = '$end';
/** An agent's acknowledgement of a control message. */
export const ACK_TYPE = '$ack';

const MAX_TYPE_LENGTH = 256;
const MAX_DEPTH = 64;

/** The compact shape events are stored in (one JSON string per event, identical on every backend). */
interface StoredRecord {
  /** type */
  t: string;
  /** JSON data (absent when `b` is set) */
  d?: JsonValue;
  /** bytes, base64 */
  b?: string;
  /** headers */
  h?: Record<string, string>;
  /** timestamp */
  s: number;
  /** clientId */
  c?: string;
  /** connectionId */
  n: string;
  /** [producerId, epoch] */
  p?: [string, number];
}

/**
 * The end of a stored record that depends only on who writes it (`n`, `c`, `p`): the same for every event of one
 * append or one writer, so it is built once there and not once per event.
 */
export function producerSuffix(producer: ProducerInfo): string {
  let suffix = `,"n":${JSON.stringify(producer.connectionId)}`;
  if (producer.clientId !== undefined) suffix += `,"c":${JSON.stringify(producer.clientId)}`;
  if (producer.producerId !== undefined) suffix += `,"p":${JSON.stringify([producer.producerId, producer.epoch ?? 0])}`;
  return `${suffix}}`;
}

/**
 * Checks an event and encodes it to the stored string. Throws `INVALID_EVENT` for malformed events; reserved
 * types pass only when `allowReserved` (the core's own `$end` and `$ack`). `suffix` is `producerSuffix(producer)`,
 * passed by callers that encode many events for one producer.
 *
 * The record is assembled as text around `JSON.stringify(data)` rather than stringified as one object: the same
 * JSON (keys in another order, which no reader depends on beyond `t` first), at about half the cost per event.
 */
export function encodeEvent(event: EventInput, producer: ProducerInfo, allowReserved = false, suffix = producerSuffix(producer)): string {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new DurableSessionError('INVALID_EVENT', 'An event must be an object with a `type`.');
  }
  const { type, data = null, headers } = event;
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH) {
    throw new DurableSessionError('INVALID_EVENT', `Event type must be a string of 1–${MAX_TYPE_LENGTH} characters.`);
  }
  if (!allowReserved && type.startsWith(RESERVED_PREFIX)) {
    throw new DurableSessionError('INVALID_EVENT', `Event type ${JSON.stringify(type)} is reserved: types starting with "$" belong to the library.`);
  }
  let body: string;
  if (data instanceof Uint8Array) {
    body = `,"b":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}"`;
  } else {
    assertJson(data, 0);
    body = `,"d":${JSON.stringify(data)}`;
  }
  if (headers !== undefined) {
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
      throw new DurableSessionError('INVALID_EVENT', 'Event headers must be an object of strings.');
    }
    let any = false;
    for (const key in headers) {
      if (!Object.hasOwn(headers, key)) continue;
      if (typeof headers[key] !== 'string') {
        throw new DurableSessionError('INVALID_EVENT', `Event header ${JSON.stringify(key)} must be a string.`);
      }
      any = true;
    }
    if (any) body += `,"h":${JSON.stringify(headers)}`;
  }
  // `t` stays first: `isEndPayload` recognises the end record by its opening bytes.
  return `{"t":${JSON.stringify(type)},"s":${Date.now()}${body}${suffix}`;
}

/** Decodes a stored string back into an event at `offset`. */
export function decodeEvent(payload: string, offset: string, sessionId: string): SessionEvent {
  let record: unknown;
  try {
    record = JSON.parse(payload);
  } catch (cause) {
    throw new DurableSessionError('INTERNAL', `Stored event at ${offset} is not valid JSON.`, { cause });
  }
  // Same check as the page decoder's, so a page decodes (and fails) alike whichever path it takes.
  return decodeRecord(record, offset, sessionId);
}

/**
 * Parses many stored strings with one `JSON.parse` of their concatenation (a replayed page): one call instead of
 * one per event, which is most of what decoding a page costs. Returns undefined when that does not yield exactly
 * one record per payload (a corrupt payload); the caller then decodes one by one, which names the bad offset.
 */
export function parseRecords(payloads: readonly string[]): readonly unknown[] | undefined {
  // Every stored record is one JSON object: a payload that is not `{…}` is corrupt (and could offset a neighbour's
  // extra comma, keeping the count right), so it sends the page down the careful path.
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i]!;
    if (payload.charCodeAt(0) !== 123 || payload.charCodeAt(payload.length - 1) !== 125) return undefined;
  }
  try {
    const records: unknown = JSON.parse(`[${payloads.join(',')}]`);
    return Array.isArray(records) && records.length === payloads.length ? records : undefined;
  } catch {
    return undefined;
  }
}

/** {@link parseRecords} for payloads already joined as one JSON array text; undefined unless it holds `count` items. */
export function parseRecordText(text: string, count: number): readonly unknown[] | undefined {
  try {
    const records: unknown = JSON.parse(text);
    return Array.isArray(records) && records.length === count ? records : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a record returned by {@link parseRecords} into an event at `offset`. */
export function decodeRecord(record: unknown, offset: string, sessionId: string): SessionEvent {
  if (record === null || typeof record !== 'object' || typeof (record as StoredRecord).t !== 'string') {
    throw new DurableSessionError('INTERNAL', `Stored event at ${offset} is not an event record.`);
  }
  return eventOf(record as StoredRecord, offset, sessionId);
}

/** True when a parsed record is the end-of-stream record. */
export function isEndRecord(record: unknown): boolean {
  return (record as StoredRecord).t === END_TYPE;
}

function eventOf(record: StoredRecord, offset: string, sessionId: string): SessionEvent {
  const p = record.p;
  // One object literal per shape (no properties added later), so every event of a page shares a hidden class.
  const producer: ProducerInfo = p ? { clientId: record.c, connectionId: record.n, producerId: p[0], epoch: p[1] } : { clientId: record.c, connectionId: record.n };
  const data: EventData = record.b !== undefined ? new Uint8Array(Buffer.from(record.b, 'base64')) : (record.d ?? null);
  return { offset, sessionId, type: record.t, data, headers: record.h ?? {}, timestamp: record.s, producer };
}

/** True when a stored payload is an end-of-stream record, without decoding the data. */
export function isEndPayload(payload: string): boolean {
  return payload.startsWith('{"t":"$end",');
}

/** The UTF-8 size of an encoded event, checked against the backend's limit. */
export function assertPayloadSize(encoded: string, maxBytes: number, backend: string): void {
  // Most events are far below the limit: skip the exact count when even 3 bytes per UTF-16 unit would fit.
  if (encoded.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(encoded, 'utf8');
  if (bytes > maxBytes) {
    throw new DurableSessionError('PAYLOAD_TOO_LARGE', `Event is ${bytes} bytes encoded; the ${backend} backend accepts at most ${maxBytes}.`, {
      details: { bytes, maxBytes },
      backend,
    });
  }
}

function assertJson(value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new DurableSessionError('INVALID_EVENT', `Event data nests deeper than ${MAX_DEPTH} levels.`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new DurableSessionError('INVALID_EVENT', `Event data contains ${value}, which JSON cannot carry.`);
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        for (const item of value) assertJson(item, depth + 1);
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new DurableSessionError('INVALID_EVENT', `Event data contains a ${proto?.constructor?.name ?? 'non-plain'} object; only JSON values and Uint8Array are allowed.`);
      }
      for (const item of Object.values(value)) {
        if (item !== undefined) assertJson(item, depth + 1);
      }
      return;
    }
    default:
      throw new DurableSessionError('INVALID_EVENT', `Event data contains a ${typeof value}, which JSON cannot carry.`);
  }
}
