import type { SessionEvent } from '@durable-sessions/core';
import { check, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect, later, record } from '../suite/helpers.js';
import { appendKeys, defineTests, liveTails, readAll, yieldToIo } from './util.js';

/** C2 positions, C3 hand-off, C4 total order, C6 batches. */
export const subscribeTests = defineTests([
  {
    id: 'subscribe.from-start-exact',
    title: "Subscribing from 'start' delivers every event exactly once, in append order",
    clauses: ['C2'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const expected = range('e', 40);
      await appendKeys(s, expected, 7);
      checkSequence(keys(await collect(s.subscribe({ from: 'start' }), 40, ctx.ms(10_000))), expected, 'observable from start');
      checkSequence(keys(await collect(s.events({ from: 'start' }), 40, ctx.ms(10_000))), expected, 'iterator from start');
    },
  },
  {
    id: 'subscribe.from-offset-strictly-after',
    title: 'Subscribing from an offset delivers exactly the events strictly after it (resume never repeats)',
    clauses: ['C2'],
    tags: ['peers-4'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const expected = range('e', 12);
      const offsets = await appendKeys(s, expected);
      for (const k of [0, 1, 5, 10]) {
        const got = await collect(s.subscribe({ from: offsets[k]! }), 11 - k, ctx.ms(10_000));
        checkSequence(keys(got), expected.slice(k + 1), `subscribe from offset ${k}`);
        const iterated = await collect(s.events({ from: offsets[k]! }), 11 - k, ctx.ms(10_000));
        checkSequence(keys(iterated), expected.slice(k + 1), `events from offset ${k}`);
      }
    },
  },
  {
    id: 'subscribe.from-last-offset-waits',
    title: 'Subscribing from the last offset delivers nothing old, then exactly the events appended afterwards',
    clauses: ['C2'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const offsets = await appendKeys(s, range('old', 5));
      const rec = record(s.subscribe({ from: offsets[4]! }));
      ctx.defer(() => rec.stop());
      await liveTails(ctx, store);
      await appendKeys(s, range('new', 4));
      checkSequence(keys(await rec.untilCount(4, ctx.ms(10_000))), range('new', 4), 'events after the last offset');
    },
  },
  {
    id: 'subscribe.from-now',
    title: "Subscribing from 'now' delivers only events appended after the subscription started",
    clauses: ['C2'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await appendKeys(s, range('old', 5));
      const rec = record(s.subscribe({ from: 'now' }));
      ctx.defer(() => rec.stop());
      await liveTails(ctx, store);
      await appendKeys(s, range('new', 6), 2);
      checkSequence(keys(await rec.untilCount(6, ctx.ms(10_000))), range('new', 6), "events from 'now'");
    },
  },
  {
    id: 'subscribe.now-on-empty-session',
    title: "Subscribing from 'now' (and 'start') on an empty session delivers the first events appended later",
    clauses: ['C2'],
    tags: ['peers-6'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const fromNow = record(s.subscribe({ from: 'now' }));
      const fromStart = record(s.subscribe({ from: 'start' }));
      ctx.defer(() => (fromNow.stop(), fromStart.stop()));
      await liveTails(ctx, store, 2);
      await appendKeys(s, range('e', 3));
      checkSequence(keys(await fromNow.untilCount(3, ctx.ms(10_000))), range('e', 3), "from 'now'");
      checkSequence(keys(await fromStart.untilCount(3, ctx.ms(10_000))), range('e', 3), "from 'start'");
    },
  },
  {
    id: 'subscribe.observable-is-cold',
    title: 'Each subscription to the same Observable is an independent replay',
    clauses: ['C2'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await appendKeys(s, range('e', 8));
      const observable = s.subscribe({ from: 'start' });
      const [a, b] = await Promise.all([collect(observable, 8, ctx.ms(10_000)), collect(observable, 8, ctx.ms(10_000))]);
      checkSequence(keys(a), range('e', 8), 'first subscription');
      checkSequence(keys(b), range('e', 8), 'second subscription');
    },
  },
  {
    id: 'subscribe.small-pages',
    title: 'Replay with a tiny pageSize still delivers the exact sequence, for Observables and iterators',
    clauses: ['C2', 'C10'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const expected = range('e', 53);
      await appendKeys(s, expected, 10);
      checkSequence(keys(await collect(s.subscribe({ from: 'start', pageSize: 3 }), 53, ctx.ms(10_000))), expected, 'observable, pageSize 3');
      checkSequence(keys(await collect(s.events({ from: 'start', pageSize: 1 }), 53, ctx.ms(10_000))), expected, 'iterator, pageSize 1');
    },
  },
  {
    id: 'subscribe.handoff-racing-appends',
    title: 'Subscribing while appends race the replay-to-live hand-off (40 rounds) gives the exact sequence: no gap, no duplicate',
    clauses: ['C3'],
    tags: ['peers-1'],
    timeoutMs: 60_000,
    async run(ctx) {
      const store = await ctx.connect();
      for (let round = 0; round < 40; round++) {
        const s = ctx.session(store, `-r${round}`);
        const total = 60;
        const expected = range('e', total);
        await appendKeys(s, expected.slice(0, 10 + (round % 7)));
        let written = 10 + (round % 7);
        const pageSize = 1 + (round % 5) * 3;
        const subscription = round % 2 === 0 ? s.subscribe({ from: 'start', pageSize }) : s.events({ from: 'start', pageSize });
        const pending = collect<SessionEvent>(subscription, total, ctx.ms(15_000));
        while (written < total) {
          const n = Math.min(total - written, 1 + (written % 3));
          await appendKeys(s, expected.slice(written, written + n), n);
          written += n;
          if (written % 4 === 0) await yieldToIo();
        }
        checkSequence(keys(await pending), expected, `round ${round} (session ${s.id})`);
      }
    },
  },
  {
    id: 'subscribe.handoff-from-offset-racing',
    title: 'Resuming from a mid offset while a concurrent producer appends delivers the exact suffix',
    clauses: ['C2', 'C3'],
    tags: ['peers-1', 'peers-4'],
    timeoutMs: 60_000,
    async run(ctx) {
      const store = await ctx.connect();
      const producer = await ctx.connect();
      for (let round = 0; round < 15; round++) {
        const id = ctx.sessionId(`-r${round}`);
        const s = store.session(id);
        const p = producer.session(id);
        const expected = range('e', 80);
        const offsets = await appendKeys(p, expected.slice(0, 20));
        const producing = later(appendKeys(p, expected.slice(20), 1 + (round % 4)));
        const resumeAt = round % 20;
        const got = collect(s.subscribe({ from: offsets[resumeAt]!, pageSize: 4 }), 79 - resumeAt, ctx.ms(15_000));
        await producing;
        checkSequence(keys(await got), expected.slice(resumeAt + 1), `round ${round} from offset ${resumeAt}`);
      }
    },
  },
  {
    id: 'subscribe.total-order-concurrent-producers',
    title: 'Concurrent producers on separate connections yield one total order that every subscriber sees identically',
    clauses: ['C4', 'C1'],
    timeoutMs: 60_000,
    async run(ctx) {
      const producers = await Promise.all([0, 1, 2, 3].map(() => ctx.connect()));
      const readers = await Promise.all([0, 1].map(() => ctx.connect()));
      const id = ctx.sessionId();
      const live = [...readers, producers[0]!].map((st) => record(st.session(id).subscribe({ from: 'start' })));
      ctx.defer(() => live.forEach((r) => r.stop()));
      await Promise.all([...readers, producers[0]!].map((st) => liveTails(ctx, st)));
      const perProducer = producers.map((_, p) => range(`p${p}-`, 60));
      await Promise.all(
        producers.map(async (st, p) => {
          const s = st.session(id);
          const mine = perProducer[p]!;
          for (let i = 0; i < mine.length; ) {
            const n = 1 + ((i + p) % 3);
            await appendKeys(s, mine.slice(i, i + n), n);
            i += n;
          }
        }),
      );
      const all = perProducer.flat();
      const reference = keys(await readAll(readers[0]!.session(id)));
      for (const [i, rec] of live.entries()) {
        checkSequence(keys(await rec.untilCount(all.length, ctx.ms(20_000))).slice(0, all.length), reference, `live subscriber ${i} vs read order`);
      }
      const late = await collect(readers[1]!.session(id).subscribe({ from: 'start' }), all.length, ctx.ms(10_000));
      checkSequence(keys(late), reference, 'late subscriber vs read order');
      for (const [p, mine] of perProducer.entries()) {
        checkSequence(reference.filter((k) => k.startsWith(`p${p}-`)), mine, `producer ${p}'s own order within the total order`);
      }
      check(reference.length === all.length, `log holds ${reference.length} events, ${all.length} appended`);
    },
  },
  {
    id: 'subscribe.fan-out-50',
    title: 'Fifty live subscribers of one session each receive every event exactly once, in order',
    clauses: ['C4'],
    timeoutMs: 40_000,
    async run(ctx) {
      const store = await ctx.connect();
      const producer = await ctx.connect();
      const id = ctx.sessionId();
      const s = store.session(id);
      const subscribers = Array.from({ length: 50 }, (_, i) => record(s.subscribe({ from: i % 2 ? 'start' : 'now' })));
      ctx.defer(() => subscribers.forEach((r) => r.stop()));
      await liveTails(ctx, store, 50);
      const expected = range('e', 200);
      await appendKeys(producer.session(id), expected, 5);
      for (const [i, rec] of subscribers.entries()) checkSequence(keys(await rec.untilCount(200, ctx.ms(20_000))), expected, `subscriber ${i}`);
    },
  },
  {
    id: 'subscribe.batch-order',
    title: 'Events of a batch are stored and delivered in the order given',
    clauses: ['C6'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const rec = record(s.subscribe({ from: 'start' }));
      ctx.defer(() => rec.stop());
      const expected = range('e', 300);
      await appendKeys(s, expected, 100);
      checkSequence(keys(await rec.untilCount(300, ctx.ms(10_000))), expected, 'live delivery of three batches');
      checkSequence(keys(await readAll(s)), expected, 'read of three batches');
    },
  },
  {
    id: 'subscribe.batch-contiguity',
    title: 'A batch appended while other producers append lands contiguously, never interleaved',
    clauses: ['C6'],
    async run(ctx) {
      const stores = await Promise.all([0, 1, 2].map(() => ctx.connect()));
      const id = ctx.sessionId();
      await Promise.all(
        stores.map(async (st, p) => {
          for (let b = 0; b < 10; b++) await st.session(id).append(range(`p${p}b${b}-`, 20).map((k) => ev(k)));
        }),
      );
      const log = keys(await readAll(stores[0]!.session(id)));
      for (let i = 0; i < log.length; i += 20) {
        const head = log[i]!.replace(/-\d+$/, '-');
        checkSequence(log.slice(i, i + 20), range(head, 20), `batch starting at index ${i}`);
      }
    },
  },
  {
    id: 'subscribe.options-checked-at-call-site',
    title: 'Bad subscribe options throw at the call site: missing or empty from → INVALID_OFFSET, bad pageSize or options → INVALID_ARGUMENT',
    clauses: ['C2', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const cases: Array<[string, unknown, 'INVALID_OFFSET' | 'INVALID_ARGUMENT']> = [
        ['empty from', { from: '' }, 'INVALID_OFFSET'],
        ['missing from', {}, 'INVALID_OFFSET'],
        ['numeric from', { from: 3 }, 'INVALID_OFFSET'],
        ['pageSize 0', { from: 'start', pageSize: 0 }, 'INVALID_ARGUMENT'],
        ['pageSize 1.5', { from: 'start', pageSize: 1.5 }, 'INVALID_ARGUMENT'],
        ['no options', undefined, 'INVALID_ARGUMENT'],
      ];
      for (const [what, options, code] of cases) {
        for (const [how, call] of [
          ['subscribe', () => s.subscribe(options as never)],
          ['events', () => s.events(options as never)],
          ['control.subscribe', () => s.control.subscribe(options as never)],
        ] as const) {
          let thrown: unknown;
          try {
            call();
          } catch (err) {
            thrown = err;
          }
          check(thrown !== undefined, `${how} with ${what} did not throw at the call site`);
          await expectCode(() => Promise.reject(thrown), code, `${how} with ${what}`);
        }
      }
    },
  },
  {
    id: 'subscribe.iterator-live-overflow',
    title: 'A slow async-iterator consumer outrun by live appends (the live phase pauses and resumes by paging) still gets the exact sequence',
    clauses: ['C3'],
    tags: ['peers-9'],
    async run(ctx) {
      const store = await ctx.connect();
      const producer = await ctx.connect();
      const id = ctx.sessionId();
      const iterator = store.session(id).events({ from: 'now', pageSize: 10 });
      const first = later(iterator.next());
      await liveTails(ctx, store);
      const expected = range('e', 600);
      await appendKeys(producer.session(id), expected, 50);
      const seen: string[] = [];
      const head = await first;
      if (!head.done) seen.push((head.value.data as { k: string }).k);
      while (seen.length < expected.length) {
        const step = await iterator.next();
        if (step.done) break;
        seen.push((step.value.data as { k: string }).k);
        if (seen.length % 7 === 0) await yieldToIo();
      }
      await iterator.return?.();
      checkSequence(seen, expected, 'what the slow iterator received');
    },
  },
  {
    id: 'subscribe.delivered-only-when-stored',
    title: 'Every event a live subscriber receives can already be read back at its offset (delivery never precedes storage)',
    clauses: ['C5', 'C1'],
    async run(ctx) {
      const store = await ctx.connect();
      const reader = await ctx.connect();
      const producer = await ctx.connect();
      const id = ctx.sessionId();
      const checks: Array<Promise<string | undefined>> = [];
      let previous = 'start';
      const sub = store.session(id).subscribe({ from: 'now' }).subscribe((event) => {
        const from = previous;
        previous = event.offset;
        checks.push(
          reader
            .session(id)
            .read({ from, limit: 1 })
            .then((page) => (page.events[0]?.offset === event.offset ? undefined : `event at ${event.offset} was delivered before a read could see it (read got ${page.events[0]?.offset})`)),
        );
      });
      ctx.defer(() => sub.unsubscribe());
      await liveTails(ctx, store);
      const expected = range('e', 120);
      await Promise.all([0, 1, 2].map((p) => appendKeys(producer.session(id), expected.filter((_, i) => i % 3 === p))));
      await ctx.waitFor(() => checks.length >= expected.length, () => `${expected.length} deliveries (have ${checks.length})`);
      const problems = (await Promise.all(checks)).filter((p) => p !== undefined);
      check(problems.length === 0, problems.slice(0, 3).join('; '));
    },
  },
]);
