import { check, checkEqual, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect } from '../suite/helpers.js';
import { all, trimsByAge, trimsByCount } from '../suite/requires.js';
import { appendKeys, defineTests, readAll } from './util.js';

/** C13 retention, and OFFSET_TRIMMED (C12). */
export const retentionTests = defineTests([
  {
    id: 'retention.max-events-keeps-newest',
    title: 'With retention maxEvents, only the newest events are kept and a replay from start begins at the oldest retained one',
    clauses: ['C13'],
    tags: ['peers-17'],
    requires: trimsByCount,
    async run(ctx) {
      const s = ctx.session(await ctx.connect({ retention: { maxEvents: 5 } }));
      const expected = range('e', 20);
      await appendKeys(s, expected);
      const log = keys(await readAll(s));
      check(
        log.length < 20,
        'nothing was trimmed with retention { maxEvents: 5 }: target.connect must pass options.retention to the backend ' +
          '(a backend instance given as { backend } does not receive the store option; build it with the retention)',
      );
      check(log.length >= 1 && log.length <= 5, `${log.length} events retained with maxEvents 5`);
      checkSequence(log, expected.slice(20 - log.length), 'retained events (a suffix of the log)');
      checkSequence(keys(await collect(s.subscribe({ from: 'start' }), log.length, ctx.ms(10_000))), log, 'replay from start');
    },
  },
  {
    id: 'retention.trimmed-offset-fails-loudly',
    title: 'Resuming from an offset whose successors were trimmed fails with OFFSET_TRIMMED (read, subscribe, events), never skips silently',
    clauses: ['C12', 'C13', 'C20'],
    tags: ['peers-8'],
    requires: trimsByCount,
    async run(ctx) {
      const s = ctx.session(await ctx.connect({ retention: { maxEvents: 5 } }));
      const offsets = await appendKeys(s, range('e', 20));
      const err = await expectCode(s.read({ from: offsets[2]! }), 'OFFSET_TRIMMED', 'read from a trimmed offset');
      check(typeof err.details.trimmedThrough === 'string' || err.details.trimmedThrough === undefined, 'details.trimmedThrough');
      await expectCode(() => collect(s.subscribe({ from: offsets[2]! }), 1, ctx.ms(10_000)), 'OFFSET_TRIMMED', 'subscribe from a trimmed offset');
      await expectCode(() => s.events({ from: offsets[0]! }).next(), 'OFFSET_TRIMMED', 'events from a trimmed offset');
    },
  },
  {
    id: 'retention.resume-at-watermark',
    title: 'Resuming from the newest trimmed offset (nothing after it is gone) delivers exactly the retained events',
    clauses: ['C12', 'C13'],
    requires: trimsByCount,
    async run(ctx) {
      const s = ctx.session(await ctx.connect({ retention: { maxEvents: 5 } }));
      const expected = range('e', 20);
      const offsets = await appendKeys(s, expected);
      const log = keys(await readAll(s));
      const firstKept = 20 - log.length;
      checkSequence(keys(await collect(s.subscribe({ from: offsets[firstKept - 1]! }), log.length, ctx.ms(10_000))), expected.slice(firstKept), 'resume at the watermark');
      checkSequence(keys(await collect(s.subscribe({ from: offsets[17]! }), 2, ctx.ms(10_000))), expected.slice(18), 'resume inside the retained window');
    },
  },
  {
    id: 'retention.max-age',
    title: 'With retention maxAgeMs, events older than the limit are removed and resuming from them fails with OFFSET_TRIMMED',
    clauses: ['C13', 'C12'],
    requires: all(trimsByAge),
    timeoutMs: 30_000,
    async run(ctx) {
      const maxAgeMs = ctx.ms(300);
      const s = ctx.session(await ctx.connect({ retention: { maxAgeMs } }));
      const offsets = await appendKeys(s, range('old', 3));
      let tick = 0;
      // Backends may trim lazily on append: keep appending fresh ticks until the old events are gone.
      await ctx.waitFor(async () => {
        await s.append(ev(`tick${tick++}`));
        return !keys(await readAll(s)).some((k) => k.startsWith('old'));
      }, 'events older than maxAgeMs to be removed', 15_000);
      if (ctx.capabilities.detectsTrimmedOffsets) await expectCode(s.read({ from: offsets[0]! }), 'OFFSET_TRIMMED', 'read from an expired offset');
      const log = keys(await readAll(s));
      checkEqual(log.every((k) => k.startsWith('tick')), true, 'only fresh events remain');
    },
  },
]);
