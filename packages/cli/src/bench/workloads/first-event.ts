import type { DurableSession } from '@durable-sessions/core';
import { benchEvents, figure, rawPayloads, sideBySide } from '../env.js';
import { median } from '../stats.js';
import { within } from '../wait.js';
import type { Workload } from './workload.js';

/** Events in the short session every fresh subscriber reads. */
const LENGTH = 10;

/** Subscribes from the start and resolves with the time the first event arrived; unsubscribes at once. */
function firstEvent(session: DurableSession): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const sub = session.subscribe({ from: 'start' }).subscribe({
      next() {
        if (done) return;
        done = true;
        resolve(performance.now());
        queueMicrotask(() => sub.unsubscribe());
      },
      error: reject,
    });
    if (done) sub.unsubscribe();
  });
}

/**
 * Time to first event: a fresh subscription from the start of a short session until its first event, the
 * median of many. The raw side reads the same short log from its start (its first read).
 */
export const firstEventWorkload: Workload = {
  id: 'first-event',
  title: 'time from subscribe to first event (fresh subscription, 10-event session)',
  async run(env) {
    const n = env.sizes.firstEvent;
    const session = env.store.session(env.name('store'));
    await session.append(benchEvents(LENGTH));
    const log = env.name('raw');
    await env.baseline.appendBatches(log, rawPayloads(LENGTH), LENGTH);
    try {
      const samples = await sideBySide(
        env,
        'first event',
        (v) => `median ${Number(v.toPrecision(3))} ms`,
        async () => {
          const times: number[] = [];
          for (let i = 0; i < n; i++) {
            const started = performance.now();
            times.push((await within(firstEvent(session), 'a first event')) - started);
          }
          return median(times);
        },
        async () => {
          const times: number[] = [];
          for (let i = 0; i < n; i++) {
            const started = performance.now();
            await env.baseline.replay(log, 0);
            times.push(performance.now() - started);
          }
          return median(times);
        },
      );
      return { id: this.id, title: this.title, params: { subscribes: n, sessionLength: LENGTH }, figures: { median: figure('ms', 'lower', samples) } };
    } finally {
      await session.close();
    }
  },
};
