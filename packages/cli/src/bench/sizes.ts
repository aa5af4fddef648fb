import type { BenchSizes } from './types.js';

/**
 * The default run: sized so `durable-sessions bench memory:` takes about a minute on a 2-core machine, with a warm-up and
 * five measured repetitions of everything (the median is reported because shared machines are noisy).
 */
export const DEFAULT_SIZES: BenchSizes = {
  repetitions: 5,
  appendSingle: 300_000,
  appendBatch: 500_000,
  batchSize: 100,
  writer: 500_000,
  latency: 50_000,
  replayLength: 400_000,
  firstEvent: 5_000,
  fanoutSubscribers: 100,
  fanoutEvents: 10_000,
  idleSubscriptions: 2_000,
};

/** A smoke test: every workload, tiny, once. */
export const QUICK_SIZES: BenchSizes = {
  repetitions: 1,
  appendSingle: 200,
  appendBatch: 1_000,
  batchSize: 100,
  writer: 1_000,
  latency: 50,
  replayLength: 2_000,
  firstEvent: 10,
  fanoutSubscribers: 5,
  fanoutEvents: 100,
  idleSubscriptions: 50,
};
