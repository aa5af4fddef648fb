/**
 * What the connected server can do. Features of newer servers are enabled only when the version says so AND,
 * where the server echoes a setting back, when the echo confirms it: nats-server 2.9 accepts unknown stream
 * settings (allow_msg_ttl, subject_delete_marker_ttl) and silently ignores them.
 */
export interface NatsFeatures {
  /** The server version as it reports it (`2.9.10`). */
  readonly version: string;
  /** Consumers with several filter subjects (2.10+). Not needed: every consumer of this adapter has one filter. */
  readonly multipleFilterSubjects: boolean;
  /**
   * Per-message TTL and subject delete markers (2.11+), confirmed by the presence bucket's echoed config. When
   * true, presence entries expire per key and the expiry wakes watchers; otherwise the bucket-wide TTL applies and
   * the core notices leaves by polling.
   */
  readonly perMessageTtl: boolean;
  /** Batch direct get (2.11+). */
  readonly batchDirectGet: boolean;
  /** Atomic batch publish (2.12+). Not needed: a batch is stored as one message. */
  readonly atomicBatchPublish: boolean;
}

/** Parses `major.minor.patch` (pre-release suffixes ignored); unknown parts count as 0. */
export function parseVersion(version: string): [number, number, number] {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return [0, 0, 0];
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Whether `version` is at least `major.minor`. */
export function atLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(version);
  return a > major || (a === major && b >= minor);
}

/** Features by version alone; `perMessageTtl` still needs the echo check (see {@link NatsFeatures}). */
export function featuresOf(version: string, ttlEchoed: boolean): NatsFeatures {
  return {
    version,
    multipleFilterSubjects: atLeast(version, 2, 10),
    perMessageTtl: atLeast(version, 2, 11) && ttlEchoed,
    batchDirectGet: atLeast(version, 2, 11),
    atomicBatchPublish: atLeast(version, 2, 12),
  };
}
