/**
 * What a backend guarantees. The conformance suite runs the tests a capability requires and checks that an
 * operation a backend does not declare rejects with `NOT_SUPPORTED`.
 */
export interface Capabilities {
  /** Events survive a restart of the backend (false for the embedded memory backend). */
  durable: boolean;
  /** `append` with a producer stamp de-duplicates retries and detects gaps and stale epochs. */
  idempotentAppend: boolean;
  /** A batch append is all-or-nothing. */
  atomicBatch: boolean;
  /** Appending after `$end` is refused atomically (otherwise a racing append may land just after the end). */
  atomicEnd: boolean;
  /** How presence is provided: by the backend itself, emulated by the core on the backend's storage, or not at all. */
  presence: 'native' | 'emulated' | 'none';
  /** The largest encoded event the backend stores, in bytes. */
  maxPayloadBytes: number;
  /** The most events one append call may carry. */
  maxBatchSize: number;
  /** Which retention limits the backend enforces. */
  retention: {
    /** Events older than `maxAgeMs` are removed. */
    maxAge: boolean;
    /** Only the newest `maxEvents` events of a session are kept. */
    maxEvents: boolean;
  };
  /** Whether the backend can tell, for a resume offset, that events after it were trimmed (`OFFSET_TRIMMED`). */
  detectsTrimmedOffsets: boolean;
}

/** Retention limits, per session log. Backends apply what their capabilities declare. */
export interface RetentionOptions {
  /** Remove events older than this many milliseconds. */
  maxAgeMs?: number;
  /** Keep at most this many events per session log. */
  maxEvents?: number;
}
