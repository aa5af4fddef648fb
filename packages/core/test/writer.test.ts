import { afterEach, describe, expect, it, vi } from 'vitest';
import { CoalescingWriter, type WriterTarget } from '../src/writer.js';

/** A target that records every batch and answers when the test says so (or at once with `auto`). */
function target(auto = true) {
  const batches: string[][] = [];
  const answers: Array<() => void> = [];
  let next = 0;
  const t: WriterTarget = {
    maxBatchSize: 1_000,
    encoder: () => (event) => String(event.data),
    appendBatch(records) {
      batches.push(records);
      const offsets = records.map(() => String(next++).padStart(4, '0'));
      if (auto) return Promise.resolve(offsets);
      return new Promise<string[]>((resolve) => answers.push(() => resolve(offsets)));
    },
  };
  return { t, batches, answer: () => answers.shift()?.() };
}

/** Resolves on the next turn of the event loop (the check phase), never on a timer. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('CoalescingWriter with lingerMs: 0', () => {
  it('coalesces the writes of one turn into one batch', async () => {
    const { t, batches } = target();
    const writer = new CoalescingWriter(t, { lingerMs: 0 });
    const written = Array.from({ length: 10 }, (_, i) => writer.write({ type: 'n', data: i }));
    expect(batches).toEqual([]); // nothing leaves before the turn is over
    expect(await Promise.all(written)).toEqual(Array.from({ length: 10 }, (_, i) => String(i).padStart(4, '0')));
    expect(batches).toEqual([Array.from({ length: 10 }, (_, i) => String(i))]);
  });

  it('flushes a lone write at the end of the turn, without a timer', async () => {
    // Only timers are faked: a flush scheduled with setTimeout (clamped to >= 1 ms by Node) would never run here.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { t, batches } = target();
    const writer = new CoalescingWriter(t, { lingerMs: 0 });
    const offset = writer.write({ type: 'n', data: 'alone' });
    expect(vi.getTimerCount()).toBe(0);
    await nextTurn();
    expect(batches).toEqual([['alone']]);
    expect(await offset).toBe('0000');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps one batch in flight: writes made meanwhile leave together once it is acknowledged', async () => {
    const { t, batches, answer } = target(false);
    const writer = new CoalescingWriter(t, { lingerMs: 0 });
    const first = writer.write({ type: 'n', data: 'a' });
    await nextTurn();
    expect(batches).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((data) => writer.write({ type: 'n', data }));
    await nextTurn();
    await nextTurn();
    expect(batches).toEqual([['a']]); // still waiting for the first acknowledgement
    answer();
    expect(await first).toBe('0000');
    await vi.waitFor(() => expect(batches).toEqual([['a'], ['b', 'c', 'd']]));
    answer();
    expect(await Promise.all(rest)).toEqual(['0001', '0002', '0003']);
    await writer.close();
  });

  it('sends a full batch at once and the remainder at the end of the turn', async () => {
    const { t, batches } = target();
    const writer = new CoalescingWriter(t, { lingerMs: 0, maxBatch: 4 });
    const written = Array.from({ length: 6 }, (_, i) => writer.write({ type: 'n', data: i }));
    expect(batches).toEqual([['0', '1', '2', '3']]);
    await Promise.all(written);
    expect(batches).toEqual([['0', '1', '2', '3'], ['4', '5']]);
  });
});

describe('CoalescingWriter with a linger', () => {
  it('waits lingerMs before sending, so writes spread over several turns still coalesce', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { t, batches } = target();
    const writer = new CoalescingWriter(t, { lingerMs: 5 });
    const a = writer.write({ type: 'n', data: 'a' });
    await nextTurn();
    const b = writer.write({ type: 'n', data: 'b' });
    await nextTurn();
    expect(batches).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(await Promise.all([a, b])).toEqual(['0000', '0001']);
    expect(batches).toEqual([['a', 'b']]);
  });
});

describe('CoalescingWriter with a backlog', () => {
  it('sends a burst of writes as full batches in write order, one sequence number each, and resolves every write', async () => {
    const seqs: number[] = [];
    const { t, batches, answer } = target(false);
    const appendBatch = t.appendBatch.bind(t);
    t.appendBatch = (records, producer) => {
      seqs.push(producer.seq);
      return appendBatch(records, producer);
    };
    const writer = new CoalescingWriter(t, { lingerMs: 0, maxBatch: 100 });
    const written = Array.from({ length: 1_050 }, (_, i) => writer.write({ type: 'n', data: i }));
    expect(writer.pending).toBe(1_050);
    // A queue of 1,050 while the first batch waits; then every acknowledgement lets the next batch go.
    for (let sent = 1; sent <= 11; sent++) {
      await vi.waitFor(() => expect(batches).toHaveLength(sent));
      answer();
    }
    expect(await Promise.all(written)).toEqual(Array.from({ length: 1_050 }, (_, i) => String(i).padStart(4, '0')));
    expect(batches.map((b) => b.length)).toEqual([...Array(10).fill(100), 50]);
    expect(batches.flat()).toEqual(Array.from({ length: 1_050 }, (_, i) => String(i)));
    expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(writer.pending).toBe(0);
  });

  it('leaves no unhandled rejection behind fire-and-forget writes that fail, are refused or are invalid', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const t: WriterTarget = {
        maxBatchSize: 1_000,
        encoder: () => (event) => {
          if (event.data === 'bad') throw new Error('invalid');
          return String(event.data);
        },
        appendBatch: () => Promise.reject(new Error('refused')),
      };
      const writer = new CoalescingWriter(t, { lingerMs: 0, maxBatch: 10, maxRetries: 0 });
      for (let i = 0; i < 25; i++) void writer.write({ type: 'n', data: i });
      void writer.write({ type: 'n', data: 'bad' });
      await expect(writer.flush()).rejects.toThrow('refused');
      void writer.write({ type: 'n', data: 'after the failure' });
      await writer.close().catch(() => {});
      void writer.write({ type: 'n', data: 'after close' });
      // Node reports unhandled rejections once the microtasks of a turn have run: two turns leave room for that.
      await nextTurn();
      await nextTurn();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects the failed batch and every queued write when a batch fails for good, and refuses later writes', async () => {
    let calls = 0;
    const t: WriterTarget = {
      maxBatchSize: 1_000,
      encoder: () => (event) => String(event.data),
      appendBatch: (records) => (++calls === 2 ? Promise.reject(new Error('refused')) : Promise.resolve(records.map((r) => `o${r}`))),
    };
    const writer = new CoalescingWriter(t, { lingerMs: 0, maxBatch: 10, maxRetries: 0 });
    const written = Array.from({ length: 35 }, (_, i) => writer.write({ type: 'n', data: i }));
    const outcomes = await Promise.allSettled(written);
    expect(outcomes.slice(0, 10).map((o) => o.status)).toEqual(Array(10).fill('fulfilled'));
    expect(outcomes.slice(10).map((o) => o.status)).toEqual(Array(25).fill('rejected'));
    expect(writer.pending).toBe(0);
    await expect(writer.write({ type: 'n', data: 'late' })).rejects.toThrow('refused');
    await expect(writer.flush()).rejects.toThrow('refused');
  });
});
