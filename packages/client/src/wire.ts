import { DurableSessionError } from './errors.js';
import type { EventInput, SessionEvent } from './types.js';

/** An event as it travels: bytes as base64 with `encoding: 'base64'`. */
export type WireEvent = Omit<SessionEvent, 'data'> & { data: unknown; encoding?: 'base64' };

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const MAX_SESSION_ID_BYTES = 256;
const encoder = new TextEncoder();

/** The core's session id rules, checked before anything is sent, plus the gateway's reserved prefix. */
export function validateSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new DurableSessionError('INVALID_SESSION_ID', 'A session id must be a non-empty string.');
  if (CONTROL_CHARS.test(id)) throw new DurableSessionError('INVALID_SESSION_ID', `Session id ${JSON.stringify(id)} contains control characters.`);
  if (!id.isWellFormed()) throw new DurableSessionError('INVALID_SESSION_ID', 'Session id contains unpaired surrogates.');
  if (encoder.encode(id).byteLength > MAX_SESSION_ID_BYTES) throw new DurableSessionError('INVALID_SESSION_ID', `Session id is longer than ${MAX_SESSION_ID_BYTES} UTF-8 bytes.`);
  if (id.startsWith('~ds/')) throw new DurableSessionError('INVALID_SESSION_ID', 'Session ids starting with "~ds/" are reserved by the gateway.');
}

/** Serialises an event to append; bytes become base64. */
export function toWireInput(event: EventInput): Record<string, unknown> {
  if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
    throw new DurableSessionError('INVALID_EVENT', 'An event must be an object with a string `type`.');
  }
  const out: Record<string, unknown> = { type: event.type };
  if (event.data instanceof Uint8Array) {
    out.data = toBase64(event.data);
    out.encoding = 'base64';
  } else if (event.data !== undefined) out.data = event.data;
  if (event.headers !== undefined) out.headers = event.headers;
  return out;
}

/** Restores an event from the wire; base64 data becomes bytes again. */
export function fromWireEvent(event: WireEvent): SessionEvent {
  if (event.encoding === 'base64' && typeof event.data === 'string') {
    const { encoding: _encoding, ...rest } = event;
    return { ...rest, data: fromBase64(event.data) } as SessionEvent;
  }
  return event as SessionEvent;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The WebSocket URL of a gateway: `http(s)` becomes `ws(s)`, `/v1/ws` is appended unless present. */
export function socketUrl(base: string, connectionId: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new DurableSessionError('CONFIG_INVALID', `Not a URL: ${JSON.stringify(base)}.`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new DurableSessionError('CONFIG_INVALID', `The gateway URL must be http(s) or ws(s), got ${url.protocol}`);
  if (!url.pathname.endsWith('/v1/ws')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/ws`;
  url.searchParams.set('connectionId', connectionId);
  return url.toString();
}

/** A random id of `[A-Za-z0-9]`, from the platform's crypto (browsers and Node 20 both have it). */
export function randomId(length = 20): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}
