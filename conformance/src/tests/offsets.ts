import { check, checkEqual, checkIncreasing, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect } from '../suite/helpers.js';
import { appendKeys, defineTests, readAll } from './util.js';

/** C1 offsets, and C12 offset validation. */
export const offsetTests = defineTests([
  {
    id: 'offsets.strictly-increasing',
    title: 'Offsets returned by append are strictly increasing as plain strings',
    clauses: ['C1'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const offsets = await appendKeys(s, range('e', 60));
      checkIncreasing(offsets, 'append offsets');
      check(new Set(offsets).size === offsets.length, 'append offsets are not unique');
    },
  },
  {
    id: 'offsets.string-sortable',
    title: 'Sorting offsets as strings gives append order, across digit-count boundaries (9→10, 99→100, 999→1000)',
    clauses: ['C1'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const offsets = await appendKeys(s, range('e', 1_100), 100);
      const shuffled = [...offsets].reverse();
      shuffled.sort();
      checkSequence(shuffled, offsets, 'offsets sorted as strings');
    },
  },
  {
    id: 'offsets.one-per-event',
    title: 'A batch append returns one distinct offset per event, in order, and they are the offsets the events are read at',
    clauses: ['C1', 'C6'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const single = await s.append(ev('a'));
      const batch = await s.append(range('b', 10).map((k) => ev(k)));
      checkEqual(batch.length, 10, 'offsets returned for a batch of 10');
      checkIncreasing([single, ...batch], 'offsets');
      const read = await readAll(s);
      checkEqual(read.map((e) => e.offset), [single, ...batch], 'offsets read back');
      checkSequence(keys(read), ['a', ...range('b', 10)], 'events read back');
    },
  },
  {
    id: 'offsets.match-delivered',
    title: 'Subscribers see each event at the offset its append returned',
    clauses: ['C1', 'C2'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const offsets = await appendKeys(s, range('e', 20), 3);
      const events = await collect(s.subscribe({ from: 'start' }), 20, ctx.ms(10_000));
      checkEqual(events.map((e) => e.offset), offsets, 'delivered offsets');
    },
  },
  {
    id: 'offsets.info-last-offset',
    title: 'info() reports null for an empty session and the last append offset afterwards',
    clauses: ['C1', 'C10'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      checkEqual(await s.info(), { id: s.id, lastOffset: null, ended: false }, 'info of an empty session');
      const offsets = await appendKeys(s, range('e', 5));
      checkEqual(await s.info(), { id: s.id, lastOffset: offsets[4], ended: false }, 'info after 5 appends');
    },
  },
  {
    id: 'offsets.malformed-rejected',
    title: 'Malformed offsets are refused with INVALID_OFFSET by read, subscribe and events',
    clauses: ['C12', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const [offset] = await appendKeys(s, ['a']);
      const bad = ['', 'garbage', '0', '-', 'abc-', `${offset} `, ` ${offset}`, `${offset!.slice(0, -1)}`, `${offset}x`, 'START', 'Now', `a b-${offset!.split('-').pop()}`];
      for (const from of bad) {
        await expectCode(s.read({ from }), 'INVALID_OFFSET', `read from ${JSON.stringify(from)}`);
        await expectCode(() => collect(s.subscribe({ from }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', `subscribe from ${JSON.stringify(from)}`);
        await expectCode(() => s.events({ from }).next(), 'INVALID_OFFSET', `events from ${JSON.stringify(from)}`);
      }
      await expectCode(s.read({ from: 42 as unknown as string }), 'INVALID_OFFSET', 'read from a number');
    },
  },
  {
    id: 'offsets.foreign-session',
    title: 'An offset from another session is refused with INVALID_OFFSET, never resumed at a wrong position',
    clauses: ['C12', 'C11'],
    async run(ctx) {
      const store = await ctx.connect();
      const a = ctx.session(store, '-a');
      const b = ctx.session(store, '-b');
      const offsetsA = await appendKeys(a, range('a', 5));
      await appendKeys(b, range('b', 5));
      for (const from of [offsetsA[0]!, offsetsA[4]!]) {
        await expectCode(b.read({ from }), 'INVALID_OFFSET', 'read from a foreign offset');
        await expectCode(() => collect(b.subscribe({ from }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', 'subscribe from a foreign offset');
      }
    },
  },
  {
    id: 'offsets.control-offset-refused',
    title: 'A control-log offset used on the event log (and an event offset on the control log) is refused with INVALID_OFFSET',
    clauses: ['C12', 'C16'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const [eventOffset] = await appendKeys(s, ['a']);
      const receipt = await s.control.send({ type: 'stop' });
      await expectCode(s.read({ from: receipt.offset }), 'INVALID_OFFSET', 'event read from a control offset');
      await expectCode(() => collect(s.subscribe({ from: receipt.offset }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', 'event subscribe from a control offset');
      await expectCode(() => collect(s.control.subscribe({ from: eventOffset! }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', 'control subscribe from an event offset');
    },
  },
  {
    id: 'offsets.beyond-end-refused',
    title: 'An offset of this session that lies beyond its last event is refused with INVALID_OFFSET',
    clauses: ['C12'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const offsets = await appendKeys(s, range('e', 3));
      const last = offsets[2]!;
      const cut = last.lastIndexOf('-');
      // A raw offset extended by one character sorts just after the last one: well-formed, but it never existed.
      const beyond = `${last.slice(0, cut)}z${last.slice(cut)}`;
      check(beyond > last, `forged offset ${beyond} should sort after ${last}`);
      await expectCode(s.read({ from: beyond }), 'INVALID_OFFSET', 'read from beyond the end');
      await expectCode(() => collect(s.subscribe({ from: beyond }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', 'subscribe from beyond the end');
    },
  },
]);
