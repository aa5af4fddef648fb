import { check, checkEqual, checkIncreasing, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { idempotent } from '../suite/requires.js';
import { defineTests, readAll } from './util.js';

/** C8 the coalescing writer. */
export const writerTests = defineTests([
  {
    id: 'writer.many-writes-in-order',
    title: 'Thousands of un-awaited writes land in write order, each promise resolving with its increasing offset',
    clauses: ['C8', 'C1'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer();
      const expected = range('t', 3_000);
      const promises = expected.map((k) => writer.write(ev(k)));
      await writer.flush();
      const offsets = await Promise.all(promises);
      checkIncreasing(offsets, 'write offsets');
      const log = await readAll(s);
      checkSequence(keys(log), expected, 'log');
      checkEqual(log.map((e) => e.offset), offsets, 'offsets of the log vs the write promises');
    },
  },
  {
    id: 'writer.pending-and-flush',
    title: 'Writes are queued (pending counts them) and flush() resolves once every one is durable',
    clauses: ['C8'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ lingerMs: 200 });
      for (const k of range('t', 50)) void writer.write(ev(k));
      checkEqual(writer.pending, 50, 'pending right after 50 writes');
      await writer.flush();
      checkEqual(writer.pending, 0, 'pending after flush');
      checkSequence(keys(await readAll(s)), range('t', 50), 'log after flush');
    },
  },
  {
    id: 'writer.batches-respect-max-batch',
    title: 'A writer with a small maxBatch still delivers every write in order',
    clauses: ['C8', 'C6'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ maxBatch: 7, lingerMs: 0 });
      const expected = range('t', 500);
      for (const k of expected) void writer.write(ev(k));
      await writer.close();
      checkSequence(keys(await readAll(s)), expected, 'log');
    },
  },
  {
    id: 'writer.close-then-closed',
    title: 'close() flushes everything; a write after close fails with CLOSED',
    clauses: ['C8', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ lingerMs: 500 });
      for (const k of range('t', 10)) void writer.write(ev(k));
      await writer.close();
      checkSequence(keys(await readAll(s)), range('t', 10), 'log after close');
      await expectCode(writer.write(ev('late')), 'CLOSED', 'write after close');
      await writer.close();
    },
  },
  {
    id: 'writer.invalid-event-does-not-poison',
    title: 'An invalid write is refused with INVALID_EVENT on its own promise; the writer keeps working',
    clauses: ['C8', 'C14', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ lingerMs: 0 });
      const a = writer.write(ev('a'));
      await expectCode(writer.write({ type: '$end' }), 'INVALID_EVENT', 'reserved type');
      await expectCode(writer.write({ type: 'x', data: Number.NaN }), 'INVALID_EVENT', 'NaN data');
      const b = writer.write(ev('b'));
      await writer.flush();
      await Promise.all([a, b]);
      checkSequence(keys(await readAll(s)), ['a', 'b'], 'log');
    },
  },
  {
    id: 'writer.oversized-write-refused',
    title: 'A write larger than maxPayloadBytes is refused with PAYLOAD_TOO_LARGE without failing the writer',
    clauses: ['C8', 'C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ lingerMs: 0 });
      await expectCode(writer.write({ type: 'big', data: 'x'.repeat(ctx.capabilities.maxPayloadBytes + 1) }), 'PAYLOAD_TOO_LARGE', 'oversized write');
      await writer.write(ev('ok'));
      checkSequence(keys(await readAll(s)), ['ok'], 'log');
    },
  },
  {
    id: 'writer.two-writers',
    title: 'Two writers on one session each keep their own order and nothing is lost',
    clauses: ['C8', 'C4'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const w1 = s.writer({ lingerMs: 1 });
      const w2 = store.session(s.id).writer({ lingerMs: 3 });
      for (let i = 0; i < 400; i++) {
        void w1.write(ev(`a${i}`));
        void w2.write(ev(`b${i}`));
      }
      await Promise.all([w1.close(), w2.close()]);
      const log = keys(await readAll(s));
      checkSequence(log.filter((k) => k.startsWith('a')), range('a', 400), 'writer 1 order');
      checkSequence(log.filter((k) => k.startsWith('b')), range('b', 400), 'writer 2 order');
    },
  },
  {
    id: 'writer.producer-info',
    title: "Writer events carry the writer's producerId, the store's clientId and the handle's connectionId",
    clauses: ['C8', 'C14'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'agent:writer' });
      const s = ctx.session(store);
      const writer = s.writer({ producerId: 'tokens-1' });
      checkEqual(writer.producerId, 'tokens-1', 'writer.producerId');
      await writer.write(ev('a'));
      const [event] = await readAll(s);
      checkEqual(
        [event?.producer.producerId, event?.producer.clientId, event?.producer.connectionId],
        ['tokens-1', 'agent:writer', s.connectionId],
        'producer info',
      );
    },
  },
  {
    id: 'writer.fenced-by-new-epoch',
    title: 'A writer fenced by a newer epoch of its producer id fails with STALE_PRODUCER, and later writes fail too',
    clauses: ['C8', 'C7'],
    tags: ['peers-13'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const old = s.writer({ producerId: 'agent', epoch: 0, lingerMs: 0 });
      await old.write(ev('old'));
      const fresh = store.session(s.id).writer({ producerId: 'agent', epoch: 1, lingerMs: 0 });
      await fresh.write(ev('new'));
      const rejected = old.write(ev('zombie'));
      await expectCode(old.flush(), 'STALE_PRODUCER', 'flush of the fenced writer');
      await expectCode(rejected, 'STALE_PRODUCER', 'write of the fenced writer');
      await expectCode(old.write(ev('again')), 'STALE_PRODUCER', 'a later write of the failed writer');
      checkSequence(keys(await readAll(s)), ['old', 'new'], 'log');
    },
  },
  {
    id: 'writer.handle-close-flushes',
    title: "Closing a session handle flushes its writers before it closes",
    clauses: ['C8', 'C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const writer = s.writer({ lingerMs: 1_000 });
      for (const k of range('t', 30)) void writer.write(ev(k));
      await s.close();
      checkSequence(keys(await readAll(store.session(s.id))), range('t', 30), 'log after handle close');
      check(writer.pending === 0, 'writer still has pending events');
    },
  },
]);
