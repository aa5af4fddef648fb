import { decode, encode } from '@msgpack/msgpack';

/** Realtime protocol actions (Ably protocol v6), by the numbers the SDK sends. */
export const Action = {
  HEARTBEAT: 0,
  ACK: 1,
  NACK: 2,
  CONNECT: 3,
  CONNECTED: 4,
  DISCONNECT: 5,
  DISCONNECTED: 6,
  CLOSE: 7,
  CLOSED: 8,
  ERROR: 9,
  ATTACH: 10,
  ATTACHED: 11,
  DETACH: 12,
  DETACHED: 13,
  PRESENCE: 14,
  MESSAGE: 15,
  SYNC: 16,
  AUTH: 17,
} as const;

/** ATTACHED flag bits (TR3). */
export const Flag = {
  HAS_PRESENCE: 1 << 0,
  HAS_BACKLOG: 1 << 1,
  RESUMED: 1 << 2,
  PRESENCE: 1 << 16,
  PUBLISH: 1 << 17,
  SUBSCRIBE: 1 << 18,
  PRESENCE_SUBSCRIBE: 1 << 19,
} as const;

/** The modes granted when an ATTACH asks for none: presence, publish, subscribe, presence_subscribe (983040). */
export const DEFAULT_MODES = Flag.PRESENCE | Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE;
const MODE_MASK = 0xff << 16;

/** Keeps only the mode bits of a client's ATTACH flags (falling back to the default modes). */
export function grantedModes(requested: number | undefined): number {
  const modes = (requested ?? 0) & MODE_MASK;
  return modes === 0 ? DEFAULT_MODES : modes;
}

/** Presence actions on the wire (TP2). */
export const PresenceAction = { ABSENT: 0, PRESENT: 1, ENTER: 2, LEAVE: 3, UPDATE: 4 } as const;

/** An Ably error body, as frames and REST responses carry it. */
export interface WireError {
  code: number;
  statusCode: number;
  message: string;
  href?: string;
}

/** Builds an {@link WireError} with Ably's help link. */
export function wireError(code: number, statusCode: number, message: string): WireError {
  return { code, statusCode, message, href: `https://help.ably.io/error/${code}` };
}

/** A protocol message, loosely typed: the emulator reads only the fields it needs. */
export type Frame = Record<string, unknown> & { action: number };

/** The wire format a client chose (`format=json|msgpack`). */
export type Format = 'json' | 'msgpack';

/** Decodes a WebSocket frame or an HTTP body in `format`. */
export function decodeWire(data: Buffer | string, format: Format): unknown {
  if (format === 'msgpack') return decode(typeof data === 'string' ? Buffer.from(data) : data);
  return JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
}

/** Encodes a frame or a REST body in `format`, converting binary `data` the way the format carries it. */
export function encodeWire(value: unknown, format: Format): Buffer | string {
  if (format === 'msgpack') return Buffer.from(encode(value, { ignoreUndefined: true }));
  return JSON.stringify(value, (key, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

/**
 * A message or presence payload as stored: binary data is kept as bytes whatever format it arrived in, so a
 * JSON publisher and a msgpack subscriber see the same message (as on Ably).
 */
export interface Payload {
  data?: unknown;
  encoding?: string;
}

/** Normalises an incoming payload: base64 on a JSON transport becomes bytes; msgpack bin becomes a Buffer. */
export function normaliseIncoming<T extends Payload>(item: T): T {
  const out = { ...item };
  if (out.data instanceof Uint8Array) {
    out.data = Buffer.from(out.data);
  } else if (typeof out.data === 'string' && typeof out.encoding === 'string' && /(^|\/)base64$/.test(out.encoding)) {
    out.data = Buffer.from(out.data, 'base64');
    const rest = out.encoding.replace(/\/?base64$/, '');
    if (rest) out.encoding = rest;
    else delete out.encoding;
  }
  return out;
}

/** Prepares a stored payload for `format`: bytes become base64 text (with the encoding step) on JSON. */
export function outgoing<T extends Payload>(item: T, format: Format): T {
  if (format === 'json' && item.data instanceof Uint8Array) {
    return { ...item, data: Buffer.from(item.data).toString('base64'), encoding: item.encoding ? `${item.encoding}/base64` : 'base64' };
  }
  return item;
}

/** The size Ably counts against `maxMessageSize`: name, data, client id and extras (TO3l8). */
export function messageSize(message: { name?: unknown; data?: unknown; clientId?: unknown; extras?: unknown }): number {
  const text = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  let size = text(message.name) + text(message.clientId);
  if (message.data instanceof Uint8Array) size += message.data.byteLength;
  else if (typeof message.data === 'string') size += Buffer.byteLength(message.data, 'utf8');
  else if (message.data !== undefined && message.data !== null) size += Buffer.byteLength(JSON.stringify(message.data), 'utf8');
  if (message.extras !== undefined && message.extras !== null) size += Buffer.byteLength(JSON.stringify(message.extras), 'utf8');
  return size;
}
