import { check, checkEqual, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect, record } from '../suite/helpers.js';
import { atomicEnd } from '../suite/requires.js';
import { appendKeys, defineTests, liveTails, readAll, released } from './util.js';

/** C9 end-of-stream. */
export const endTests = defineTests([
  {
    id: 'end.live-subscriber-completes',
    title: 'A live subscriber receives every event, then `$end` (with its reason) last, then completes',
    clauses: ['C9'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const rec = record(s.subscribe({ from: 'start' }));
      ctx.defer(() => rec.stop());
      await liveTails(ctx, store);
      await appendKeys(s, range('e', 10), 3);
      const endOffset = await s.end({ reason: 'complete' });
      const got = await rec.untilComplete(ctx.ms(10_000));
      checkSequence(keys(got), [...range('e', 10), '$end'], 'delivered sequence');
      checkEqual(got[10]!.data, { reason: 'complete' }, '$end data');
      checkEqual(got[10]!.offset, endOffset, '$end offset');
    },
  },
  {
    id: 'end.late-subscriber-replays-then-completes',
    title: 'A subscriber arriving after the end replays everything, then `$end`, then completes (Observable and iterator)',
    clauses: ['C9'],
    tags: ['peers-3'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, range('e', 7));
      await s.end({ reason: 'cancelled' });
      const got = await collect(s.subscribe({ from: 'start' }), Infinity, ctx.ms(10_000));
      checkSequence(keys(got), [...range('e', 7), '$end'], 'observable replay of an ended session');
      const iterated = [];
      for await (const event of s.events({ from: 'start', pageSize: 2 })) iterated.push(event);
      checkSequence(keys(iterated), [...range('e', 7), '$end'], 'iterator replay of an ended session');
    },
  },
  {
    id: 'end.subscribe-now-on-ended',
    title: "Subscribing from 'now' (or from the `$end` offset) on an ended session completes at once with nothing",
    clauses: ['C9', 'C2'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, range('e', 3));
      const endOffset = await s.end();
      checkEqual(await collect(s.subscribe({ from: 'now' }), Infinity, ctx.ms(10_000)), [], "events from 'now'");
      checkEqual(await collect(s.subscribe({ from: endOffset }), Infinity, ctx.ms(10_000)), [], 'events after $end');
      checkEqual(await collect(s.events({ from: 'now' }), Infinity, ctx.ms(10_000)), [], "iterator from 'now'");
    },
  },
  {
    id: 'end.append-after-end-refused',
    title: 'Appending after the end fails with SESSION_ENDED, single or batch, and stores nothing',
    clauses: ['C9', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, ['a']);
      await s.end();
      await expectCode(s.append(ev('late')), 'SESSION_ENDED', 'single append after end');
      await expectCode(s.append([ev('x'), ev('y')]), 'SESSION_ENDED', 'batch append after end');
      checkSequence(keys(await readAll(s)), ['a', '$end'], 'log after refused appends');
    },
  },
  {
    id: 'end.end-twice-refused',
    title: 'Ending an ended session fails with SESSION_ENDED and adds no second marker',
    clauses: ['C9', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await s.end({ reason: 'complete' });
      await expectCode(s.end({ reason: 'again' }), 'SESSION_ENDED', 'second end');
      await expectCode(store.session(s.id).end(), 'SESSION_ENDED', 'end from another handle');
      checkSequence(keys(await readAll(s)), ['$end'], 'log after a second end');
    },
  },
  {
    id: 'end.info-and-read-flags',
    title: 'After the end, info() says ended and the last read page has ended: true; earlier pages do not',
    clauses: ['C9', 'C10'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, range('e', 5));
      const first = await s.read({ limit: 3 });
      checkEqual([first.ended, first.upToDate], [false, false], 'flags of a first page before the end');
      const endOffset = await s.end();
      checkEqual(await s.info(), { id: s.id, lastOffset: endOffset, ended: true }, 'info after the end');
      const page1 = await s.read({ limit: 3 });
      checkEqual([page1.ended, page1.upToDate], [false, false], 'flags of a first page after the end');
      const page2 = await s.read({ from: page1.next, limit: 3 });
      checkSequence(keys(page2.events), ['e3', 'e4', '$end'], 'last page');
      checkEqual([page2.ended, page2.upToDate], [true, true], 'flags of the last page');
      const after = await s.read({ from: endOffset });
      checkEqual([after.events.length, after.ended, after.upToDate, after.next], [0, true, true, endOffset], 'a read after the $end offset');
    },
  },
  {
    id: 'end.end-data-round-trip',
    title: '`end({ reason, data })` is delivered in the `$end` event data',
    clauses: ['C9', 'C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.end({ reason: 'error', data: { message: 'tool failed', retry: false, n: [1, 2] } });
      const [end] = (await readAll(s)).slice(-1);
      checkEqual(end?.type, '$end', 'last event type');
      checkEqual(end?.data, { reason: 'error', data: { message: 'tool failed', retry: false, n: [1, 2] } }, '$end data');
    },
  },
  {
    id: 'end.step-finish-is-not-end',
    title: "An application event named 'finish' (a step's end) does not end the stream; events after it keep flowing",
    clauses: ['C9'],
    tags: ['peers-5'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const rec = record(s.subscribe({ from: 'start' }));
      ctx.defer(() => rec.stop());
      await s.append([ev('step1'), ev('f1', 'finish'), ev('tool', 'tool-call'), ev('f2', 'finish-step'), ev('end-like', 'end')]);
      await s.append(ev('step2'));
      const got = await rec.untilCount(6, ctx.ms(10_000));
      checkSequence(keys(got), ['step1', 'f1', 'tool', 'f2', 'end-like', 'step2'], 'events around finish');
      check(!rec.completed, 'the subscription completed on an application finish event');
      checkEqual((await s.info()).ended, false, 'info().ended after finish events');
    },
  },
  {
    id: 'end.flushes-writers-first',
    title: "end() first flushes this handle's writers, so tokens still lingering land before `$end`",
    clauses: ['C9', 'C8'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const writer = s.writer({ lingerMs: 1_000 });
      for (const k of range('t', 20)) void writer.write(ev(k));
      await s.end({ reason: 'complete' });
      checkSequence(keys(await readAll(s)), [...range('t', 20), '$end'], 'log after end with a lingering writer');
    },
  },
  {
    id: 'end.writer-after-end',
    title: 'A writer writing after the end fails with SESSION_ENDED through flush()',
    clauses: ['C9', 'C8'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.end();
      const writer = s.writer({ lingerMs: 0 });
      const write = writer.write(ev('late'));
      await expectCode(writer.flush(), 'SESSION_ENDED', 'flush of a write after end');
      await expectCode(write, 'SESSION_ENDED', 'the write itself');
    },
  },
  {
    id: 'end.completes-and-frees-subscribers',
    title: 'Ending completes every live subscriber (Observables and iterators) and frees their resources',
    clauses: ['C9', 'C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const recs = [0, 1, 2].map(() => record(s.subscribe({ from: 'now' })));
      const iterated = collect(s.events({ from: 'now' }), Infinity, ctx.ms(10_000));
      await liveTails(ctx, store, 4);
      await s.append(ev('last'));
      await s.end();
      for (const rec of recs) checkSequence(keys(await rec.untilComplete(ctx.ms(10_000))), ['last', '$end'], 'observable');
      checkSequence(keys(await iterated), ['last', '$end'], 'iterator');
      await released(ctx, store);
    },
  },
  {
    id: 'end.racing-appends-never-follow-end',
    title: 'Appends racing end() either land before `$end` or fail with SESSION_ENDED; nothing follows `$end`',
    clauses: ['C9'],
    requires: atomicEnd,
    async run(ctx) {
      const stores = await Promise.all([0, 1, 2].map(() => ctx.connect()));
      const id = ctx.sessionId();
      for (let round = 0; round < 5; round++) {
        const sid = `${id}-${round}`;
        ctx.note(sid);
        const appends = stores.flatMap((st, p) => range(`p${p}-`, 10).map((k) => st.session(sid).append(ev(k))));
        const end = stores[0]!.session(sid).end();
        const results = await Promise.allSettled([...appends, end]);
        for (const r of results) {
          if (r.status === 'rejected') check((r.reason as { code?: string }).code === 'SESSION_ENDED', `racing append failed with ${String(r.reason)}`);
        }
        const log = await readAll(stores[1]!.session(sid));
        checkEqual(log[log.length - 1]?.type, '$end', `last event of round ${round}`);
        const landed = results.slice(0, -1).filter((r) => r.status === 'fulfilled').length;
        checkEqual(log.length, landed + 1, `events stored in round ${round} (successful appends + $end)`);
      }
    },
  },
]);
