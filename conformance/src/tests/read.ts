import { checkEqual, checkSequence, expectCode, keys, range } from '../suite/assert.js';
import { appendKeys, defineTests } from './util.js';

/** C10 read pages. */
export const readTests = defineTests([
  {
    id: 'read.pages-chain-with-next',
    title: 'read() pages chain through `next` into the exact log, with upToDate only on the last page',
    clauses: ['C10'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const expected = range('e', 25);
      const offsets = await appendKeys(s, expected, 5);
      const p1 = await s.read({ limit: 10 });
      const p2 = await s.read({ from: p1.next, limit: 10 });
      const p3 = await s.read({ from: p2.next, limit: 10 });
      checkSequence(keys([...p1.events, ...p2.events, ...p3.events]), expected, 'three pages');
      checkEqual([p1.events.length, p2.events.length, p3.events.length], [10, 10, 5], 'page sizes');
      checkEqual([p1.upToDate, p2.upToDate, p3.upToDate], [false, false, true], 'upToDate flags');
      checkEqual([p1.next, p2.next, p3.next], [offsets[9], offsets[19], offsets[24]], 'next offsets');
      checkEqual([p1.ended, p2.ended, p3.ended], [false, false, false], 'ended flags');
      const p4 = await s.read({ from: p3.next, limit: 10 });
      checkEqual([p4.events.length, p4.upToDate, p4.next], [0, true, p3.next], 'a read at the end (next stays put)');
    },
  },
  {
    id: 'read.empty-session',
    title: "read() of an empty session is an empty, up-to-date, not-ended page whose next is 'start'",
    clauses: ['C10'],
    tags: ['peers-6'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      checkEqual(await s.read(), { events: [], next: 'start', upToDate: true, ended: false }, 'read of an empty session');
    },
  },
  {
    id: 'read.from-offset',
    title: 'read({ from: offset }) returns the events strictly after it',
    clauses: ['C10', 'C2'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const expected = range('e', 10);
      const offsets = await appendKeys(s, expected);
      checkSequence(keys((await s.read({ from: offsets[3]! })).events), expected.slice(4), 'read after offset 3');
      checkSequence(keys((await s.read({ from: offsets[3]!, limit: 2 })).events), expected.slice(4, 6), 'read after offset 3, limit 2');
    },
  },
  {
    id: 'read.limit-bounds',
    title: 'read() accepts limits 1 to 1000 and refuses others with INVALID_ARGUMENT instead of clamping',
    clauses: ['C10', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, range('e', 3));
      checkEqual((await s.read({ limit: 1 })).events.length, 1, 'limit 1');
      checkEqual((await s.read({ limit: 1_000 })).events.length, 3, 'limit 1000');
      for (const limit of [0, -1, 1.5, 1_001, Number.NaN]) await expectCode(() => s.read({ limit }), 'INVALID_ARGUMENT', `read({ limit: ${limit} })`);
    },
  },
]);
