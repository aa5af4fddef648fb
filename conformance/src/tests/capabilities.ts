import { check, checkEqual, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { noPresence, notIdempotent } from '../suite/requires.js';
import { defineTests, readAll } from './util.js';

/** C18 capabilities honesty. */
export const capabilityTests = defineTests([
  {
    id: 'capabilities.well-formed',
    title: 'The declared capabilities are complete and well-formed, and the store reports its backend name',
    clauses: ['C18'],
    async run(ctx) {
      const store = await ctx.connect();
      const c = store.capabilities;
      for (const key of ['durable', 'idempotentAppend', 'atomicBatch', 'atomicEnd', 'detectsTrimmedOffsets'] as const) {
        check(typeof c[key] === 'boolean', `capabilities.${key} must be a boolean, got ${String(c[key])}`);
      }
      check(['native', 'emulated', 'none'].includes(c.presence), `capabilities.presence is ${String(c.presence)}`);
      for (const key of ['maxPayloadBytes', 'maxBatchSize'] as const) check(Number.isInteger(c[key]) && c[key] > 0, `capabilities.${key} is ${c[key]}`);
      check(c.maxPayloadBytes >= 1024, `maxPayloadBytes ${c.maxPayloadBytes} is too small to carry a token stream`);
      check(typeof c.retention?.maxAge === 'boolean' && typeof c.retention?.maxEvents === 'boolean', 'capabilities.retention must declare maxAge and maxEvents');
      check(!c.detectsTrimmedOffsets || c.retention.maxAge || c.retention.maxEvents, 'detectsTrimmedOffsets without any retention');
      check(typeof store.backend === 'string' && store.backend.length > 0, 'store.backend');
    },
  },
  {
    id: 'capabilities.idempotence-not-supported',
    title: 'Without idempotentAppend, an append with a producer stamp fails with NOT_SUPPORTED and stores nothing',
    clauses: ['C18', 'C7'],
    requires: notIdempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await expectCode(s.append(ev('a'), { producer: { id: 'p', seq: 0 } }), 'NOT_SUPPORTED', 'stamped append');
      checkEqual((await s.read()).events.length, 0, 'events stored');
    },
  },
  {
    id: 'capabilities.writer-without-idempotence',
    title: 'Without idempotentAppend the writer still delivers every write in order (it just never retries)',
    clauses: ['C18', 'C8'],
    requires: notIdempotent,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer();
      for (const k of range('t', 200)) void writer.write(ev(k));
      await writer.close();
      checkSequence(keys(await readAll(s)), range('t', 200), 'log');
    },
  },
  {
    id: 'capabilities.presence-not-supported',
    title: "With presence 'none', enter, members and changes fail with NOT_SUPPORTED",
    clauses: ['C18', 'C15'],
    requires: noPresence,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await expectCode(s.presence.enter(), 'NOT_SUPPORTED', 'enter');
      await expectCode(s.presence.members(), 'NOT_SUPPORTED', 'members');
      await expectCode(
        new Promise((resolve, reject) => {
          const sub = s.presence.changes().subscribe({ next: resolve, error: reject, complete: () => resolve('completed') });
          queueMicrotask(() => sub.unsubscribe());
        }),
        'NOT_SUPPORTED',
        'changes',
      );
    },
  },
]);
