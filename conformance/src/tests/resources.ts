import { check, checkEqual, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect, record } from '../suite/helpers.js';
import { appendKeys, defineTests, liveTails, released } from './util.js';

/** C17 resources. */
export const resourceTests = defineTests([
  {
    id: 'resources.unsubscribe-frees',
    title: 'Unsubscribing frees every subscription and backend tail (store.stats() back to 0)',
    clauses: ['C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const recs = [0, 1, 2, 3, 4].map((i) => record(s.subscribe({ from: i % 2 ? 'start' : 'now' })));
      const control = record(s.control.subscribe({ from: 'start' }));
      await liveTails(ctx, store, 6);
      checkEqual(store.stats().subscriptions, 6, 'subscriptions while subscribed');
      recs.forEach((r) => r.stop());
      control.stop();
      await released(ctx, store);
    },
  },
  {
    id: 'resources.abort-signal-frees',
    title: "Aborting a subscription's signal completes it and frees its resources",
    clauses: ['C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const ac = new AbortController();
      const rec = record(s.subscribe({ from: 'start', signal: ac.signal }));
      const iterated = collect(s.events({ from: 'start', signal: ac.signal }), Infinity, ctx.ms(10_000));
      await liveTails(ctx, store, 2);
      await s.append(ev('a'));
      await rec.untilCount(1, ctx.ms(10_000));
      ac.abort();
      await rec.untilComplete(ctx.ms(10_000));
      await iterated;
      await released(ctx, store);
      const pre = new AbortController();
      pre.abort();
      checkEqual(await collect(s.subscribe({ from: 'start', signal: pre.signal }), Infinity, ctx.ms(10_000)), [], 'a subscription with an aborted signal');
      await released(ctx, store);
    },
  },
  {
    id: 'resources.iterator-return-frees',
    title: "Leaving a for-await loop (iterator.return()) mid-replay or live frees the iterator's resources",
    clauses: ['C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await appendKeys(s, range('e', 50), 10);
      let seen = 0;
      for await (const _ of s.events({ from: 'start', pageSize: 5 })) if (++seen === 7) break;
      checkEqual(seen, 7, 'events seen before break');
      await released(ctx, store, 'release after a break during replay');
      const live = s.events({ from: 'now' });
      const next = live.next();
      await liveTails(ctx, store);
      await s.append(ev('x'));
      checkEqual(keys([(await next).value]), ['x'], 'live event');
      await live.return?.();
      await released(ctx, store, 'release after return() while live');
      checkEqual((await live.next()).done, true, 'next() after return()');
    },
  },
  {
    id: 'resources.handle-close',
    title: 'Closing a handle stops its subscriptions, frees them, and makes further calls fail with CLOSED; the data stays',
    clauses: ['C17', 'C20'],
    tags: ['peers-11'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await s.append(ev('a'));
      const recs = [record(s.subscribe({ from: 'start' })), record(s.control.subscribe({ from: 'start' }))];
      await liveTails(ctx, store, 2);
      checkEqual(store.stats().handles, 1, 'handles before close');
      await s.close();
      for (const rec of recs) await rec.untilComplete(ctx.ms(10_000)).catch(() => undefined);
      await released(ctx, store);
      checkEqual(store.stats().handles, 0, 'handles after close');
      await expectCode(() => s.append(ev('b')), 'CLOSED', 'append on a closed handle');
      await expectCode(() => s.subscribe({ from: 'start' }), 'CLOSED', 'subscribe on a closed handle');
      await expectCode(() => s.read(), 'CLOSED', 'read on a closed handle');
      await s.close();
      const again = store.session(s.id);
      checkSequence(keys((await again.read()).events), ['a'], 'data after the handle closed');
      checkEqual((await again.info()).ended, false, 'a closed handle does not end the session');
    },
  },
  {
    id: 'resources.store-close',
    title: 'Closing a store closes its handles and subscriptions; store.session() then fails with CLOSED',
    clauses: ['C17', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const rec = record(s.subscribe({ from: 'start' }));
      await liveTails(ctx, store);
      await store.close();
      await rec.untilComplete(ctx.ms(10_000)).catch(() => undefined);
      check(rec.completed || rec.error !== undefined, 'the subscription neither completed nor failed');
      checkEqual(store.stats(), { handles: 0, subscriptions: 0, tails: 0 }, 'stats after store close');
      await expectCode(() => store.session(ctx.sessionId()), 'CLOSED', 'session() on a closed store');
      await store.close();
    },
  },
  {
    id: 'resources.many-subscribe-cycles',
    title: 'Many subscribe/unsubscribe cycles leak nothing',
    clauses: ['C17'],
    timeoutMs: 60_000,
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await appendKeys(s, range('e', 5));
      for (let i = 0; i < 60; i++) {
        const got = await collect(i % 2 ? s.subscribe({ from: 'start' }) : s.events({ from: 'start' }), 3, ctx.ms(10_000));
        checkEqual(got.length, 3, `cycle ${i}`);
      }
      await released(ctx, store);
    },
  },
]);
