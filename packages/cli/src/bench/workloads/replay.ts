import { DurableSessionError } from '@durable-sessions/core';
import { benchEvents, figure, rawPayloads, sideBySide } from '../env.js';
import { human, perSecond } from '../stats.js';
import type { Workload } from './workload.js';

/** Events per history page on both sides (the raw baselines page with the same size). */
const PAGE = 1_000;

/**
 * Catch-up speed: a long session is written once per side, then read from its middle to its end, as a client
 * resuming after a long disconnect does.
 */
export const replay: Workload = {
  id: 'replay',
  title: 'replay rate from the middle of a long session',
  async run(env) {
    const total = env.sizes.replayLength;
    const skip = Math.floor(total / 2);
    const expected = total - skip;
    const size = Math.min(env.sizes.batchSize, env.store.capabilities.maxBatchSize);
    env.progress(`  replay: writing ${total} events to each side`);
    const session = env.store.session(env.name('store'));
    const events = benchEvents(total);
    let from = 'start';
    for (let i = 0; i < total; i += size) {
      const offsets = await session.append(events.slice(i, i + size));
      if (skip > i && skip <= i + offsets.length) from = offsets[skip - i - 1]!;
    }
    const log = env.name('raw');
    await env.baseline.appendBatches(log, rawPayloads(total), size);
    try {
      const samples = await sideBySide(
        env,
        'replay',
        (v) => `${human(v)} events/s`,
        async () => {
          const started = performance.now();
          let count = 0;
          for await (const _ of session.events({ from, pageSize: PAGE })) {
            if (++count === expected) break;
          }
          return perSecond(count, performance.now() - started);
        },
        async () => {
          const started = performance.now();
          const count = await env.baseline.replay(log, skip);
          const elapsed = performance.now() - started;
          if (count !== expected) {
            throw new DurableSessionError('INTERNAL', `bench: the raw baseline replayed ${count} events, expected ${expected}.`);
          }
          return perSecond(count, elapsed);
        },
      );
      return { id: this.id, title: this.title, params: { sessionLength: total, startAt: skip, events: expected, pageSize: PAGE }, figures: { throughput: figure('events/s', 'higher', samples) } };
    } finally {
      await session.close();
    }
  },
};
