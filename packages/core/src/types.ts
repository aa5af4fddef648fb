import type { Observable } from 'rxjs';
import type { Capabilities } from './capabilities.js';

/** Any value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What an event carries: a JSON value, or raw bytes (kept byte-exact on every backend). */
export type EventData = JsonValue | Uint8Array;

/** An event as an application appends it. */
export interface EventInput<T extends EventData = EventData> {
  /** What kind of event this is (`token`, `tool-call`, …). Types starting with `$` are reserved for the library. */
  type: string;
  /** The payload. Defaults to `null`. */
  data?: T;
  /** Small string metadata, kept with the event. */
  headers?: Record<string, string>;
}

/** Who appended an event: the store's client id, the handle's connection id and, for idempotent appends, the producer. */
export interface ProducerInfo {
  /** The `clientId` of the store that appended (a user, an agent name). */
  clientId: string | undefined;
  /** Unique per session handle: two tabs of one user have one clientId and two connection ids. */
  connectionId: string;
  /** The idempotent producer id, when the append carried one (the writer always does). */
  producerId?: string;
  /** The producer's epoch. */
  epoch?: number;
  /** The producer's sequence number of the append call that stored this event. */
  seq?: number;
}

/** An event as it is stored and delivered. */
export interface SessionEvent<T extends EventData = EventData> {
  /** Opaque position in the session's log: strictly increasing, and sorts correctly as a string. */
  offset: string;
  /** The session this event belongs to. */
  sessionId: string;
  /** The event type. `$end` marks the durable end of the stream; `$ack` acknowledges a control message. */
  type: string;
  /** The payload, JSON or bytes as appended. */
  data: T;
  /** Metadata as appended (an empty object when there was none). */
  headers: Record<string, string>;
  /** When the event was appended, in milliseconds since the epoch (the appending process's clock). */
  timestamp: number;
  /** Who appended it. */
  producer: ProducerInfo;
}

/** A control message: a command from a client to the agent (cancel, steer), on the session's control log. */
export type ControlMessage<T extends EventData = EventData> = SessionEvent<T>;

/** Where a subscription starts: `'start'` (everything retained), `'now'` (only what comes next), or strictly after an offset. */
export type StartPosition = 'start' | 'now' | (string & {});

/** Identifies an idempotent producer: retries with the same id, epoch and seq never store twice. */
export interface ProducerStamp {
  /** A stable id for the producer (1–128 characters). */
  id: string;
  /** Bumped when a producer restarts: a higher epoch fences every older one. Defaults to 0. */
  epoch?: number;
  /** One per append call, starting at 0 for each epoch and increasing by exactly 1. */
  seq: number;
}

/** Options for `session.append`. */
export interface AppendOptions {
  /** Makes the append idempotent: see {@link ProducerStamp}. */
  producer?: ProducerStamp;
  /** Cancels waiting for the result (the append itself may still land; retry with the same producer stamp). */
  signal?: AbortSignal;
}

/** Options for `session.subscribe` and `session.events`. */
export interface SubscribeOptions {
  /** Where to start. An offset means strictly after it. */
  from: StartPosition;
  /** Stops the subscription and frees its backend resources. */
  signal?: AbortSignal;
  /** Events per history page while catching up. Bounds memory during replay. @default 500 */
  pageSize?: number;
}

/** Options for `session.read`. */
export interface ReadOptions {
  /** `'start'` or an offset (strictly after it). @default 'start' */
  from?: 'start' | (string & {});
  /** At most this many events (1–1000). @default 100 */
  limit?: number;
}

/** A page of history. */
export interface ReadResult<T extends EventData = EventData> {
  /** The events, oldest first. */
  events: SessionEvent<T>[];
  /** Pass as `from` to read the next page: the last event's offset, or the `from` given when the page is empty. */
  next: StartPosition;
  /** True when this page reached the current end of the log. */
  upToDate: boolean;
  /** True when the session has ended and this page reached its end. */
  ended: boolean;
}

/** Options for `session.end`. */
export interface EndOptions {
  /** Why the stream ended (`complete`, `cancelled`, `error`, …), delivered in the `$end` event's data. */
  reason?: string;
  /** Extra JSON for the `$end` event. */
  data?: JsonValue;
}

/** What `session.info()` reports. */
export interface SessionInfo {
  /** The session id. */
  id: string;
  /** The offset of the last event, or `null` for an empty session. */
  lastOffset: string | null;
  /** Whether the session has a durable end-of-stream event. */
  ended: boolean;
  /** Present on forks (C21): the session forked from, and the fork point (null: forked at the start). */
  fork?: { source: string; at: string | null };
}

/** Options for `store.fork`. */
export interface ForkOptions {
  /** The new session. It must not exist yet (no event, not a fork): otherwise `CONFLICT`. */
  target: string;
  /**
   * The last source position the fork inherits: an offset of the source (that event and every one before it),
   * `'end'` (everything the source holds now) or `'start'` (nothing; the fork only records its parent).
   * A source's `$end` is never inherited: a fork is open until it ends itself. @default 'end'
   */
  at?: 'start' | 'end' | (string & {});
}

/** What `store.fork` resolves with. */
export interface ForkResult {
  /** The new session's id (the target). */
  id: string;
  /** The session forked from. */
  source: string;
  /** The resolved fork point: a source offset, or null for a fork at the start. */
  at: string | null;
}

/** What a store offers: the backend's capabilities plus what the core adds on every backend. */
export interface StoreCapabilities extends Capabilities {
  /**
   * `store.fork` works (C21). Always true: the core forks by reference on every backend, without copying and
   * without adapter support.
   */
  fork: boolean;
}

/** Options for `session.writer`. */
export interface WriterOptions {
  /** How long an event may wait for companions before its batch is sent. 0 sends on the next tick. @default 5 */
  lingerMs?: number;
  /** The most events in one backend write (capped by the backend's `maxBatchSize`). @default 256 */
  maxBatch?: number;
  /** The producer id that makes retries idempotent. @default a random id */
  producerId?: string;
  /** The producer epoch; a restarted producer with a higher epoch fences the old one. @default 0 */
  epoch?: number;
  /** How many times a batch is retried after a retryable error before the writer fails. @default 8 */
  maxRetries?: number;
  /** First retry delay; doubles per attempt, capped at 2 s. @default 50 */
  retryBackoffMs?: number;
}

/**
 * A coalescing, idempotent producer for token streams: many tiny `write`s become few backend writes, in order.
 * One batch is in flight at a time; a batch that fails with a retryable error is resent with the same producer
 * sequence, so the backend stores it at most once.
 */
export interface SessionWriter {
  /** Queues an event. The promise resolves with its offset once it is durable; it never rejects unhandled. */
  write(event: EventInput): Promise<string>;
  /** Resolves when everything written so far is durable; rejects with the writer's failure if it failed. */
  flush(): Promise<void>;
  /** Flushes, then refuses further writes with `CLOSED`. */
  close(): Promise<void>;
  /** The producer id stamped on every batch. */
  readonly producerId: string;
  /** Events written and not yet durable. */
  readonly pending: number;
}

/** A member of a session's presence set. One per session handle (connection), so two tabs are two members. */
export interface PresenceMember<T extends JsonValue = JsonValue> {
  /** The store's `clientId` (a user id, or an agent's name). */
  clientId: string | undefined;
  /** The handle's connection id: unique per tab, device or process. */
  connectionId: string;
  /** What the member published about itself (`{ role: 'agent', status: 'thinking' }`). */
  data: T;
  /** When the member entered. */
  enteredAt: number;
  /** When the member last entered or updated. */
  updatedAt: number;
}

/** One change of a presence set. */
export interface PresenceChange<T extends JsonValue = JsonValue> {
  /** What happened. */
  action: 'enter' | 'update' | 'leave';
  /** The member, as it is after an enter/update, or as it was before a leave. */
  member: PresenceMember<T>;
  /** For leaves: `left` when the member said so, `timeout` when its heartbeats stopped (a crashed process). */
  reason?: 'left' | 'timeout';
}

/** Presence on a session: who is here, agents included, with crashed members expiring after a timeout. */
export interface SessionPresence {
  /** Enters (or re-enters) with `data`, and keeps the membership alive with heartbeats until `leave`. */
  enter(data?: JsonValue): Promise<void>;
  /** Replaces this member's data; enters first when needed. */
  update(data: JsonValue): Promise<void>;
  /** Leaves now and stops heartbeats. */
  leave(): Promise<void>;
  /** The live members, expired ones excluded. */
  members(): Promise<PresenceMember[]>;
  /** Enter, update and leave events, starting with an `enter` for every current member. */
  changes(): Observable<PresenceChange>;
}

/** What `control.send` returns: the message's offset, and a way to learn that the agent consumed it. */
export interface ControlReceipt {
  /** The control message's offset in the control log. */
  offset: string;
  /**
   * Resolves with the `$ack` event the agent appended to the event log for this message.
   * Rejects with `TIMEOUT` after `timeoutMs` (default 30 s), or `ABORTED` through `signal`.
   */
  acknowledged(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SessionEvent>;
}

/**
 * The control channel: clients send commands (cancel, steer) to whoever runs the session. Control messages are
 * durable with offsets of their own, never appear in the event log, and reach an agent that subscribes later.
 */
export interface SessionControl {
  /** Sends a control message. */
  send(message: EventInput): Promise<ControlReceipt>;
  /** Control messages from a position, as an Observable. */
  subscribe(options: SubscribeOptions): Observable<ControlMessage>;
  /** Control messages from a position, as an async iterator. */
  events(options: SubscribeOptions): AsyncIterableIterator<ControlMessage>;
  /** Appends a `$ack` event to the event log that references the control message; returns the ack's offset. */
  ack(message: ControlMessage | string, data?: JsonValue): Promise<string>;
}

/**
 * One session: an append-only, resumable log of events, with end-of-stream, presence and a control channel.
 * A handle is cheap; it owns a connection id, its writers, presence heartbeats and subscriptions.
 */
export interface DurableSession {
  /** The session id as the application gave it. */
  readonly id: string;
  /** This handle's connection id (presence identity and producer info). */
  readonly connectionId: string;
  /** Appends one event and resolves with its offset once durable. */
  append(event: EventInput, options?: AppendOptions): Promise<string>;
  /** Appends events as one batch (atomically where the backend can) and resolves with their offsets, in order. */
  append(events: EventInput[], options?: AppendOptions): Promise<string[]>;
  /** A coalescing producer for token streams. */
  writer(options?: WriterOptions): SessionWriter;
  /** Replay from `from`, then live, as an Observable. Completes after the `$end` event. */
  subscribe(options: SubscribeOptions): Observable<SessionEvent>;
  /** Replay from `from`, then live, as an async iterator that pulls history page by page. Ends after `$end`. */
  events(options: SubscribeOptions): AsyncIterableIterator<SessionEvent>;
  /** A bounded page of history. */
  read(options?: ReadOptions): Promise<ReadResult>;
  /** Appends the durable `$end` event; subscribers complete after it. Ending twice fails with `SESSION_ENDED`. */
  end(options?: EndOptions): Promise<string>;
  /** The last offset and whether the session has ended. */
  info(): Promise<SessionInfo>;
  /** Presence for this session. */
  readonly presence: SessionPresence;
  /** The control channel for this session. */
  readonly control: SessionControl;
  /**
   * Closes this handle's writers and subscriptions and stops presence heartbeats. By default it also leaves
   * presence at once; with `{ leave: false }` the member stays until its timeout, so a client that reconnects
   * within it (with the same `connectionId`) is never seen leaving. The session's data stays.
   */
  close(options?: { leave?: boolean }): Promise<void>;
}

/** Options for `store.session`. */
export interface SessionHandleOptions {
  /**
   * The presence and producer identity of this handle. Defaults to a random id; pass a stable one (1–64 of
   * `[A-Za-z0-9_-]`) to keep one identity across reconnects, as a gateway does for a browser tab.
   */
  connectionId?: string;
}

/** A connected backend, from `connect()`. */
export interface SessionStore {
  /** The backend's name (`memory`, `redis`, …). */
  readonly backend: string;
  /** What this backend guarantees, plus the core's own capabilities. */
  readonly capabilities: StoreCapabilities;
  /** The client id stamped on appends and presence. */
  readonly clientId: string | undefined;
  /** A handle on a session. Throws `INVALID_SESSION_ID` for ids that cannot be used. */
  session(id: string, options?: SessionHandleOptions): DurableSession;
  /**
   * Forks `source` into a new session `options.target` (a conversation branch, C21): the target's history is the
   * source's events up to and including `options.at`, followed by the target's own appends. O(1): nothing is
   * copied. Inherited events keep their source offsets; the target's own events get offsets that sort after them.
   * The target is a session like any other (replay, live, end, writer, producers), with its own presence and
   * control. Repeating the same fork resolves again; errors: `INVALID_SESSION_ID`, `INVALID_OFFSET` /
   * `OFFSET_TRIMMED` (bad `at`), `INVALID_ARGUMENT` (source never written, target equals source, forks nested
   * deeper than 32), `CONFLICT` (the target exists).
   */
  fork(source: string, options: ForkOptions): Promise<ForkResult>;
  /** Live resource counters: open handles, running subscriptions and backend tails held. */
  stats(): StoreStats;
  /** Closes every handle and the backend's connections. */
  close(): Promise<void>;
}

/** What `store.stats()` reports; a subscription that was unsubscribed or aborted holds nothing. */
export interface StoreStats {
  /** Session handles not yet closed. */
  handles: number;
  /** Subscriptions (Observables and iterators, event and control logs) still running. */
  subscriptions: number;
  /** Backend tails (live followers) held open. */
  tails: number;
}
