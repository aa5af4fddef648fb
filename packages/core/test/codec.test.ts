import { describe, expect, it } from 'vitest';
import { assertPayloadSize, decodeEvent, encodeEvent, isEndPayload, producerSuffix } from '../src/codec.js';

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

  it.each([
    ['plain data', { type: 'token', data: { i: 1, text: 'hi' } }, producer],
    [
      'quotes, escapes and non-ASCII everywhere',
      { type: 'a"b\\c\n\u2028', data: { 'k"ey': ['v\u0000', '🎉', -0, 1e21, { deep: { x: null } }], skipped: undefined }, headers: { 'h"1': 'v\n', ',"d":': 'x' } },
      { clientId: 'bob "the" builder', connectionId: 'c\\1', producerId: 'w-"p"', epoch: 3 },
    ],
    ['bytes and a producer without client', { type: 'blob', data: new Uint8Array([0, 255, 34, 92]) }, { clientId: undefined, connectionId: 'c', producerId: 'p', epoch: 0 }],
    ['empty headers and null data', { type: 'ping', data: null, headers: {} }, producer],
  ])('stores %s as exactly the JSON record the object form gives', (_name, event, who) => {
    const before = Date.now();
    const encoded = encodeEvent(event as never, who);
    const stored = JSON.parse(encoded) as Record<string, unknown>;
    expect(stored.s).toBeGreaterThanOrEqual(before);
    expect(encoded.startsWith(`{"t":${JSON.stringify(event.type)},`)).toBe(true);
    // What `JSON.stringify` of the record as one object (the earlier encoder) stores, built independently here.
    const expected: Record<string, unknown> = { t: event.type, s: stored.s, n: who.connectionId };
    if (event.data instanceof Uint8Array) expected.b = Buffer.from(event.data).toString('base64');
    else expected.d = JSON.parse(JSON.stringify(event.data ?? null));
    if ('headers' in event && Object.keys(event.headers).length > 0) expected.h = event.headers;
    if (who.clientId !== undefined) expected.c = who.clientId;
    if ('producerId' in who) expected.p = [who.producerId, who.epoch];
    expect(stored).toStrictEqual(expected);
    // A suffix built once per producer (the writer's way) gives the same record.
    expect(encodeEvent(event as never, who, false, producerSuffix(who)).replace(/"s":\d+/, '')).toBe(encoded.replace(/"s":\d+/, ''));
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
