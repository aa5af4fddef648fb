import type { SessionEvent } from '@durable-sessions/core';
import { check, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect, record } from '../suite/helpers.js';
import { all, crashableClient, dropHook, durable, restartHook } from '../suite/requires.js';
import type { TestContext } from '../suite/types.js';
import { appendKeys, defineTests, liveTails, readAll, yieldToIo } from './util.js';

/** Writers in fault tests retry for a long outage (about a minute) instead of the default eight attempts. */
const PATIENT = { maxRetries: 40, retryBackoffMs: 50, lingerMs: 2 } as const;

/**
 * Streams `keys` through a writer, calling each fault once the given fraction of writes has been issued.
 * Resolves with the writer's final offsets once every write is durable.
 */
async function streamWithFaults(ctx: TestContext, write: (k: string) => Promise<string>, flush: () => Promise<void>, keys: string[], faults: Array<[number, () => Promise<void>]>) {
  const pending: Array<Promise<string>> = [];
  const remaining = [...faults].sort((a, b) => a[0] - b[0]);
  for (const [i, k] of keys.entries()) {
    pending.push(write(k));
    if (remaining.length && i >= Math.floor(keys.length * remaining[0]![0])) await remaining.shift()![1]();
    if (i % 25 === 0) await yieldToIo();
  }
  await flush();
  return Promise.all(pending);
}

/** C19 faults: they disturb the backend, so they run last and one at a time. */
export const faultTests = defineTests([
  {
    id: 'faults.stream-through-restart-and-drop',
    title: 'A live subscriber and a writer streaming 2,400 events through a backend restart (at 1/3) and dropped connections (at 1/2) lose and duplicate nothing',
    clauses: ['C19', 'C3', 'C5', 'C7', 'C8'],
    tags: ['fault', 'peers-13'],
    requires: all(restartHook, dropHook, durable),
    timeoutMs: 180_000,
    async run(ctx) {
      const agent = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const viewerStore = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const id = ctx.sessionId();
      const viewers = [record(viewerStore.session(id).subscribe({ from: 'start' })), record(viewerStore.session(id).subscribe({ from: 'start', pageSize: 50 }))];
      ctx.defer(() => viewers.forEach((v) => v.stop()));
      await liveTails(ctx, viewerStore, 2);
      const writer = agent.session(id).writer(PATIENT);
      const expected = range('t', 2_400);
      await streamWithFaults(ctx, (k) => writer.write(ev(k)), () => writer.flush(), expected, [
        [1 / 3, () => ctx.target.faults!.restart!()],
        [1 / 2, () => ctx.target.faults!.dropConnections!()],
      ]);
      await writer.close();
      for (const [i, viewer] of viewers.entries()) checkSequence(keys(await viewer.untilCount(expected.length, ctx.ms(60_000))), expected, `live subscriber ${i}`);
      checkSequence(keys(await readAll(viewerStore.session(id))), expected, 'the log after the faults');
    },
  },
  {
    id: 'faults.read-after-restart',
    title: 'Everything appended before a restart, the control log and the end marker are still there, in order, at the same offsets, afterwards',
    clauses: ['C19', 'C5', 'C1', 'C9'],
    tags: ['fault', 'peers-3'],
    requires: all(restartHook, durable),
    timeoutMs: 120_000,
    async run(ctx) {
      const store = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const id = ctx.sessionId();
      const expected = range('e', 500);
      const offsets = await appendKeys(store.session(id), expected, 50);
      const control = await store.session(id).control.send({ type: 'stop' });
      const ended = ctx.sessionId('-ended');
      await appendKeys(store.session(ended), range('x', 3));
      const endOffset = await store.session(ended).end({ reason: 'complete' });
      await ctx.target.faults!.restart!();
      const after = await ctx.connect();
      let events: SessionEvent[] = [];
      await ctx.waitFor(async () => (events = await readAll(after.session(id))).length > 0, 'the backend to serve reads after the restart', 60_000);
      checkSequence(keys(events), expected, 'events after the restart');
      checkSequence(events.map((e) => e.offset), offsets, 'offsets after the restart');
      const [message] = await collect(after.session(id).control.subscribe({ from: 'start' }), 1, ctx.ms(30_000));
      check(message?.offset === control.offset, 'the control message survives the restart');
      const endedLog = await readAll(after.session(ended));
      checkSequence(keys(endedLog), [...range('x', 3), '$end'], 'an ended session after the restart');
      check(endedLog[3]?.offset === endOffset && (await after.session(ended).info()).ended, 'the end marker survives the restart');
      await expectCode(after.session(ended).append(ev('late')), 'SESSION_ENDED', 'appending to an ended session after the restart');
      const older = await readAll(store.session(id)).catch(() => undefined);
      if (older) checkSequence(keys(older), expected, 'read through the store that lived through the restart');
      await store.session(id).append(ev('after'));
      checkSequence(keys(await readAll(after.session(id))).slice(-1), ['after'], 'appending after the restart');
    },
  },
  {
    id: 'faults.writer-retries-exactly-once',
    title: 'Writes that fail while connections are dropped are retried by the writer and land exactly once, in order',
    clauses: ['C19', 'C7', 'C8'],
    tags: ['fault', 'peers-13'],
    requires: dropHook,
    timeoutMs: 120_000,
    async run(ctx) {
      const store = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const id = ctx.sessionId();
      const writer = store.session(id).writer(PATIENT);
      const expected = range('t', 2_000);
      const drop = () => ctx.target.faults!.dropConnections!();
      const offsets = await streamWithFaults(ctx, (k) => writer.write(ev(k)), () => writer.flush(), expected, [
        [0.2, drop],
        [0.4, drop],
        [0.6, drop],
        [0.8, drop],
      ]);
      const log = await readAll(store.session(id));
      checkSequence(keys(log), expected, 'the log after dropped connections');
      checkSequence(log.map((e) => e.offset), offsets, 'offsets returned by the writer vs the log');
    },
  },
  {
    id: 'faults.subscriber-survives-drop',
    title: 'A live subscriber keeps receiving, without gap or duplicate, across repeated dropped connections',
    clauses: ['C19', 'C3'],
    tags: ['fault'],
    requires: dropHook,
    timeoutMs: 120_000,
    async run(ctx) {
      const store = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const producer = await ctx.connect({ reconnectTimeoutMs: ctx.ms(120_000) });
      const id = ctx.sessionId();
      const viewer = record(store.session(id).subscribe({ from: 'start' }));
      const control = record(store.session(id).control.subscribe({ from: 'start' }));
      ctx.defer(() => (viewer.stop(), control.stop()));
      await liveTails(ctx, store, 2);
      const expected = range('e', 900);
      for (let round = 0; round < 3; round++) {
        const chunk = expected.slice(round * 300, round * 300 + 300);
        const writer = producer.session(id).writer(PATIENT);
        for (const k of chunk) void writer.write(ev(k));
        await writer.close();
        await viewer.untilCount((round + 1) * 300, ctx.ms(60_000));
        await producer.session(id).control.send({ type: `c${round}` });
        await ctx.target.faults!.dropConnections!();
      }
      checkSequence(keys(viewer.items), expected, 'live subscriber across drops');
      const got = await control.untilCount(3, ctx.ms(60_000));
      checkSequence(got.map((m) => m.type), ['c0', 'c1', 'c2'], 'control subscriber across drops');
    },
  },
]);

/** C19's last promise, checked by crashing one client's connection rather than the shared backend (so not a `fault` test). */
export const outageTests = defineTests([
  {
    id: 'faults.backend-down-fails-loudly',
    title: 'When the backend stays unreachable, subscriptions fail with BACKEND_UNAVAILABLE after reconnectTimeoutMs, and appends and writers fail retryably',
    clauses: ['C19', 'C20'],
    tags: ['peers-2'],
    requires: crashableClient,
    timeoutMs: 30_000,
    async run(ctx) {
      const { store, crash } = await ctx.connectCrashable({ reconnectTimeoutMs: ctx.ms(500) });
      const s = ctx.session(store);
      await s.append(ev('before'));
      const live = record(s.subscribe({ from: 'start' }));
      ctx.defer(() => live.stop());
      await live.untilCount(1, ctx.ms(10_000));
      await liveTails(ctx, store);
      await crash();
      const err = await live.untilError(ctx.ms(15_000));
      await expectCode(Promise.reject(err), 'BACKEND_UNAVAILABLE', 'the live subscription');
      const appendError = await expectCode(s.append(ev('during')), 'BACKEND_UNAVAILABLE', 'an append');
      check(appendError.retryable, 'BACKEND_UNAVAILABLE must be retryable');
      const writer = s.writer({ maxRetries: 2, retryBackoffMs: 5, lingerMs: 0 });
      void writer.write(ev('w'));
      await expectCode(writer.flush(), 'BACKEND_UNAVAILABLE', 'a writer after its retries');
    },
  },
]);
