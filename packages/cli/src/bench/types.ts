/** Whether a bigger number is better (throughput) or worse (latency, memory). */
export type Better = 'higher' | 'lower';

/** One measured figure, through the store and through the raw client, side by side. */
export interface BenchFigure {
  /** `events/s`, `ms`, `bytes`. */
  unit: string;
  /** Median over the repetitions, through Durable Sessions. */
  store: number;
  /** Median over the repetitions, through the backend's raw client. */
  baseline: number;
  /** store / baseline. Below 1 means the store is slower for throughputs, faster for latencies and memory. */
  ratio: number;
  /** store − baseline, in `unit`: the overhead the store adds (for latencies and memory). */
  difference: number;
  /** Which direction is good. */
  better: Better;
  /** Every repetition's value, for judging noise. */
  samples: { store: number[]; baseline: number[] };
}

/** One workload's results. */
export interface WorkloadResult {
  /** Stable id (`append-single`). */
  id: string;
  /** What was measured, in words. */
  title: string;
  /** The sizes used (events, subscribers, batch size…). */
  params: Record<string, number>;
  /** Named figures (`throughput`, `p50`, `p99`, `perSubscription`…). */
  figures: Record<string, BenchFigure>;
}

/** How big each workload is; see `sizes.ts` for the default and quick runs. */
export interface BenchSizes {
  /** Times each measurement is repeated (the median is reported). */
  repetitions: number;
  /** Awaited single appends. */
  appendSingle: number;
  /** Events appended in batches. */
  appendBatch: number;
  /** Events per batch (capped by the backend's maxBatchSize). */
  batchSize: number;
  /** Events written through `session.writer()`. */
  writer: number;
  /** Latency samples (one event in flight at a time). */
  latency: number;
  /** Length of the long session replayed from its middle. */
  replayLength: number;
  /** Fresh subscriptions timed to their first event. */
  firstEvent: number;
  /** Subscribers following one session. */
  fanoutSubscribers: number;
  /** Events appended while they follow. */
  fanoutEvents: number;
  /** Idle subscriptions held open for the heap measurement. */
  idleSubscriptions: number;
}

/** What `durable-sessions bench --json` writes. */
export interface BenchReport {
  /** The exact command line. */
  command: string;
  /** The URL benchmarked, credentials hidden. */
  url: string;
  /** The store's backend name. */
  backend: string;
  /** The raw client the store was compared with. */
  baseline: string;
  /** `quick` or `default`. */
  profile: 'quick' | 'default';
  /** The sizes used (the defaults, shrunk for slow backends after calibration). */
  sizes: BenchSizes;
  /** The store's measured append rates that the sizes were fitted to (absent in the quick profile). */
  calibration?: { singleAppendsPerSecond: number; batchedEventsPerSecond: number };
  /** Whether `global.gc` was available for the heap measurement (without it the figure is noisy). */
  gc: boolean;
  machine: { cpus: number; cpuModel: string; totalMemoryBytes: number; node: string; v8: string; os: string };
  startedAt: string;
  durationMs: number;
  workloads: WorkloadResult[];
}
