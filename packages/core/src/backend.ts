import type { Capabilities, RetentionOptions } from './capabilities.js';

/**
 * The adapter contract. An adapter translates these few primitives onto its backend; the core builds the whole
 * `DurableSession` (validation, encoding, offsets tagging, replay-then-live, end-of-stream, writer batching,
 * presence diffing and expiry, control acknowledgements) on top of them. See docs/writing-an-adapter.md.
 */

/** Which of a session's two logs an operation addresses. The control log is a second, independent log. */
export type LogKind = 'events' | 'control';

/** A session's log, as the core hands it to a backend. */
export interface LogRef {
  /** The session id as the application gave it (already validated). Never use it in keys or subjects. */
  readonly sessionId: string;
  /**
   * The session id encoded once by the core: `[A-Za-z0-9_-]{1,350}`, injective, never a wildcard, separator or path
   * segment. Use it (and only it) to build keys, subjects, topics and channel names.
   */
  readonly key: string;
  /** Which log. */
  readonly kind: LogKind;
}

/** A session's presence set, as the core hands it to a backend. */
export interface PresenceRef {
  /** The session id (validated). */
  readonly sessionId: string;
  /** The safe encoded key, as in {@link LogRef.key}. */
  readonly key: string;
}

/** The producer stamp of an idempotent append (epoch defaulted by the core). */
export interface BackendProducer {
  readonly id: string;
  readonly epoch: number;
  readonly seq: number;
}

/** One append call. */
export interface BackendAppendRequest {
  /** Encoded events, oldest first, at least one. Store them as opaque strings and return them unchanged. */
  readonly records: readonly string[];
  /**
   * When present, apply the producer rules atomically with the append (see `checkProducer` in the core):
   * same epoch and `seq === last + 1` appends; `seq <= last` is a duplicate (return the stored offsets of that
   * call when still known, with `duplicate: true`); `seq > last + 1` throws `SEQUENCE_GAP`; an older epoch throws
   * `STALE_PRODUCER`; a newer epoch must start at seq 0 and fences older ones.
   */
  readonly producer?: BackendProducer;
  /**
   * The last record is the end-of-stream marker. After it commits the log is ended: every later append must
   * throw `SESSION_ENDED` (atomically where `capabilities.atomicEnd` says so).
   */
  readonly end?: boolean;
}

/** What an append returns. */
export interface BackendAppendResult {
  /** One raw offset per record, in order. */
  readonly offsets: readonly string[];
  /** True when the producer stamp showed a retry: nothing was stored this time. */
  readonly duplicate?: boolean;
}

/** A stored record. */
export interface BackendEntry {
  /**
   * The adapter's raw offset: `[0-9A-Za-z_.:]{1,128}`, strictly increasing within a log, and ordered correctly by
   * plain string comparison (use fixed-width encodings). The core adds its own session tag around it.
   */
  readonly offset: string;
  /** The record exactly as appended. */
  readonly payload: string;
}

/** The state of a log. */
export interface BackendLogInfo {
  /** The raw offset of the newest record, or null when the log is empty. */
  readonly last: string | null;
  /** Whether an end-of-stream record was appended. */
  readonly ended: boolean;
  /**
   * The raw offset of the newest record removed by retention, or null when none was. A resume from an offset
   * below it fails with `OFFSET_TRIMMED` (records after the offset are gone). Backends that cannot know return null
   * and declare `detectsTrimmedOffsets: false`.
   */
  readonly trimmedThrough: string | null;
}

/** Receives live records from {@link Backend.tail}. */
export interface TailListener {
  /** Records in order. Redelivering a record already delivered is allowed (the core drops it); skipping one is not. */
  next(entries: readonly BackendEntry[]): void;
  /**
   * A failure the adapter could not recover from (it retries transient ones itself). The core ends the subscription
   * with it, or (for retryable codes) resubscribes from the last delivered offset.
   */
  error(err: unknown): void;
}

/** A member's presence record; the core encodes the member, the backend stores it. */
export interface BackendPresenceEntry {
  /** Unique per member (the session handle's connection id). */
  readonly connectionId: string;
  /** The encoded member, opaque to the backend. */
  readonly payload: string;
  /** When the member expires unless refreshed (ms since the epoch). Backends may drop it any time after. */
  readonly expiresAt: number;
}

/**
 * Storage for presence. The core sends heartbeats, filters expired members by `expiresAt` and computes
 * enter/update/leave changes, so a backend only stores, lists and (optionally) signals changes.
 */
export interface BackendPresence {
  /** Inserts or replaces a member. */
  put(ref: PresenceRef, entry: BackendPresenceEntry): Promise<void>;
  /** Removes a member (no error if absent). */
  remove(ref: PresenceRef, connectionId: string): Promise<void>;
  /** Lists members; may include expired ones, which the core filters out. */
  list(ref: PresenceRef): Promise<BackendPresenceEntry[]>;
  /**
   * Optional wake-up: calls `onChange` (spurious calls are fine) whenever members may have changed, so changes
   * are seen without waiting for the core's periodic re-list. Returns an unsubscribe function.
   */
  watch?(ref: PresenceRef, onChange: () => void): () => void;
}

/**
 * A backend instance, as an adapter's factory returns it. All methods may throw {@link DurableSessionError}s;
 * anything else is wrapped as `BACKEND_UNAVAILABLE` by the core.
 */
export interface Backend {
  /** Short name used in errors and reports (`redis`, `nats`, …). */
  readonly name: string;
  /** What this backend guarantees. */
  readonly capabilities: Capabilities;
  /** Appends records; see {@link BackendAppendRequest} for producer and end rules. */
  append(log: LogRef, request: BackendAppendRequest): Promise<BackendAppendResult>;
  /**
   * Up to `limit` records strictly after `after` (null: from the first retained record), oldest first. Fewer
   * than `limit` means the end of the log was reached. May throw `OFFSET_TRIMMED` when records after `after` are gone.
   */
  read(log: LogRef, after: string | null, limit: number): Promise<BackendEntry[]>;
  /** The log's last offset, end flag and trim watermark. */
  info(log: LogRef): Promise<BackendLogInfo>;
  /**
   * Delivers every record strictly after `after` (null: from the first retained one) to `listener`, including
   * records appended before this call, then live ones as they are appended, until the returned function is called.
   * That function must free the backend resources the tail holds.
   */
  tail(log: LogRef, after: string | null, listener: TailListener): () => void;
  /** Presence storage; omit when `capabilities.presence` is `'none'`. */
  readonly presence?: BackendPresence;
  /** Closes connections the backend opened (not a client the user passed in). */
  close(): Promise<void>;
}

/** What an adapter's registry entry point receives: the parsed URL (if any) plus the options object. */
export interface BackendConfig {
  /** The backend URL, when the store was configured with one. */
  url?: string;
  /** Retention limits from the store options. */
  retention?: RetentionOptions;
  /** Adapter-specific options, passed through from the options object. */
  [option: string]: unknown;
}

/**
 * What an adapter package exports for URL- and name-based configuration (`connect('redis://…')`,
 * `connect({ backend: 'redis', … })`). Adapters also export their own typed factory for direct use.
 */
export type BackendFactory = (config: BackendConfig) => Backend | Promise<Backend>;
