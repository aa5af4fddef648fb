import { validateSessionId, type EventInput, type JsonValue, type ProducerStamp, type SessionEvent, type StartPosition } from '@durable-sessions/core';
import { GatewayError } from './errors.js';

/** Session ids under this prefix hold the gateway's Durable Streams metadata; clients never address them. */
export const RESERVED_SESSION_PREFIX = '~ds/';

/** An event as it travels to clients: bytes become base64 with `encoding: 'base64'`. */
export type WireEvent = Omit<SessionEvent, 'data'> & { data: JsonValue; encoding?: 'base64' };

/** Serialises an event for the wire. */
export function toWireEvent(event: SessionEvent): WireEvent {
  if (event.data instanceof Uint8Array) {
    return { ...event, data: Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength).toString('base64'), encoding: 'base64' };
  }
  return event as WireEvent;
}

/** Checks a session id from a client; the core validates the rest. */
export function sessionIdFrom(value: unknown): string {
  if (typeof value !== 'string') throw new GatewayError('INVALID_SESSION_ID', 'A session id (string) is required.');
  validateSessionId(value);
  if (value.startsWith(RESERVED_SESSION_PREFIX)) {
    throw new GatewayError('INVALID_SESSION_ID', `Session ids starting with "${RESERVED_SESSION_PREFIX}" are reserved by the gateway.`);
  }
  return value;
}

/** Parses one event a client wants to append. */
export function eventFrom(value: unknown): EventInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('INVALID_EVENT', 'An event must be an object with a `type`.');
  }
  const { type, data, headers, encoding } = value as Record<string, unknown>;
  const event: EventInput = { type: type as string };
  if (encoding === 'base64') {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
      throw new GatewayError('INVALID_EVENT', 'An event with encoding "base64" needs base64 string data.');
    }
    event.data = new Uint8Array(Buffer.from(data, 'base64'));
  } else if (encoding !== undefined) {
    throw new GatewayError('INVALID_EVENT', 'The only event encoding is "base64".');
  } else if (data !== undefined) {
    event.data = data as JsonValue;
  }
  if (headers !== undefined) event.headers = headers as Record<string, string>;
  return event;
}

/** Parses `events` (an array) or a single `event` from a request. */
export function eventsFrom(frame: Record<string, unknown>): { events: EventInput[]; single: boolean } {
  if (Array.isArray(frame.events)) {
    if (frame.events.length === 0) throw new GatewayError('INVALID_EVENT', '`events` must not be empty.');
    return { events: frame.events.map(eventFrom), single: false };
  }
  if (frame.event !== undefined) return { events: [eventFrom(frame.event)], single: true };
  throw new GatewayError('INVALID_FRAME', 'An append needs `events` (an array) or `event`.');
}

/** Parses an optional producer stamp. */
export function producerFrom(value: unknown): ProducerStamp | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new GatewayError('INVALID_ARGUMENT', '`producer` must be { id, epoch?, seq }.');
  const { id, epoch, seq } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof seq !== 'number' || (epoch !== undefined && typeof epoch !== 'number')) {
    throw new GatewayError('INVALID_ARGUMENT', '`producer` must be { id: string, epoch?: number, seq: number }.');
  }
  return epoch === undefined ? { id, seq } : { id, epoch, seq };
}

/** Parses a start position. */
export function positionFrom(value: unknown, fallback: StartPosition): StartPosition {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string' || value.length > 400) throw new GatewayError('INVALID_OFFSET', '`from` must be "start", "now" or an offset.');
  return value;
}
