import { describe, expect, it } from 'vitest';
import { formatOffset, offsetTag, padNumber, parseOffset } from '../src/offsets.js';

describe('offsets', () => {
  const tag = offsetTag('session-1', 'events');

  it('round-trips a raw offset through the public form', () => {
    const offset = formatOffset('0000000042', tag);
    expect(parseOffset(offset, tag)).toBe('0000000042');
  });

  it('keeps string order of raw offsets, including variable-width ones that are prefix-ordered', () => {
    const raws = ['1', '12', '123', '2', '20', 'a', 'a.1', 'a:1', 'a_1', 'b', '0000000001.0000000002', '0000000001.0000000010'];
    const sorted = [...raws].sort();
    const publicSorted = raws.map((r) => formatOffset(r, tag)).sort();
    expect(publicSorted.map((o) => parseOffset(o, tag))).toEqual(sorted);
  });

  it('gives different tags to different sessions and to the control log', () => {
    expect(offsetTag('session-1', 'control')).not.toBe(tag);
    expect(offsetTag('session-2', 'events')).not.toBe(tag);
    expect(offsetTag('session-1', 'events')).toBe(tag);
  });

  it('rejects an offset of another session or log with INVALID_OFFSET', () => {
    const foreign = formatOffset('0000000001', offsetTag('other', 'events'));
    expect(() => parseOffset(foreign, tag)).toThrowError(expect.objectContaining({ code: 'INVALID_OFFSET', message: expect.stringContaining('another session') }));
    const control = formatOffset('0000000001', offsetTag('session-1', 'control'));
    expect(() => parseOffset(control, tag)).toThrowError(expect.objectContaining({ code: 'INVALID_OFFSET' }));
  });

  it.each(['', '-', 'abc', `-${'0'.repeat(7)}`, '12/3-abcdefg', '12 3-abcdefg', `${'1'.repeat(129)}-abcdefg`, '1-abc'])('rejects malformed offset %j', (offset) => {
    expect(() => parseOffset(offset, tag)).toThrowError(expect.objectContaining({ code: 'INVALID_OFFSET' }));
  });

  it.each([42, null, undefined, {}])('rejects non-string offset %j', (offset) => {
    expect(() => parseOffset(offset, tag)).toThrowError(expect.objectContaining({ code: 'INVALID_OFFSET' }));
  });

  it('pads numbers to a fixed width and refuses what does not fit', () => {
    expect(padNumber(42, 6)).toBe('000042');
    expect(padNumber(2n ** 63n, 19)).toBe('9223372036854775808');
    expect(() => padNumber(1234567, 6)).toThrow();
    expect(() => padNumber(-1, 6)).toThrow();
  });
});
