import { DurableSessionError } from './errors.js';

/** Longest accepted session id, in UTF-8 bytes. Keeps every encoded key under 350 characters. */
export const MAX_SESSION_ID_BYTES = 256;

// Ids of this shape are already safe as a Redis key part, NATS subject token, Kafka key, Ably channel name and
// file name, so they pass unchanged; they can never start with `_`, which keeps the encoding injective.
const PLAIN_ID = /^[A-Za-z0-9-][A-Za-z0-9_-]{0,63}$/;
// C0 controls and DEL: invisible, and newline in particular breaks line-based protocols (SSE, Upstash subscribe).
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Checks a session id and throws `INVALID_SESSION_ID` when it cannot be used: not a string, empty, longer than
 * 256 UTF-8 bytes, with control characters, or with unpaired surrogates. Anything else (spaces, `*`, `>`, `.`,
 * `/`, `..`, emoji) is a valid id, made safe by {@link encodeSessionKey}.
 */
export function validateSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new DurableSessionError('INVALID_SESSION_ID', `Session id must be a non-empty string, got ${describe(id)}.`);
  }
  if (CONTROL_CHARS.test(id)) {
    throw new DurableSessionError('INVALID_SESSION_ID', `Session id ${JSON.stringify(id)} contains control characters.`);
  }
  if (!id.isWellFormed()) {
    throw new DurableSessionError('INVALID_SESSION_ID', 'Session id contains unpaired surrogates (not well-formed Unicode).');
  }
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_SESSION_ID_BYTES) {
    throw new DurableSessionError(
      'INVALID_SESSION_ID',
      `Session id is ${bytes} bytes long; the limit is ${MAX_SESSION_ID_BYTES} UTF-8 bytes.`,
      { details: { bytes, maxBytes: MAX_SESSION_ID_BYTES } },
    );
  }
}

/**
 * Encodes a validated session id into the one key every adapter uses: `[A-Za-z0-9_-]+`, injective, never a
 * wildcard, separator or path segment. Plain ids pass unchanged; others become `_` + base64url(UTF-8).
 */
export function encodeSessionKey(id: string): string {
  return PLAIN_ID.test(id) ? id : `_${Buffer.from(id, 'utf8').toString('base64url')}`;
}

/** Reverses {@link encodeSessionKey}. */
export function decodeSessionKey(key: string): string {
  return key.startsWith('_') ? Buffer.from(key.slice(1), 'base64url').toString('utf8') : key;
}

function describe(value: unknown): string {
  if (value === '') return 'an empty string';
  return value === null ? 'null' : typeof value;
}
