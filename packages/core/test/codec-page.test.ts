import { describe, expect, it } from 'vitest';
import type { BackendEntry } from '../src/backend.js';
import { decodeEvent, encodeEvent, parseRecords } from '../src/codec.js';
import { DurableSessionError } from '../src/errors.js';
import { formatOffset, padNumber } from '../src/offsets.js';
import { PAGE_TEXT, decodeEntries, type LogContext } from '../src/subscription.js';

const TAG = 'abc1234';
const SESSION = 'page-session';
// decodeEntries only reads the log and the tag; the rest of the context is not touched by decoding.
const ctx = { log: { sessionId: SESSION, key: SESSION, kind: 'events' }, tag: TAG } as unknown as LogContext;
const producer = { clientId: 'alice', connectionId: 'conn-1' };

/** Raw offset of the i-th entry. */
const raw = (i: number): string => padNumber(i + 1, 8);

/** A page of `count` stored events, varied enough to exercise every field of the record. */
function page(count: number): BackendEntry[] {
  return Array.from({ length: count }, (_, i) => {
    const event =
      i % 3 === 0
        ? { type: 'token', data: { i, text: `t${i}` }, headers: { run: 'r1' } }
        : i % 3 === 1
          ? { type: 'blob', data: new Uint8Array([i, 255 - (i % 256)]) }
          : { type: 'note', data: [i, null, true] };
    const who = i % 2 === 0 ? { ...producer, producerId: 'p', epoch: 3 } : producer;
    return { offset: raw(i), payload: encodeEvent(event, who) };
  });
}

/** Runs `fn`, expecting a DurableSessionError, and returns it. */
function failure(fn: () => unknown): DurableSessionError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DurableSessionError);
    return err as DurableSessionError;
  }
  throw new Error('expected a DurableSessionError');
}

describe('page decoding (one JSON.parse per page)', () => {
  it('decodes a normal page exactly as record-by-record decoding does', () => {
    for (const size of [1, 7, 8, 9, 100]) {
      const entries = page(size);
      const result = decodeEntries(ctx, entries, null);
      const expected = entries.map((e) => decodeEvent(e.payload, formatOffset(e.offset, TAG), SESSION));
      expect(result.events).toEqual(expected);
      expect(result.last).toBe(entries[size - 1]!.offset);
      expect(result.ended).toBe(false);
    }
  });

  it('parses one record per payload, in order', () => {
    const entries = page(20);
    expect(parseRecords(entries.map((e) => e.payload))).toEqual(entries.map((e) => JSON.parse(e.payload)));
  });

  it('drops entries at or before `after` and stops after the end record', () => {
    const entries = page(30);
    entries[20] = { offset: raw(20), payload: encodeEvent({ type: '$end' }, producer, true) };
    const result = decodeEntries(ctx, entries, raw(4));
    expect(result.events.map((e) => e.offset)).toEqual(entries.slice(5, 21).map((e) => formatOffset(e.offset, TAG)));
    expect(result.events.at(-1)!.type).toBe('$end');
    expect(result.last).toBe(raw(20));
    expect(result.ended).toBe(true);
  });

  it('falls back to per-record decoding on repeated offsets, without duplicates', () => {
    const entries = page(12);
    const repeated = [...entries.slice(0, 6), entries[5]!, ...entries.slice(6)];
    const result = decodeEntries(ctx, repeated, null);
    expect(result.events.map((e) => e.offset)).toEqual(entries.map((e) => formatOffset(e.offset, TAG)));
  });

  it.each([
    ['truncated JSON', '{"t":"token","s":1,"n":"c"'],
    ['not JSON at all', 'garbage'],
    ['an empty payload', ''],
    ['two records in one payload', `${encodeEvent({ type: 'a' }, producer)},${encodeEvent({ type: 'b' }, producer)}`],
  ])('names the offset of a corrupt record (%s) with INTERNAL', (_, corrupt) => {
    for (const size of [3, 40]) {
      const entries = page(size);
      entries[size - 2] = { offset: raw(size - 2), payload: corrupt };
      const error = failure(() => decodeEntries(ctx, entries, null));
      expect(error.code).toBe('INTERNAL');
      expect(error.message).toContain(formatOffset(raw(size - 2), TAG));
    }
  });

  it('is not fooled by corrupt payloads whose extra and missing records cancel out', () => {
    // Joined, these make exactly as many array items as payloads: the count alone cannot tell.
    const entries = page(10);
    entries[3] = { offset: raw(3), payload: `${encodeEvent({ type: 'a' }, producer)},${encodeEvent({ type: 'b' }, producer)}` };
    entries[4] = { offset: raw(4), payload: '{"t":"c","s":1' };
    entries[5] = { offset: raw(5), payload: '"n":"x"}' };
    const error = failure(() => decodeEntries(ctx, entries, null));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain(formatOffset(raw(3), TAG));
  });

  it.each([
    ['a number', '42'],
    ['a string', '"token"'],
    ['null', 'null'],
    ['an array', '[1,2]'],
    ['an object without a type', '{"s":1,"n":"c"}'],
  ])('rejects valid JSON that is not an event record (%s) with INTERNAL, naming its offset', (_, payload) => {
    for (const size of [3, 40]) {
      const entries = page(size);
      entries[1] = { offset: raw(1), payload };
      const error = failure(() => decodeEntries(ctx, entries, null));
      expect(error.code).toBe('INTERNAL');
      expect(error.message).toContain(formatOffset(raw(1), TAG));
    }
  });

  describe('with a page text attached by the backend', () => {
    /** The page with its payloads pre-joined, as a backend attaches it; `text` overrides the joined text. */
    const withText = (entries: BackendEntry[], text = `[${entries.map((e) => e.payload).join(',')}]`) =>
      Object.defineProperty([...entries], PAGE_TEXT, { value: () => text }) as BackendEntry[];

    it('decodes identically to per-record decoding', () => {
      const entries = page(50);
      const expected = entries.map((e) => decodeEvent(e.payload, formatOffset(e.offset, TAG), SESSION));
      expect(decodeEntries(ctx, withText(entries), null).events).toEqual(expected);
    });

    it('falls back to the payloads when the text does not hold one record per entry', () => {
      const entries = page(20);
      const expected = entries.map((e) => decodeEvent(e.payload, formatOffset(e.offset, TAG), SESSION));
      expect(decodeEntries(ctx, withText(entries, '[{"t":"x","s":1,"n":"c"}]'), null).events).toEqual(expected);
      expect(decodeEntries(ctx, withText(entries, '[not json'), null).events).toEqual(expected);
    });

    it('still names a corrupt record with INTERNAL', () => {
      const entries = page(20);
      entries[7] = { offset: raw(7), payload: '{"t":' };
      const error = failure(() => decodeEntries(ctx, withText(entries), null));
      expect(error.code).toBe('INTERNAL');
      expect(error.message).toContain(formatOffset(raw(7), TAG));
    });

    it('ignores the text when leading entries are dropped as repeats', () => {
      const entries = page(20);
      const result = decodeEntries(ctx, withText(entries, '[]'), raw(2));
      expect(result.events.map((e) => e.offset)).toEqual(entries.slice(3).map((e) => formatOffset(e.offset, TAG)));
    });
  });
});
