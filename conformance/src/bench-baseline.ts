/**
 * The raw-client side of a benchmark: the same work done with the backend's own client and nothing of Durable
 * Sessions in between. `durable-sessions bench <url>` runs every workload through the store and through this,
 * side by side in one run, and reports the ratio. Each adapter package exports a `createBaseline` from its
 * `./bench` subpath (`@durable-sessions/redis/bench`).
 */
export interface RawBaseline {
  /** Shown in reports (`raw node-redis XADD`). */
  readonly name: string;
  /** Appends payloads one at a time, awaiting each, to a fresh log named `log`. */
  appendEach(log: string, payloads: string[]): Promise<void>;
  /** Appends payloads in batches of `batchSize` (one pipelined/batched write per batch), awaiting each batch. */
  appendBatches(log: string, payloads: string[], batchSize: number): Promise<void>;
  /** Reads `log` to its end after skipping its first `skip` events, page by page; returns how many were read. */
  replay(log: string, skip: number): Promise<number>;
  /**
   * Follows `log` live from its current end, calling `onPayload` for every payload appended afterwards (appended
   * through `appendEach`). Resolves once the follower is ready; the returned function stops it.
   */
  follow(log: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Closes the clients the baseline opened. */
  close(): Promise<void>;
  /**
   * Upper bounds on bench sizes for a rate-limited target (real Ably allows 50 messages/s per channel): when set,
   * calibration is skipped and every size is capped by these.
   */
  readonly sizeLimits?: Readonly<Record<string, number>>;
}

/** What an adapter's `./bench` subpath exports as `createBaseline`. */
export type BaselineFactory = (url: string) => Promise<RawBaseline>;
