import type { SessionStore } from '@durable-sessions/core';
import { benchEvent, benchEvents } from './env.js';
import type { BenchSizes } from './types.js';

/** How fast the store writes on this backend, measured briefly before the workloads. */
export interface Calibration {
  /** Awaited single appends per second. */
  singleAppendsPerSecond: number;
  /** Events per second in awaited batches of `batchSize`. */
  batchedEventsPerSecond: number;
}

/** How long each calibration probe may run. */
const PROBE_MS = 1_000;

/** Measures single and batched append rates on a scratch session, each for about a second. */
export async function calibrate(store: SessionStore, sessionId: string, batchSize: number): Promise<Calibration> {
  const session = store.session(sessionId);
  try {
    let started = performance.now();
    let singles = 0;
    while (performance.now() - started < PROBE_MS && singles < 20_000) await session.append(benchEvent(singles++));
    const singleAppendsPerSecond = (singles * 1000) / (performance.now() - started);
    const batch = benchEvents(batchSize);
    started = performance.now();
    let batched = 0;
    while (performance.now() - started < PROBE_MS && batched < 200_000) {
      await session.append(batch);
      batched += batch.length;
    }
    return { singleAppendsPerSecond, batchedEventsPerSecond: (batched * 1000) / (performance.now() - started) };
  } finally {
    await session.close();
  }
}

/**
 * Shrinks the default sizes for a slower backend so that one run of each workload takes a few seconds: the
 * defaults are tuned for the embedded backend (the whole run in about a minute), and a network backend doing a few
 * thousand appends a second would otherwise need many minutes. Never grows a size, and keeps sane minimums.
 */
export function scaleSizes(sizes: BenchSizes, c: Calibration): BenchSizes {
  const fit = (max: number, perSecond: number, seconds: number, min: number) => Math.max(min, Math.min(max, Math.round(perSecond * seconds)));
  return {
    ...sizes,
    appendSingle: fit(sizes.appendSingle, c.singleAppendsPerSecond, 2, 200),
    latency: fit(sizes.latency, c.singleAppendsPerSecond, 1, 100),
    firstEvent: fit(sizes.firstEvent, c.singleAppendsPerSecond, 0.3, 20),
    appendBatch: fit(sizes.appendBatch, c.batchedEventsPerSecond, 2, 1_000),
    writer: fit(sizes.writer, c.batchedEventsPerSecond, 2, 1_000),
    replayLength: fit(sizes.replayLength, c.batchedEventsPerSecond, 3, 2_000),
    fanoutEvents: fit(sizes.fanoutEvents, c.batchedEventsPerSecond, 0.5, 100),
  };
}
