import { connect, redact, type SessionStore } from '@durable-sessions/core';
import type { RawBaseline } from '@durable-sessions/conformance';
import { loadBaseline } from './baseline.js';
import type { BenchEnv } from './env.js';
import { calibrate, scaleSizes, type Calibration } from './calibrate.js';
import { exposeGc } from './gc.js';
import { machineInfo } from './machine.js';
import { DEFAULT_SIZES, QUICK_SIZES } from './sizes.js';
import type { BenchReport, BenchSizes, WorkloadResult } from './types.js';
import { appendBatch, appendSingle, appendWriter } from './workloads/append.js';
import { fanout } from './workloads/fanout.js';
import { firstEventWorkload } from './workloads/first-event.js';
import { idleMemory } from './workloads/idle-memory.js';
import { latency } from './workloads/latency.js';
import { replay } from './workloads/replay.js';
import type { Workload } from './workloads/workload.js';

/** Every workload, in the order they run. */
export const WORKLOADS: readonly Workload[] = [appendSingle, appendBatch, appendWriter, latency, replay, firstEventWorkload, fanout, idleMemory];

/** Runs `body` with a new store and baseline for `url`, closing both afterwards. */
async function withConnections<T>(url: string, body: (store: SessionStore, baseline: RawBaseline) => Promise<T>): Promise<T> {
  const store = await connect(url);
  try {
    const baseline = await loadBaseline(store.backend, url);
    try {
      return await body(store, baseline);
    } finally {
      await baseline.close();
    }
  } finally {
    await store.close();
  }
}

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** The tiny smoke-test profile. */
  quick?: boolean;
  /** Overrides sizes (tests, tuning). */
  sizes?: Partial<BenchSizes>;
  /** Receives progress lines. */
  progress?: (line: string) => void;
  /** The command line recorded in the report. */
  command?: string;
  /** Runs only the workloads with these ids (all when absent). */
  only?: readonly string[];
  /** Caps sizes after calibration (`bench-report` keeps the embedded backend's runs short with it). */
  maxSizes?: Partial<BenchSizes>;
}

/** `sizes` with every field capped by `max`. */
function capSizes(sizes: BenchSizes, max: Partial<BenchSizes> | undefined): BenchSizes {
  if (!max) return sizes;
  const capped = { ...sizes };
  for (const [key, limit] of Object.entries(max) as Array<[keyof BenchSizes, number]>) capped[key] = Math.min(capped[key], limit);
  return capped;
}

/**
 * Runs every workload against `url` through the Durable Sessions store and through the backend's raw client
 * (loaded from `@durable-sessions/<backend>/bench`), side by side, and returns every figure with its baseline.
 */
export async function runBench(url: string, options: BenchOptions = {}): Promise<BenchReport> {
  const progress = options.progress ?? (() => {});
  let sizes: BenchSizes = { ...(options.quick ? QUICK_SIZES : DEFAULT_SIZES), ...options.sizes };
  const startedAt = new Date();
  const started = performance.now();
  const gc = exposeGc();
  const run = `b${Date.now().toString(36)}${globalThis.crypto.randomUUID().slice(0, 6)}`;
  let calibration: Calibration | undefined;
  const sizeLimits = options.quick ? undefined : await withConnections(url, async (_store, baseline) => baseline.sizeLimits);
  if (sizeLimits) {
    sizes = capSizes({ ...sizes, ...options.sizes }, { ...(sizeLimits as Partial<BenchSizes>), ...options.maxSizes });
    progress(`bench: sizes capped by the baseline (a rate-limited target): ${Object.entries(sizes).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  } else if (!options.quick) {
    calibration = await withConnections(url, (store) => calibrate(store, `bench-${run}-calibrate`, Math.min(sizes.batchSize, store.capabilities.maxBatchSize)));
    sizes = capSizes({ ...scaleSizes(sizes, calibration), ...options.sizes }, options.maxSizes);
    progress(
      `bench: calibration: ${Math.round(calibration.singleAppendsPerSecond)} single appends/s, ${Math.round(calibration.batchedEventsPerSecond)} batched events/s; ` +
        `sizes: ${Object.entries(sizes).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    );
  }
  const workloads: WorkloadResult[] = [];
  let backend = '';
  let baselineName = '';
  const selected = options.only ? WORKLOADS.filter((w) => options.only!.includes(w.id)) : WORKLOADS;
  for (const workload of selected) {
    // Fresh connections per workload: the embedded backend then frees the previous workload's events, so the heap
    // (and GC pauses) stay small, and no workload measures another one's leftovers.
    const result = await withConnections(url, async (store, baseline) => {
      if (!backend) {
        progress(`bench: ${redact(url)} (store, backend ${store.backend}) vs ${baseline.name} (raw); ${sizes.repetitions} run(s) of each after a warm-up, median reported`);
      }
      backend = store.backend;
      baselineName = baseline.name;
      const env: BenchEnv = {
        store,
        baseline,
        sizes,
        gc,
        name: (...parts) => ['bench', run, workload.id, ...parts].join('-'),
        progress,
        fresh: (body) => withConnections(url, body),
      };
      progress(`bench: ${workload.id}: ${workload.title}`);
      const t0 = performance.now();
      const outcome = await workload.run(env);
      progress(`bench: ${workload.id} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return outcome;
    });
    workloads.push(result);
  }
  return {
    command: options.command ?? `durable-sessions bench ${url}`,
    url: redact(url),
    backend,
    baseline: baselineName,
    profile: options.quick ? 'quick' : 'default',
    sizes,
    ...(calibration ? { calibration } : {}),
    gc: gc !== undefined,
    machine: machineInfo(),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    workloads,
  };
}
