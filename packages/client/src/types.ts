import type { Observable } from 'rxjs';
import type { DurableSessionError } from './errors.js';
import type { SessionWriter, WriterOptions } from './writer.js';

// These shapes mirror @durable-sessions/core's types.ts on purpose (the client must not pull the core into a
// browser bundle); keep them in step with it.

/** Any value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What an event carries: a JSON value, or raw bytes (sent as base64 and restored byte-exact). */
export type EventData = JsonValue | Uint8Array;

/** An event as an application appends it. */
export interface EventInput<T extends EventData = EventData> {
  /** What kind of event this is. Types starting with `$` are reserved for the library. */
  type: string;
  /** The payload. Defaults to `null`. */
  data?: T;
  /** Small string metadata, kept with the event. */
  headers?: Record<string, string>;
}

/** Who appended an event. */
export interface ProducerInfo {
  /** The gateway store's client id. */
  clientId: string | undefined;
  /** The connection that appended (one per client: two tabs are two connections). */
  connectionId: string;
  /** The idempotent producer id, when the append carried one. */
  producerId?: string;
  /** The producer's epoch. */
  epoch?: number;
  /** The producer's sequence number of the append that stored this event. */
  seq?: number;
}

/** An event as it is stored and delivered. */
export interface SessionEvent<T extends EventData = EventData> {
  /** Opaque position in the session's log: strictly increasing, and sorts correctly as a plain string. */
  offset: string;
  /** The session this event belongs to. */
  sessionId: string;
  /** The event type. `$end` marks the durable end of the stream; `$ack` acknowledges a control message. */
  type: string;
  /** The payload, JSON or bytes as appended. */
  data: T;
  /** Metadata as appended. */
  headers: Record<string, string>;
  /** When the event was appended (ms since the epoch, the gateway's clock). */
  timestamp: number;
  /** Who appended it. */
  producer: ProducerInfo;
}

/** A control message (cancel, steer) on the session's control log. */
export type ControlMessage<T extends EventData = EventData> = SessionEvent<T>;

/** Where a subscription starts: `'start'`, `'now'`, or strictly after an offset. */
export type StartPosition = 'start' | 'now' | (string & {});

/** Makes an append idempotent: retries with the same id, epoch and seq are never stored twice. */
export interface ProducerStamp {
  /** A stable producer id (1–128 characters). */
  id: string;
  /** Bumped when a producer restarts; a higher epoch fences older ones. Defaults to 0. */
  epoch?: number;
  /** One per append call, from 0 per epoch, increasing by exactly 1. */
  seq: number;
}

/** Options of `session.append`. */
export interface AppendOptions {
  /**
   * Makes the append idempotent. With a stamp, an append whose answer was lost in a disconnect is resent after the
   * reconnect (the gateway answers a repeat as a duplicate); without one it fails with `DISCONNECTED`.
   */
  producer?: ProducerStamp;
  /** Stops waiting for the result (the append may still land). */
  signal?: AbortSignal;
}

/** Options of `subscribe` and `events`. */
export interface SubscribeOptions {
  /** Where to start. An offset means strictly after it. */
  from: StartPosition;
  /** Stops the subscription and frees it on the gateway. */
  signal?: AbortSignal;
}

/** Options of `session.read`. */
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
  /** Pass as `from` to read the next page. */
  next: StartPosition;
  /** True when this page reached the current end of the log. */
  upToDate: boolean;
  /** True when the session has ended and this page reached its end. */
  ended: boolean;
}

/** Options of `session.end`. */
export interface EndOptions {
  /** Why the stream ended (`complete`, `cancelled`, …), carried in the `$end` event's data. */
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
}

/** A member of a session's presence set: one per connection. */
export interface PresenceMember<T extends JsonValue = JsonValue> {
  /** The gateway store's client id. */
  clientId: string | undefined;
  /** The member's connection id. */
  connectionId: string;
  /** What the member published about itself. */
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
  /**
   * For leaves: `left` or `timeout` as the gateway reported it; absent for a leave the client inferred after a
   * reconnect (the member was gone when it looked again).
   */
  reason?: 'left' | 'timeout';
}

/** Presence on a session, bound to this client's connection (it survives reconnects within the presence timeout). */
export interface ClientPresence {
  /** Enters (or re-enters) with `data`. The client re-enters by itself after every reconnect until `leave`. */
  enter(data?: JsonValue): Promise<void>;
  /** Replaces this member's data; enters first when needed. */
  update(data: JsonValue): Promise<void>;
  /** Leaves now. */
  leave(): Promise<void>;
  /** The live members. */
  members(): Promise<PresenceMember[]>;
  /**
   * Enter, update and leave events, starting with an `enter` for every current member. Across reconnects the
   * client reconciles with a fresh member list, so each change is reported once.
   */
  changes(): Observable<PresenceChange>;
}

/** What `control.send` returns. */
export interface ControlReceipt {
  /** The control message's offset in the control log. */
  offset: string;
  /**
   * Resolves with the `$ack` event the agent appended for this message. Rejects with `TIMEOUT` after
   * `timeoutMs` (default 30 s), `ABORTED` through `signal`, or `SESSION_ENDED` when the session ends first.
   */
  acknowledged(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<SessionEvent>;
}

/** The control channel: commands from clients to whoever runs the session. */
export interface ClientControl {
  /** Sends a control message (rights `control`, and `read` for `acknowledged()`). */
  send(message: EventInput): Promise<ControlReceipt>;
  /** Control messages from a position, as an Observable (rights `read` + `control`). */
  subscribe(options: SubscribeOptions): Observable<ControlMessage>;
  /** Control messages from a position, as an async iterator. */
  events(options: SubscribeOptions): AsyncIterableIterator<ControlMessage>;
  /** Appends a `$ack` event for a control message (right `append`); returns the ack's offset. */
  ack(message: ControlMessage | string, data?: JsonValue): Promise<string>;
}

/**
 * One session through the gateway, with the core's `DurableSession` shape: subscriptions resume by themselves
 * across reconnects, strictly after the last event they delivered.
 */
export interface ClientSession {
  /** The session id. */
  readonly id: string;
  /** The client's connection id (presence identity), stable across reconnects. */
  readonly connectionId: string;
  /** Appends one event and resolves with its offset once durable. */
  append(event: EventInput, options?: AppendOptions): Promise<string>;
  /** Appends events as one batch and resolves with their offsets, in order. */
  append(events: EventInput[], options?: AppendOptions): Promise<string[]>;
  /** A coalescing, idempotent producer for token streams; survives reconnects without loss or duplicates. */
  writer(options?: WriterOptions): SessionWriter;
  /** Replay from `from`, then live, as an Observable. Completes after the `$end` event. */
  subscribe(options: SubscribeOptions): Observable<SessionEvent>;
  /**
   * Replay from `from`, then live, as an async iterator. Memory stays bounded: when the consumer falls behind, the
   * client pauses the subscription on the gateway and resumes it from the last buffered offset.
   */
  events(options: SubscribeOptions): AsyncIterableIterator<SessionEvent>;
  /** A bounded page of history. */
  read(options?: ReadOptions): Promise<ReadResult>;
  /** Appends the durable `$end` event. Ending twice fails with `SESSION_ENDED`. */
  end(options?: EndOptions): Promise<string>;
  /** The last offset and whether the session has ended. */
  info(): Promise<SessionInfo>;
  /** Presence for this session. */
  readonly presence: ClientPresence;
  /** The control channel. */
  readonly control: ClientControl;
  /** Stops this handle's subscriptions and, unless `{ leave: false }`, leaves presence. */
  close(options?: { leave?: boolean }): Promise<void>;
}

/** Where a subscription will resume after the reconnect. */
export interface ResumePoint {
  /** The session. */
  session: string;
  /** Which log: the event log or the control log. */
  log: 'events' | 'control';
  /** The position the subscription resumes from: the last delivered offset (strictly after it), or its start. */
  from: StartPosition;
}

/**
 * The connection as an application shows it. `reconnecting` is "disconnected, resuming" (nothing is lost);
 * `stopped` is final: closed by the application, or a failure a reconnect cannot fix (`error` says which).
 */
export type ConnectionState =
  /** The first connection is being opened. */
  | { status: 'connecting'; attempt: number }
  /** Connected and authenticated: subscriptions are live. */
  | { status: 'live'; connectionId: string }
  /**
   * Disconnected, resuming: the next attempt starts in about `retryInMs` (0 while it runs). `resuming` lists every
   * subscription and the offset it resumes strictly after.
   */
  | { status: 'reconnecting'; attempt: number; retryInMs: number; error?: DurableSessionError; resuming: ResumePoint[] }
  /** Closed for good; every subscription has ended (with `error`, when there was one). */
  | { status: 'stopped'; error?: DurableSessionError };

/** The minimal WebSocket the client needs: the browser's, Node 22's global, or `ws`'s class. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or `WebSocket` from `ws` in Node 20). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Reconnect back-off: exponential with jitter. */
export interface ReconnectOptions {
  /** Delay before the first retry. @default 250 */
  initialDelayMs?: number;
  /** Longest delay between attempts. @default 15000 */
  maxDelayMs?: number;
  /** Growth per failed attempt. @default 2 */
  factor?: number;
  /** Consecutive failed attempts before the client stops with the last error. @default Infinity */
  maxAttempts?: number;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The gateway's base URL (`http(s)://…` as `durable-sessions serve` prints it, or `ws(s)://…/v1/ws`). */
  url: string;
  /** A fixed token. It cannot be refreshed: when it expires the client stops with `TOKEN_EXPIRED`. */
  token?: string;
  /**
   * Fetches a fresh token: called before every connection and when the gateway says the token is expiring, so the
   * stream continues without loss. A rejection is retried with back-off, except one with `code: 'UNAUTHORIZED'`
   * or `'FORBIDDEN'`, which stops the client.
   */
  getToken?: () => Promise<string>;
  /** The WebSocket implementation. @default globalThis.WebSocket (pass `WebSocket` from `ws` on Node 20) */
  WebSocket?: WebSocketConstructor;
  /** The presence identity of this client, kept across reconnects (1–64 of `[A-Za-z0-9_-]`). @default random */
  connectionId?: string;
  /** Back-off between reconnect attempts. */
  reconnect?: ReconnectOptions;
  /** How often the client pings an idle socket; no frame within twice this closes it and reconnects. @default 15000 */
  pingIntervalMs?: number;
  /** How long a connection attempt (open + hello) may take. @default 10000 */
  connectTimeoutMs?: number;
  /** Events an `events()` iterator buffers before it pauses its subscription on the gateway. @default 1000 */
  iteratorHighWater?: number;
}
