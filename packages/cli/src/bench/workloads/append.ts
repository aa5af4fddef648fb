import { benchEvent, benchEvents, figure, rawPayloads, sideBySide, type BenchEnv } from '../env.js';
import { human, perSecond } from '../stats.js';
import type { Workload } from './workload.js';

const eps = (v: number) => `${human(v)} events/s`;

/** Single appends, each awaited before the next: the latency-bound write path. */
export const appendSingle: Workload = {
  id: 'append-single',
  title: 'append throughput, one awaited append at a time',
  async run(env) {
    const n = env.sizes.appendSingle;
    const payloads = rawPayloads(n);
    const samples = await sideBySide(
      env,
      'append single',
      eps,
      (rep) =>
        env.fresh(async (store) => {
          const session = store.session(env.name('store', rep));
          await warm(session);
          const started = performance.now();
          for (let i = 0; i < n; i++) await session.append(benchEvent(i));
          return perSecond(n, performance.now() - started);
        }),
      (rep) =>
        env.fresh(async (_, baseline) => {
          const started = performance.now();
          await baseline.appendEach(env.name('raw', rep), payloads);
          return perSecond(n, performance.now() - started);
        }),
    );
    return { id: this.id, title: this.title, params: { events: n }, figures: { throughput: figure('events/s', 'higher', samples) } };
  },
};

/** Batched appends (one backend write per batch), each batch awaited. */
export const appendBatch: Workload = {
  id: 'append-batch',
  title: 'append throughput, batches of 100 events',
  async run(env) {
    const n = env.sizes.appendBatch;
    const size = Math.min(env.sizes.batchSize, env.store.capabilities.maxBatchSize);
    const events = benchEvents(n);
    const payloads = rawPayloads(n);
    const samples = await sideBySide(
      env,
      'append batch',
      eps,
      (rep) =>
        env.fresh(async (store) => {
          const session = store.session(env.name('store', rep));
          await warm(session);
          const started = performance.now();
          for (let i = 0; i < n; i += size) await session.append(events.slice(i, i + size));
          return perSecond(n, performance.now() - started);
        }),
      (rep) => rawBatches(env, rep, payloads, size),
    );
    return { id: this.id, title: this.title, params: { events: n, batchSize: size }, figures: { throughput: figure('events/s', 'higher', samples) } };
  },
};

/** Writes between yields to the event loop in the writer workload. */
const YIELD_EVERY = 1_000;

/** The writer's default most events per backend write, which the raw side uses as its batch size. */
const WRITER_BATCH = 256;

/**
 * A token stream through `session.writer()` (fire-and-forget writes, coalesced, idempotent), against the raw
 * client writing the same events in batches as big as the writer's.
 */
export const appendWriter: Workload = {
  id: 'append-writer',
  title: 'append throughput through session.writer(), yielding every 1,000 writes (raw: batches of the writer\'s size)',
  async run(env) {
    const n = env.sizes.writer;
    const size = Math.min(WRITER_BATCH, env.store.capabilities.maxBatchSize);
    const events = benchEvents(n);
    const payloads = rawPayloads(n);
    const samples = await sideBySide(
      env,
      'writer',
      eps,
      (rep) =>
        env.fresh(async (store) => {
          const session = store.session(env.name('store', rep));
          await warm(session);
          const started = performance.now();
          const writer = session.writer();
          for (let i = 0; i < n; i++) {
            void writer.write(events[i]!);
            // A token producer yields between bursts (tokens arrive from the network); writing 500k events
            // without ever yielding would only measure one giant in-memory queue.
            if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((resolve) => setImmediate(resolve));
          }
          await writer.close();
          return perSecond(n, performance.now() - started);
        }),
      (rep) => rawBatches(env, rep, payloads, size),
    );
    return { id: this.id, title: this.title, params: { events: n, rawBatchSize: size }, figures: { throughput: figure('events/s', 'higher', samples) } };
  },
};

/**
 * Opens the session before the clock starts, as the raw side's client is connected before its clock starts: the
 * first operation on a session pays one-off costs (the core learns whether it is a fork; Kafka builds its view of
 * the partition) that belong to opening a session, not to appending. `first-event` measures opening costs.
 */
async function warm(session: { info(): Promise<unknown> }): Promise<void> {
  await session.info();
}

/** The raw side of the batched workloads: the baseline writes `payloads` in batches of `size`; events per second. */
function rawBatches(env: BenchEnv, rep: number, payloads: string[], size: number): Promise<number> {
  return env.fresh(async (_, baseline) => {
    const started = performance.now();
    await baseline.appendBatches(env.name('raw', rep), payloads, size);
    return perSecond(payloads.length, performance.now() - started);
  });
}
