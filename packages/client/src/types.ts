import type { Observable } from 'rxjs';
import type { DurableSessionError } from './errors.js';
import type { SessionWriter, WriterOptions } from './writer.js';

// The session API's shapes are the core's own: imported as types only, so no core code reaches the bundle.
import type {
  SubscribeOptions as CoreSubscribeOptions,
  StartPosition,
  JsonValue,
  EventInput,
  SessionEvent,
  ControlMessage,
  AppendOptions,
  ReadOptions,
  ReadResult,
  EndOptions,
  SessionInfo,
  PresenceMember,
  PresenceChange,
  ControlReceipt,
} from '@durable-sessions/core';

export type {
  JsonValue,
  EventData,
  EventInput,
  ProducerInfo,
  SessionEvent,
  ControlMessage,
  StartPosition,
  ProducerStamp,
  AppendOptions,
  ReadOptions,
  ReadResult,
  EndOptions,
  SessionInfo,
  PresenceMember,
  PresenceChange,
  ControlReceipt,
} from '@durable-sessions/core';

/** Options of `subscribe` and `events`: the core's, less `pageSize` (the gateway pages for the client). */
export type SubscribeOptions = Omit<CoreSubscribeOptions, 'pageSize'>;

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
  /** The client's connection id, stable across reconnects (what it asks the gateway for). */
  readonly connectionId: string;
  /**
   * The identity presence members and appended events carry for this client, as the gateway assigned it (bound to
   * the token's subject when auth is on); `undefined` until the first connection.
   */
  readonly presenceId: string | undefined;
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
