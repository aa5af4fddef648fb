import type { SessionEvent } from '@durable-sessions/core';
import { benchEvent, figure, rawPayload, sideBySide, type Samples } from '../env.js';
import { percentile } from '../stats.js';
import { until, within } from '../wait.js';
import type { Workload } from './workload.js';

/** Events sent before timing starts, so connection setup and first-call compilation are not measured. */
const WARMUP = 20;

/**
 * Waits for one delivery at a time: `expect()` before the append, then the returned promise resolves with the
 * `performance.now()` of the delivery. One event in flight means no queueing inflates the numbers.
 */
class Arrivals {
  private waiter: ((at: number) => void) | undefined;
  private failure: unknown;
  private failed: ((err: unknown) => void) | undefined;

  deliver(): void {
    const at = performance.now();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(at);
  }

  fail(err: unknown): void {
    this.failure = err;
    this.failed?.(err);
  }

  expect(): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<number>((resolve, reject) => {
      this.waiter = resolve;
      this.failed = reject;
    });
  }
}

/** Times `count` sequential append-to-delivery trips after the warm-up; returns the latencies in ms. */
async function trips(count: number, arrivals: Arrivals, append: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < WARMUP + count; i++) {
    const delivered = arrivals.expect();
    const sent = performance.now();
    await append(i);
    const at = await within(delivered, `delivery of event ${i}`);
    if (i >= WARMUP) latencies.push(at - sent);
  }
  return latencies;
}

/** Append-to-delivery latency: one subscriber following live, in this process, clocks from `performance.now`. */
export const latency: Workload = {
  id: 'latency',
  title: 'append-to-delivery latency, one live subscriber, one event in flight',
  async run(env) {
    const n = env.sizes.latency;
    // p50 is what each run returns; p99 is collected beside it, from the measured runs only (rep -1 is the warm-up).
    const p99: Samples = { store: [], baseline: [] };
    const fmt = (v: number) => `p50 ${Number(v.toPrecision(3))} ms`;
    const p50 = await sideBySide(
      env,
      'latency',
      fmt,
      async (rep) => {
        const session = env.store.session(env.name('store', rep));
        const tails = env.store.stats().tails;
        const arrivals = new Arrivals();
        // From 'start' on an empty session: nothing appended after subscribe() can be missed.
        const sub = session.subscribe({ from: 'start' }).subscribe({ next: (_: SessionEvent) => arrivals.deliver(), error: (err) => arrivals.fail(err) });
        try {
          await until(() => env.store.stats().tails > tails, 'the store subscription going live');
          const latencies = await trips(n, arrivals, (i) => session.append(benchEvent(i)));
          if (rep >= 0) p99.store.push(percentile(latencies, 99));
          return percentile(latencies, 50);
        } finally {
          sub.unsubscribe();
          await session.close();
        }
      },
      async (rep) => {
        const log = env.name('raw', rep);
        const arrivals = new Arrivals();
        const stop = await env.baseline.follow(log, () => arrivals.deliver());
        try {
          const latencies = await trips(n, arrivals, (i) => env.baseline.appendEach(log, [rawPayload(i)]));
          if (rep >= 0) p99.baseline.push(percentile(latencies, 99));
          return percentile(latencies, 50);
        } finally {
          await stop();
        }
      },
    );
    return {
      id: this.id,
      title: this.title,
      params: { samples: n, warmup: WARMUP },
      figures: { p50: figure('ms', 'lower', p50), p99: figure('ms', 'lower', p99) },
    };
  },
};
