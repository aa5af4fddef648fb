import { describe, expect, it } from 'vitest';
import { decodeSessionKey, encodeSessionKey, validateSessionId } from '../src/session-id.js';
import { DurableSessionError } from '../src/errors.js';

const SAFE_KEY = /^[A-Za-z0-9_-]+$/;

describe('session ids', () => {
  it.each(['chat-1', 'A', 'x'.repeat(64), 'abc_def'])('passes plain id %s unchanged', (id) => {
    validateSessionId(id);
    expect(encodeSessionKey(id)).toBe(id);
  });

  it.each(['*', '>', '.', 'a.b', 'a.*', 'a b', '../etc/passwd', '{tag}', 'ds:{x}:events', '_leading', 'émoji 🎉', 'x'.repeat(65), 'a/b', 'ünïcode'])(
    'encodes hostile id %j into a safe, reversible key',
    (id) => {
      validateSessionId(id);
      const key = encodeSessionKey(id);
      expect(key).toMatch(SAFE_KEY);
      expect(key.startsWith('_')).toBe(true);
      expect(decodeSessionKey(key)).toBe(id);
    },
  );

  it('never maps two ids to one key', () => {
    const ids = ['a', 'A', '_a', '_YQ', 'a.b', 'a_b', 'a-b', 'a b', 'YQ', '_', '-', 'x'.repeat(64), 'x'.repeat(65)];
    const keys = new Set(ids.map(encodeSessionKey));
    expect(keys.size).toBe(ids.length);
  });

  it('accepts a 256-byte id and keeps its key under 350 characters', () => {
    const id = 'é'.repeat(128);
    validateSessionId(id);
    expect(encodeSessionKey(id).length).toBeLessThan(350);
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(257)],
    ['too long in bytes', 'é'.repeat(129)],
    ['newline', 'a\nb'],
    ['NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['lone surrogate', 'a\ud800b'],
  ])('rejects %s with INVALID_SESSION_ID', (_name, id) => {
    expect(() => validateSessionId(id)).toThrowError(expect.objectContaining({ code: 'INVALID_SESSION_ID' }));
  });

  it.each([undefined, null, 42, {}, []])('rejects non-string %j', (id) => {
    try {
      validateSessionId(id);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DurableSessionError);
      expect((err as DurableSessionError).code).toBe('INVALID_SESSION_ID');
    }
  });
});
