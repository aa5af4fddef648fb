import type { DurableSession, SessionEvent, SessionStore } from '@durable-sessions/core';
import { ev } from '../suite/assert.js';
import type { ConformanceTest, TestContext } from '../suite/types.js';

/** Identity, for typing test tables. */
export function defineTests(tests: ConformanceTest[]): ConformanceTest[] {
  return tests;
}

/** Appends events keyed `keys`, one call per `batch` events, in order; returns every offset. */
export async function appendKeys(session: DurableSession, keys: readonly string[], batch = 1): Promise<string[]> {
  const offsets: string[] = [];
  for (let i = 0; i < keys.length; i += batch) {
    const chunk = keys.slice(i, i + batch).map((k) => ev(k));
    if (batch === 1) offsets.push(await session.append(chunk[0]!));
    else offsets.push(...(await session.append(chunk)));
  }
  return offsets;
}

/** Reads the whole log page by page. */
export async function readAll(session: DurableSession, from: string = 'start', limit = 1000): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  let next = from;
  for (;;) {
    const page = await session.read({ from: next, limit });
    events.push(...page.events);
    next = page.next;
    if (page.upToDate) return events;
  }
}

/**
 * Waits until `store` holds at least `n` live backend tails: subscriptions have resolved their start position and
 * follow the log, so anything appended afterwards lies after 'now'.
 */
export function liveTails(ctx: TestContext, store: SessionStore, n = 1): Promise<void> {
  return ctx.waitFor(() => store.stats().tails >= n, () => `${n} live tail(s) (have ${store.stats().tails})`);
}

/** Waits until the store holds no subscription and no tail. */
export function released(ctx: TestContext, store: SessionStore, what = 'subscriptions and tails to be released'): Promise<void> {
  return ctx.waitFor(() => {
    const s = store.stats();
    return s.subscriptions === 0 && s.tails === 0;
  }, () => `${what} (stats ${JSON.stringify(store.stats())})`);
}

/** Resolves on the next macrotask: lets I/O and timers run, used to interleave racing operations. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
