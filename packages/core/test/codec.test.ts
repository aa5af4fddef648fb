import { describe, expect, it } from 'vitest';
import { assertPayloadSize, decodeEvent, encodeEvent, isEndPayload } from '../src/codec.js';

const producer = { clientId: 'alice', connectionId: 'conn-1' };

describe('event codec', () => {
  it('round-trips JSON data, headers and producer identity', () => {
    const encoded = encodeEvent({ type: 'token', data: { text: 'héllo 🎉', n: [1, 2.5, null, true] }, headers: { run: 'r1' } }, { ...producer, producerId: 'p', epoch: 2 });
    const event = decodeEvent(encoded, 'off-1', 's');
    expect(event).toMatchObject({
      offset: 'off-1',
      sessionId: 's',
      type: 'token',
      data: { text: 'héllo 🎉', n: [1, 2.5, null, true] },
      headers: { run: 'r1' },
      producer: { clientId: 'alice', connectionId: 'conn-1', producerId: 'p', epoch: 2 },
    });
    expect(typeof event.timestamp).toBe('number');
  });

  it('round-trips every byte value exactly', () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const event = decodeEvent(encodeEvent({ type: 'blob', data: bytes }, producer), 'o', 's');
    expect(event.data).toBeInstanceOf(Uint8Array);
    expect([...(event.data as Uint8Array)]).toEqual([...bytes]);
  });

  it('round-trips a subarray view without leaking its neighbours', () => {
    const buffer = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const event = decodeEvent(encodeEvent({ type: 'blob', data: buffer.subarray(2, 5) }, producer), 'o', 's');
    expect([...(event.data as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it('defaults data to null and headers to an empty object', () => {
    const event = decodeEvent(encodeEvent({ type: 'ping' }, producer), 'o', 's');
    expect(event.data).toBeNull();
    expect(event.headers).toEqual({});
  });

  it.each([
    ['a reserved type', { type: '$end' }],
    ['an empty type', { type: '' }],
    ['a missing type', { data: 1 }],
    ['NaN', { type: 't', data: Number.NaN }],
    ['Infinity', { type: 't', data: { x: Number.POSITIVE_INFINITY } }],
    ['a function', { type: 't', data: { f: () => 1 } }],
    ['a bigint', { type: 't', data: 1n }],
    ['a Date', { type: 't', data: new Date() }],
    ['a Map', { type: 't', data: new Map() }],
    ['a non-string header', { type: 't', headers: { a: 1 } }],
  ])('rejects %s with INVALID_EVENT', (_name, event) => {
    expect(() => encodeEvent(event as never, producer)).toThrowError(expect.objectContaining({ code: 'INVALID_EVENT' }));
  });

  it('rejects data nested deeper than 64 levels', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => encodeEvent({ type: 't', data: deep as never }, producer)).toThrowError(expect.objectContaining({ code: 'INVALID_EVENT' }));
  });

  it('lets the library write its reserved types and recognises end records', () => {
    const end = encodeEvent({ type: '$end', data: { reason: 'done' } }, producer, true);
    expect(isEndPayload(end)).toBe(true);
    expect(isEndPayload(encodeEvent({ type: '$ack', data: null }, producer, true))).toBe(false);
    expect(isEndPayload(encodeEvent({ type: 'end' }, producer))).toBe(false);
  });

  it('measures payload size in UTF-8 bytes', () => {
    const encoded = encodeEvent({ type: 't', data: '€'.repeat(1000) }, producer);
    expect(() => assertPayloadSize(encoded, 3000, 'test')).toThrowError(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', details: expect.objectContaining({ maxBytes: 3000 }) }));
    expect(() => assertPayloadSize(encoded, 4000, 'test')).not.toThrow();
  });
});
