import { connect, type DurableSession, type SessionEvent, type SessionStore, type StartPosition } from '@durable-sessions/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, waitFor, type RunningNats } from './helpers.js';

// The shape of the bench report's fan-out, where 50 live subscribers of one session "stalled" at 17,900 of 25,000
// deliveries. The store was not at fault: the report's readiness check let appends start before half of the
// subscriptions had resolved `from: 'now'`, so those legitimately began after the first batches (see
// docs/adapters/nats.md, "Fan-out"). These tests pin the store's side: every subscriber whose position is fixed
// before the appends gets every event exactly once, in order, even when the appends race its replay and tail.
const SUBSCRIBERS = 50;
const EVENTS = 500;
const BATCH = 100;

let infra: RunningNats;
let store: SessionStore;
beforeAll(async () => {
  infra = await startInfra<RunningNats>('nats');
  store = await connect(infra.url);
});
afterAll(async () => {
  await store?.close();
  await infra?.stop();
});

/**
 * Subscribes `SUBSCRIBERS` handles of session `name` from `from` (without waiting for them to go live: the appends
 * that follow race their replay and tail); `done()` waits for every subscriber to hold `EVENTS` events.
 */
function subscribers(name: string, from: StartPosition) {
  const received = Array.from({ length: SUBSCRIBERS }, () => [] as number[]);
  const failures: unknown[] = [];
  const handles: DurableSession[] = [];
  const subs = received.map((into) => {
    const handle = store.session(name);
    handles.push(handle);
    return handle.subscribe({ from }).subscribe({
      next: (e: SessionEvent) => {
        if (e.type === 'n') into.push(e.data as number);
      },
      error: (err) => failures.push(err),
    });
  });
  return async () => {
    const total = () => received.reduce((sum, r) => sum + r.length, 0);
    try {
      await waitFor(() => failures.length > 0 || received.every((r) => r.length >= EVENTS), `${SUBSCRIBERS * EVENTS} deliveries`, 15_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${total()} delivered, per subscriber ${received.map((r) => r.length).join(',')}`);
    } finally {
      subs.forEach((s) => s.unsubscribe());
      await Promise.all(handles.map((h) => h.close()));
    }
    expect(failures).toEqual([]);
    const want = Array.from({ length: EVENTS }, (_, i) => i);
    for (const r of received) expect(r).toEqual(want);
  };
}

const batch = (first: number) => Array.from({ length: BATCH }, (_, k) => ({ type: 'n', data: first + k }));

describe(`fan-out: ${SUBSCRIBERS} subscribers of one session × ${EVENTS} events`, () => {
  it('from the start, appended in batches of 100 while the subscriptions start', async () => {
    const session = store.session('fanout-batches');
    const done = subscribers('fanout-batches', 'start');
    for (let i = 0; i < EVENTS; i += BATCH) await session.append(batch(i));
    await done();
    await session.close();
  });

  it('from the start, written through session.writer() while the subscriptions start', async () => {
    const session = store.session('fanout-writer');
    const done = subscribers('fanout-writer', 'start');
    const writer = session.writer({ lingerMs: 0 });
    for (let i = 0; i < EVENTS; i++) void writer.write({ type: 'n', data: i });
    await writer.close();
    await done();
    await session.close();
  });

  it('from the offset read before appending (what `now` means once resolved), batches racing the subscriptions', async () => {
    const session = store.session('fanout-now');
    await session.append([{ type: 'before', data: null }]);
    const { lastOffset } = await session.info();
    const done = subscribers('fanout-now', lastOffset!);
    for (let i = 0; i < EVENTS; i += BATCH) await session.append(batch(i));
    await done();
    await session.close();
  });
});
