import type { EventInput, SessionStore } from '@durable-sessions/core';
import type { RawBaseline } from '@durable-sessions/conformance';
import { median } from './stats.js';
import type { BenchFigure, BenchSizes, Better } from './types.js';

/** What every workload gets: both sides, the sizes, unique names and a progress line printer. */
export interface BenchEnv {
  /** The Durable Sessions side. */
  readonly store: SessionStore;
  /** The raw-client side. */
  readonly baseline: RawBaseline;
  readonly sizes: BenchSizes;
  /** Forces a full garbage collection, when node exposes it. */
  readonly gc: (() => void) | undefined;
  /** A unique name for a session (store side) or log (baseline side) of this run. */
  name(...parts: (string | number)[]): string;
  /** Prints a progress line to stderr. */
  progress(line: string): void;
  /**
   * Runs `body` on a new store and a new baseline, closed afterwards: write-heavy runs use it so the embedded
   * backend frees each run's events before the next, keeping the heap (and GC pauses) from growing run by run.
   */
  fresh<T>(body: (store: SessionStore, baseline: RawBaseline) => Promise<T>): Promise<T>;
}

/** The measurements of one figure over the repetitions. */
export interface Samples {
  store: number[];
  baseline: number[];
}

/**
 * Runs `store` and `baseline` once each unmeasured (rep -1: connections, caches and the JIT warm up), then
 * `repetitions` times each, alternating which goes first so neither side always runs on a warmer (or more
 * fragmented) process, and reports each value as it arrives.
 */
export async function sideBySide(
  env: BenchEnv,
  label: string,
  format: (value: number) => string,
  store: (rep: number) => Promise<number>,
  baseline: (rep: number) => Promise<number>,
): Promise<Samples> {
  const samples: Samples = { store: [], baseline: [] };
  const reps = env.sizes.repetitions;
  await store(-1);
  await baseline(-1);
  for (let rep = 0; rep < reps; rep++) {
    const order: Array<['store' | 'baseline', (rep: number) => Promise<number>]> = [['store', store], ['baseline', baseline]];
    if (rep % 2 === 1) order.reverse();
    for (const [side, run] of order) {
      const value = await run(rep);
      samples[side].push(value);
      env.progress(`  ${label} ${side === 'store' ? 'store   ' : 'raw     '} ${format(value)}  (run ${rep + 1}/${reps})`);
    }
  }
  return samples;
}

/** A figure from repeated samples: medians, ratio store/baseline and difference store − baseline. */
export function figure(unit: string, better: Better, samples: Samples): BenchFigure {
  const store = median(samples.store);
  const baseline = median(samples.baseline);
  return { unit, store, baseline, ratio: baseline === 0 ? Number.NaN : store / baseline, difference: store - baseline, better, samples };
}

const TEXT = 'the quick brown fox jumps over the lazy dog ';

/** The i-th benchmark event: a token-sized JSON event, the typical AI streaming payload. */
export function benchEvent(i: number): EventInput {
  return { type: 'token', data: { i, text: TEXT } };
}

/** The same event as the raw client stores it: the JSON an application would write without Durable Sessions. */
export function rawPayload(i: number): string {
  return JSON.stringify(benchEvent(i));
}

/** `count` events starting at `from`. */
export function benchEvents(count: number, from = 0): EventInput[] {
  return Array.from({ length: count }, (_, k) => benchEvent(from + k));
}

/** `count` raw payloads starting at `from`. */
export function rawPayloads(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, k) => rawPayload(from + k));
}
