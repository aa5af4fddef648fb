import { benchEvents, figure, rawPayloads, sideBySide } from '../env.js';
import { human, perSecond } from '../stats.js';
import { Countdown, until, within } from '../wait.js';
import type { Workload } from './workload.js';

/**
 * Fan-out: many subscribers follow one session live while events are appended in batches; the figure is
 * delivered events per second over all subscribers, from the first append to the last delivery.
 */
export const fanout: Workload = {
  id: 'fanout',
  title: 'fan-out: delivered events/s to many live subscribers of one session',
  async run(env) {
    const subscribers = env.sizes.fanoutSubscribers;
    const n = env.sizes.fanoutEvents;
    const size = Math.min(env.sizes.batchSize, env.store.capabilities.maxBatchSize);
    const events = benchEvents(n);
    const payloads = rawPayloads(n);
    const samples = await sideBySide(
      env,
      `fan-out ${subscribers}×${n}`,
      (v) => `${human(v)} deliveries/s`,
      async (rep) => {
        const session = env.store.session(env.name('store', rep));
        const delivered = new Countdown(subscribers * n);
        const tails = env.store.stats().tails;
        const subs = Array.from({ length: subscribers }, () =>
          session.subscribe({ from: 'start' }).subscribe({ next: () => delivered.hit(), error: (err) => delivered.fail(err) }),
        );
        try {
          await until(() => env.store.stats().tails >= tails + subscribers, `${subscribers} store subscriptions going live`);
          const started = performance.now();
          for (let i = 0; i < n; i += size) await session.append(events.slice(i, i + size));
          await within(delivered.reached, `${subscribers * n} deliveries`);
          return perSecond(subscribers * n, performance.now() - started);
        } finally {
          for (const sub of subs) sub.unsubscribe();
          await session.close();
        }
      },
      async (rep) => {
        const log = env.name('raw', rep);
        const delivered = new Countdown(subscribers * n);
        const stops = await Promise.all(Array.from({ length: subscribers }, () => env.baseline.follow(log, () => delivered.hit())));
        try {
          const started = performance.now();
          await env.baseline.appendBatches(log, payloads, size);
          await within(delivered.reached, `${subscribers * n} raw deliveries`);
          return perSecond(subscribers * n, performance.now() - started);
        } finally {
          await Promise.all(stops.map((stop) => stop()));
        }
      },
    );
    return { id: this.id, title: this.title, params: { subscribers, events: n, batchSize: size }, figures: { throughput: figure('events/s', 'higher', samples) } };
  },
};
