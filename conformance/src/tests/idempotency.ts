import { isDeepStrictEqual } from 'node:util';
import { check, checkEqual, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { idempotent } from '../suite/requires.js';
import { defineTests, readAll } from './util.js';

/** C7 idempotent producers. */
export const idempotencyTests = defineTests([
  {
    id: 'idempotency.retry-returns-same-offsets',
    title: 'Retrying an append with the same producer stamp returns the same offsets and stores nothing twice',
    clauses: ['C7'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const producer = { id: 'agent-1', epoch: 0 };
      const first = await s.append(ev('a'), { producer: { ...producer, seq: 0 } });
      const retry = await s.append(ev('a'), { producer: { ...producer, seq: 0 } });
      checkEqual(retry, first, 'offset of the retried append');
      const other = await store.session(s.id).append(ev('a'), { producer: { ...producer, seq: 0 } });
      checkEqual(other, first, 'offset of a retry from another handle');
      await s.append(ev('b'), { producer: { ...producer, seq: 1 } });
      checkSequence(keys(await readAll(s)), ['a', 'b'], 'log after retries');
    },
  },
  {
    id: 'idempotency.batch-retry',
    title: 'Retrying a batch with the same stamp returns the same offsets and stores the batch once',
    clauses: ['C7', 'C6'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const batch = range('e', 5).map((k) => ev(k));
      const first = await s.append(batch, { producer: { id: 'p', seq: 0 } });
      const retry = await s.append(batch, { producer: { id: 'p', seq: 0 } });
      checkEqual(retry, first, 'offsets of the retried batch');
      checkSequence(keys(await readAll(s)), range('e', 5), 'log after a batch retry');
    },
  },
  {
    id: 'idempotency.older-retry-not-stored',
    title: 'Late retries of any of the last 8 calls store nothing and resolve with the original offsets',
    clauses: ['C7'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const offsets: string[][] = [];
      for (let seq = 0; seq < 12; seq++) offsets.push(await s.append([ev(`e${seq}`), ev(`f${seq}`)], { producer: { id: 'p', seq } }));
      for (let seq = 4; seq < 12; seq++) {
        checkEqual(await s.append([ev(`e${seq}`), ev(`f${seq}`)], { producer: { id: 'p', seq } }), offsets[seq], `offsets of a late retry of seq ${seq}`);
      }
      const late = await s.append([ev('e0'), ev('f0')], { producer: { id: 'p', seq: 0 } });
      check(late.length === 0 || isDeepStrictEqual(late, offsets[0]), `a retry of seq 0 returned ${JSON.stringify(late)}`);
      checkEqual((await readAll(s)).length, 24, 'events stored after the retries');
      await s.append(ev('next'), { producer: { id: 'p', seq: 12 } });
    },
  },
  {
    id: 'idempotency.sequence-gap',
    title: 'Skipping a sequence number fails with SEQUENCE_GAP naming the expected seq, and stores nothing',
    clauses: ['C7', 'C20'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.append(ev('a'), { producer: { id: 'p', seq: 0 } });
      const err = await expectCode(s.append(ev('gap'), { producer: { id: 'p', seq: 2 } }), 'SEQUENCE_GAP', 'append with seq 2 after 0');
      checkEqual(err.details.expectedSeq, 1, 'details.expectedSeq');
      await s.append(ev('b'), { producer: { id: 'p', seq: 1 } });
      checkSequence(keys(await readAll(s)), ['a', 'b'], 'log after a gap');
    },
  },
  {
    id: 'idempotency.first-seq-is-zero',
    title: 'A new producer must start at seq 0: anything else fails with SEQUENCE_GAP (expectedSeq 0)',
    clauses: ['C7'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const err = await expectCode(s.append(ev('x'), { producer: { id: 'fresh', seq: 3 } }), 'SEQUENCE_GAP', 'first append with seq 3');
      checkEqual(err.details.expectedSeq, 0, 'details.expectedSeq');
      checkEqual((await s.read()).events.length, 0, 'events stored');
    },
  },
  {
    id: 'idempotency.stale-producer',
    title: 'A newer epoch fences the old one: the old epoch fails with STALE_PRODUCER and stores nothing',
    clauses: ['C7', 'C20'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await s.append(ev('old0'), { producer: { id: 'p', epoch: 0, seq: 0 } });
      await store.session(s.id).append(ev('new0'), { producer: { id: 'p', epoch: 1, seq: 0 } });
      await expectCode(s.append(ev('old1'), { producer: { id: 'p', epoch: 0, seq: 1 } }), 'STALE_PRODUCER', 'append from the fenced epoch');
      checkSequence(keys(await readAll(s)), ['old0', 'new0'], 'log after fencing');
    },
  },
  {
    id: 'idempotency.new-epoch-starts-at-zero',
    title: 'A new epoch must start at seq 0 (SEQUENCE_GAP otherwise), then continues normally',
    clauses: ['C7'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.append(ev('a'), { producer: { id: 'p', epoch: 0, seq: 0 } });
      await s.append(ev('b'), { producer: { id: 'p', epoch: 0, seq: 1 } });
      const err = await expectCode(s.append(ev('x'), { producer: { id: 'p', epoch: 1, seq: 2 } }), 'SEQUENCE_GAP', 'new epoch at seq 2');
      checkEqual(err.details.expectedSeq, 0, 'details.expectedSeq');
      await s.append(ev('c'), { producer: { id: 'p', epoch: 1, seq: 0 } });
      await s.append(ev('d'), { producer: { id: 'p', epoch: 1, seq: 1 } });
      checkSequence(keys(await readAll(s)), ['a', 'b', 'c', 'd'], 'log');
    },
  },
  {
    id: 'idempotency.independent-producers',
    title: 'Producers with different ids keep independent sequences in one session',
    clauses: ['C7'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.append(ev('a0'), { producer: { id: 'a', seq: 0 } });
      await s.append(ev('b0'), { producer: { id: 'b', seq: 0 } });
      await s.append(ev('a1'), { producer: { id: 'a', seq: 1 } });
      await s.append(ev('b0'), { producer: { id: 'b', seq: 0 } });
      await s.append(ev('b1'), { producer: { id: 'b', seq: 1 } });
      await expectCode(s.append(ev('a3'), { producer: { id: 'a', seq: 3 } }), 'SEQUENCE_GAP', 'gap of producer a');
      checkSequence(keys(await readAll(s)), ['a0', 'b0', 'a1', 'b1'], 'log');
    },
  },
  {
    id: 'idempotency.per-session-state',
    title: 'One producer id in two sessions keeps two independent sequences',
    clauses: ['C7', 'C11'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect();
      const a = ctx.session(store, '-a');
      const b = ctx.session(store, '-b');
      await a.append(ev('a0'), { producer: { id: 'p', seq: 0 } });
      await a.append(ev('a1'), { producer: { id: 'p', seq: 1 } });
      await b.append(ev('b0'), { producer: { id: 'p', seq: 0 } });
      checkSequence(keys(await readAll(b)), ['b0'], 'session b');
    },
  },
  {
    id: 'idempotency.invalid-stamp',
    title: 'Malformed producer stamps (empty id, negative or fractional seq or epoch) fail with INVALID_ARGUMENT',
    clauses: ['C7', 'C20'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const bad = [
        { id: '', seq: 0 },
        { id: 'x'.repeat(129), seq: 0 },
        { id: 'p', seq: -1 },
        { id: 'p', seq: 0.5 },
        { id: 'p', epoch: -1, seq: 0 },
        { id: 'a\nb', seq: 0 },
      ];
      for (const producer of bad) await expectCode(() => s.append(ev('x'), { producer }), 'INVALID_ARGUMENT', `stamp ${JSON.stringify(producer)}`);
      checkEqual((await s.read()).events.length, 0, 'events stored');
    },
  },
  {
    id: 'idempotency.producer-stamped-on-events',
    title: 'Events appended with a producer stamp carry its id and epoch',
    clauses: ['C7', 'C14'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.append(ev('a'), { producer: { id: 'agent-7', epoch: 3, seq: 0 } });
      const [event] = await readAll(s);
      checkEqual([event?.producer.producerId, event?.producer.epoch], ['agent-7', 3], 'producer id and epoch');
    },
  },
  {
    id: 'idempotency.aborted-append-retried',
    title: 'An append whose wait was aborted (ABORTED) may still land; retrying it with the same stamp stores it exactly once',
    clauses: ['C7', 'C20'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const ac = new AbortController();
      ac.abort();
      await expectCode(s.append([ev('a'), ev('b')], { producer: { id: 'p', seq: 0 }, signal: ac.signal }), 'ABORTED', 'append with an aborted signal');
      const offsets = await s.append([ev('a'), ev('b')], { producer: { id: 'p', seq: 0 } });
      checkEqual(offsets.length, 2, 'offsets of the retry');
      checkSequence(keys(await readAll(s)), ['a', 'b'], 'log after the retry');
      const read = await readAll(s);
      checkEqual(read.map((e) => e.offset), offsets, 'offsets of the retry vs the log');
    },
  },
]);
