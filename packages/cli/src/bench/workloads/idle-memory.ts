import { figure, sideBySide } from '../env.js';
import { until } from '../wait.js';
import type { Workload } from './workload.js';

/** Heap movement below which the heap counts as settled (a few bytes per subscription at the default count). */
const SETTLED_BYTES = 16 * 1024;
/** Most settle rounds before measuring anyway. */
const MAX_ROUNDS = 20;

/**
 * The JS heap in use once it has settled: sockets and clients closed by the previous run release their memory a
 * few event-loop turns later, which otherwise shows up as a negative delta in the next run. So: collect, let
 * pending I/O callbacks run, collect again, until two readings agree.
 */
export async function settledHeap(gc: (() => void) | undefined): Promise<number> {
  let previous = Number.NaN;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    gc?.();
    gc?.();
    const heap = process.memoryUsage().heapUsed;
    if (Math.abs(heap - previous) < SETTLED_BYTES) return heap;
    previous = heap;
    // A short timer, not setImmediate: socket close and client teardown callbacks need a poll phase or two.
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
  return previous;
}

/**
 * Memory per idle subscription: the heap grows by how much while N subscriptions wait on a quiet session,
 * measured after a full GC (exposed by the CLI). The raw side holds N `follow()`ers of one quiet log.
 */
export const idleMemory: Workload = {
  id: 'idle-memory',
  title: 'heap bytes per idle live subscription',
  async run(env) {
    const k = env.sizes.idleSubscriptions;
    const samples = await sideBySide(
      env,
      `idle ${k} subscriptions`,
      (v) => `${Math.round(v)} bytes/subscription`,
      async (rep) => {
        const session = env.store.session(env.name('store', rep));
        const tails = env.store.stats().tails;
        const before = await settledHeap(env.gc);
        let failure: unknown;
        const subs = Array.from({ length: k }, () => session.subscribe({ from: 'now' }).subscribe({ error: (err) => (failure ??= err) }));
        try {
          await until(() => failure !== undefined || env.store.stats().tails >= tails + k, `${k} idle store subscriptions going live`);
          if (failure !== undefined) throw failure;
          return ((await settledHeap(env.gc)) - before) / k;
        } finally {
          for (const sub of subs) sub.unsubscribe();
          await session.close();
        }
      },
      async (rep) => {
        const log = env.name('raw', rep);
        const before = await settledHeap(env.gc);
        const stops = await Promise.all(Array.from({ length: k }, () => env.baseline.follow(log, () => {})));
        try {
          return ((await settledHeap(env.gc)) - before) / k;
        } finally {
          await Promise.all(stops.map((stop) => stop()));
        }
      },
    );
    return {
      id: this.id,
      title: this.title,
      params: { subscriptions: k, gcExposed: env.gc ? 1 : 0 },
      figures: { perSubscription: figure('bytes', 'lower', samples) },
    };
  },
};
