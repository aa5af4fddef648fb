import { describe, expect, it } from 'vitest';
import type { FeedRecord } from '../src/feed.js';
import { encodeOffset, encodeOffsets } from '../src/offsets.js';
import { COUNT_HEADER, END_HEADER, LogView, PRODUCER_HEADER } from '../src/views.js';

const PARTITION = 3;

/** One append as the backend writes it: count and stamp on the first record, the end flag on the last. */
function append(key: string, count: number, stamp?: string, end = false): Array<{ key: string; value: string; headers?: Record<string, string> }> {
  const records: Array<{ key: string; value: string; headers?: Record<string, string> }> = Array.from({ length: count }, (_, i) => ({ key, value: `v${i}` }));
  records[0]!.headers = { [COUNT_HEADER]: String(count), ...(stamp ? { [PRODUCER_HEADER]: stamp } : {}) };
  if (end) (records[count - 1]!.headers ??= {})[END_HEADER] = '1';
  return records;
}

/** What can be observed of a view: per-session state, verdicts and rejected offsets over `[0, until)`. */
function observe(view: LogView, keys: string[], until: number) {
  return {
    next: view.next,
    states: keys.map((k) => {
      const s = view.state(k);
      return { first: s.first, last: s.last, ended: s.ended, producers: [...s.producers] };
    }),
    verdicts: Array.from({ length: until }, (_, o) => view.verdict(o) ?? null),
    rejected: Array.from({ length: until }, (_, o) => view.isRejected(o)),
  };
}

describe('LogView.applyOwn', () => {
  it('judges an own append exactly as reading it back would, and hands out the offsets it built', () => {
    // A log with another process's appends, a foreign record without headers, then ours: accepted, a resend
    // (duplicate), a gap (refused), an end, and one after the end (refused).
    const script: Array<{ own: boolean; records: ReturnType<typeof append> }> = [
      { own: false, records: append('other', 2, '0.0.q') },
      { own: false, records: [{ key: 's', value: 'raw' }] },
      { own: true, records: append('s', 3, '0.0.p') },
      { own: true, records: append('s', 3, '0.0.p') },
      { own: true, records: append('s', 1, '0.5.p') },
      { own: true, records: append('s', 2, '0.1.p', true) },
      { own: true, records: append('s', 1) },
    ];
    const mine = new LogView(PARTITION, 0);
    const readBack = new LogView(PARTITION, 0);
    const returned: Array<string[] | undefined> = [];
    let offset = 0;
    for (const step of script) {
      const feed: FeedRecord[] = step.records.map((r, i) => ({ offset: offset + i, key: r.key, value: r.value, headers: r.headers ?? {} }));
      readBack.consume(feed, offset + feed.length);
      if (step.own) returned.push(mine.applyOwn(offset, step.records[0]!.key, step.records));
      else mine.consume(feed, offset + feed.length);
      offset += feed.length;
    }
    expect(observe(mine, ['s', 'other'], offset)).toEqual(observe(readBack, ['s', 'other'], offset));
    // The first append of `s` at offset 3 was accepted; its resend is a duplicate answered with its offsets.
    expect(returned[0]).toEqual(encodeOffsets(PARTITION, 3, 3));
    expect(mine.verdict(6)).toEqual({ accepted: false, duplicate: encodeOffsets(PARTITION, 3, 3) });
    expect(returned[1]).toBeUndefined();
    expect(mine.verdict(9)).toMatchObject({ accepted: false, error: expect.objectContaining({ code: 'SEQUENCE_GAP' }) });
    expect(returned[3]).toEqual(encodeOffsets(PARTITION, 10, 2));
    expect(mine.state('s')).toMatchObject({ first: 2, last: 11, ended: true });
    expect(mine.verdict(12)).toMatchObject({ accepted: false, error: expect.objectContaining({ code: 'SESSION_ENDED' }) });
    // Without a producer stamp the view builds no offsets: the backend encodes them itself.
    expect(returned[4]).toBeUndefined();
  });

  it('refuses to apply an append anywhere but where the view stands', () => {
    const view = new LogView(PARTITION, 5);
    expect(() => view.applyOwn(6, 's', append('s', 1))).toThrowError(expect.objectContaining({ code: 'INTERNAL' }));
    expect(view.next).toBe(5);
  });
});

describe('encodeOffsets', () => {
  it('gives encodeOffset of each record', () => {
    expect(encodeOffsets(7, 99_998, 4)).toEqual([99_998, 99_999, 100_000, 100_001].map((o) => encodeOffset(7, o)));
    expect(encodeOffsets(0, 0, 0)).toEqual([]);
  });
});
