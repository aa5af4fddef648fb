import { BehaviorSubject, Observable } from 'rxjs';
import { backoffDelay, resolveBackoff, type Backoff } from './backoff.js';
import { DurableSessionError, fromWire, isDurableSessionError } from './errors.js';
import type { ClientOptions, ConnectionState, ResumePoint, WebSocketConstructor, WebSocketLike } from './types.js';
import { randomId, socketUrl } from './wire.js';

/** A frame as JSON. */
export type Frame = Record<string, unknown>;

/**
 * Something the connection keeps running across sockets: an event, control or presence subscription, or a
 * presence membership. The connection calls `start` whenever a socket becomes live and `dropped` when it goes.
 */
export interface Stream {
  /** The socket is live: (re)open on it. */
  start(): void;
  /** The socket is gone; everything sent on it is void. */
  dropped(): void;
  /** A frame addressed to one of this stream's wire subscription names. */
  onFrame(frame: Frame): void;
  /** Where it resumes, for the `reconnecting` state. */
  resumePoint(): ResumePoint | undefined;
  /** The client stopped: end with `error`, or complete when there is none. */
  stop(error?: DurableSessionError): void;
}

/** How a request behaves when the socket drops before its answer. */
export interface RequestOptions {
  /** Resend it on the next socket (reads, idempotent appends, presence): repeating is harmless. */
  safe?: boolean;
  /** Belongs to the current socket only (a stream's subscribe): never queued, fails with `DISCONNECTED`. */
  bound?: boolean;
  /** Stops waiting. */
  signal?: AbortSignal | undefined;
}

interface Pending {
  readonly frame: Frame;
  readonly options: RequestOptions;
  readonly resolve: (result: Frame) => void;
  readonly reject: (error: DurableSessionError) => void;
  id?: number;
  cleanup?: () => void;
}

interface Socket {
  readonly ws: WebSocketLike;
  readonly authId: string | undefined;
  hello: Frame | undefined;
  authOk: boolean;
  live: boolean;
  /** A token this socket was opened with was refused. */
  authRejected: DurableSessionError | undefined;
  /** The last connection-level error frame (TOKEN_EXPIRED before a 4401 close). */
  lastError: DurableSessionError | undefined;
  lastFrameAt: number;
  maxFrameBytes: number;
  timers: ReturnType<typeof setTimeout>[];
  refreshing: boolean;
}

const encoder = new TextEncoder();
const CLOSE_PROTOCOL = 4400;
const CLOSE_UNAUTHORIZED = 4401;

/**
 * The one WebSocket of a client and its lifecycle: connect, authenticate, go live, lose the socket, back off with
 * jitter, reconnect with a fresh token, and restart every stream strictly after what it delivered. Requests are
 * queued while disconnected and matched to answers by id.
 */
export class Connection {
  readonly connectionId: string;
  /**
   * This connection's identity as the gateway shows it in presence and on appended events (with auth on, the
   * gateway binds it to the token's subject). Known after the first `hello`.
   */
  presenceId: string | undefined;
  private readonly subject: BehaviorSubject<ConnectionState>;
  private readonly WS: WebSocketConstructor;
  private readonly url: string;
  private readonly backoff: Backoff;
  private readonly streams = new Set<Stream>();
  private readonly routes = new Map<string, Stream>();
  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<number, Pending>();
  /** Paces outgoing requests below the gateway's advertised `framesPerSecond`. */
  private readonly bucket = new FrameBucket();
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private socket: Socket | undefined;
  private nextId = 1;
  private nextSub = 1;
  private attempt = 0;
  private authFailures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private stopError: DurableSessionError | undefined;

  constructor(private readonly options: ClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== 'function') {
      throw new DurableSessionError('CONFIG_INVALID', 'No WebSocket implementation: pass `WebSocket` (from the `ws` package on Node 20).');
    }
    if (options.token !== undefined && options.getToken !== undefined) {
      throw new DurableSessionError('CONFIG_INVALID', 'Pass either `token` or `getToken`, not both.');
    }
    const connectionId = options.connectionId ?? randomId();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(connectionId)) throw new DurableSessionError('CONFIG_INVALID', '`connectionId` must be 1–64 of [A-Za-z0-9_-].');
    this.connectionId = connectionId;
    this.WS = WS;
    this.url = socketUrl(options.url, connectionId);
    this.backoff = resolveBackoff(options.reconnect);
    this.subject = new BehaviorSubject<ConnectionState>({ status: 'connecting', attempt: 0 });
    void this.connect();
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.subject.value;
  }

  /** Every state change, starting with the current state. */
  get state$(): Observable<ConnectionState> {
    // A stopped client still tells a late subscriber why it stopped, then completes.
    return new Observable<ConnectionState>((subscriber) => {
      if (!this.stopped) return this.subject.subscribe(subscriber);
      subscriber.next(this.subject.value);
      subscriber.complete();
      return undefined;
    });
  }

  /** Whether a socket is live now. */
  get live(): boolean {
    return this.socket?.live === true;
  }

  /** Whether the client has stopped for good. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Registers a stream; it starts at once when the socket is live. */
  addStream(stream: Stream): void {
    if (this.stopped) return stream.stop(this.stopError ?? closedError());
    this.streams.add(stream);
    if (this.live) stream.start();
  }

  /** Forgets a stream (it unsubscribed). */
  removeStream(stream: Stream): void {
    this.streams.delete(stream);
  }

  /** A fresh wire subscription name routed to `stream`; names are never reused, so stale frames cannot land. */
  route(stream: Stream): string {
    const name = `s${this.nextSub++}`;
    this.routes.set(name, stream);
    return name;
  }

  /** Stops routing frames of a wire subscription. */
  unroute(name: string | undefined): void {
    if (name !== undefined) this.routes.delete(name);
  }

  /** Sends a request and resolves with the `ok` frame. */
  request(frame: Frame, options: RequestOptions = {}): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      if (this.stopped) return reject(this.stopError ?? closedError());
      if (options.bound && !this.live) return reject(disconnected());
      if (options.signal?.aborted) return reject(aborted());
      const pending: Pending = { frame, options, resolve, reject };
      if (options.signal) {
        const signal = options.signal;
        const onAbort = () => this.settle(pending, aborted());
        signal.addEventListener('abort', onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Stops the client: closes the socket, ends every stream and fails what is still pending. */
  close(error?: DurableSessionError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopError = error;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.teardown();
    if (socket) {
      try {
        socket.ws.close(1000, 'Client closed.');
      } catch {
        // already closing
      }
    }
    const failure = error ?? closedError();
    for (const p of [...this.queue, ...this.inflight.values()]) this.settle(p, failure);
    for (const stream of [...this.streams]) stream.stop(error);
    this.streams.clear();
    this.routes.clear();
    this.setState(error ? { status: 'stopped', error } : { status: 'stopped' });
    this.subject.complete();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let token: string | undefined;
    try {
      token = await this.fetchToken();
    } catch (err) {
      // A typed refusal from the application's token source is final; anything else (its network) is retried.
      if (isDurableSessionError(err) && ['UNAUTHORIZED', 'FORBIDDEN', 'CONFIG_INVALID'].includes(err.code)) return this.close(err);
      return this.retry(new DurableSessionError('UNAUTHORIZED', `getToken() failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
    }
    if (this.stopped) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url);
    } catch (err) {
      return this.retry(new DurableSessionError('DISCONNECTED', `Cannot open a WebSocket to ${this.url}.`, { cause: err }));
    }
    const socket: Socket = {
      ws,
      authId: token === undefined ? undefined : `auth-${this.nextId++}`,
      hello: undefined,
      authOk: token === undefined,
      live: false,
      authRejected: undefined,
      lastError: undefined,
      lastFrameAt: Date.now(),
      maxFrameBytes: Infinity,
      timers: [],
      refreshing: false,
    };
    this.socket = socket;
    socket.timers.push(
      setTimeout(() => {
        if (this.socket === socket && !socket.live) this.lost(socket, 1006, new DurableSessionError('TIMEOUT', 'The gateway did not complete the handshake in time.'));
      }, this.options.connectTimeoutMs ?? 10_000),
    );
    ws.onopen = () => {
      if (this.socket !== socket) return;
      // The token goes in an `auth` frame, not the URL: URLs end up in logs, and a refused upgrade would hide the
      // reason (browsers report every failed upgrade as close 1006), while an auth frame gets a typed answer.
      if (token !== undefined) ws.send(JSON.stringify({ op: 'auth', id: socket.authId, token }));
    };
    ws.onmessage = (event) => this.onMessage(socket, event.data);
    ws.onclose = (event) => this.lost(socket, event.code, undefined, event.reason);
    ws.onerror = () => {
      // A close event always follows.
    };
  }

  private async fetchToken(): Promise<string | undefined> {
    if (this.options.getToken) {
      const token = await this.options.getToken();
      if (typeof token !== 'string' || token.length === 0) throw new DurableSessionError('CONFIG_INVALID', 'getToken() must resolve with a non-empty string.');
      return token;
    }
    return this.options.token;
  }

  private onMessage(socket: Socket, data: unknown): void {
    if (this.socket !== socket) return;
    socket.lastFrameAt = Date.now();
    let frame: Frame;
    try {
      const parsed: unknown = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return;
      frame = parsed as Frame;
    } catch {
      return;
    }
    const id = frame.id;
    switch (frame.op) {
      case 'hello': {
        socket.hello = frame;
        this.presenceId = typeof frame.presenceId === 'string' ? frame.presenceId : this.connectionId;
        const limits = frame.limits as { maxFrameBytes?: unknown; framesPerSecond?: unknown } | undefined;
        if (typeof limits?.maxFrameBytes === 'number') socket.maxFrameBytes = limits.maxFrameBytes;
        this.bucket.reset(typeof limits?.framesPerSecond === 'number' ? limits.framesPerSecond : Infinity);
        return this.maybeLive(socket);
      }
      case 'ok':
      case 'error': {
        if (id !== undefined && id === socket.authId) return this.onAuthAnswer(socket, frame);
        if (typeof id === 'number') return this.onAnswer(id, frame);
        if (typeof id === 'string' && id.startsWith('refresh-')) {
          if (frame.op === 'error') socket.lastError = fromWire(frame);
          return;
        }
        if (frame.op === 'error') {
          if (typeof frame.sub === 'string') return this.routes.get(frame.sub)?.onFrame(frame);
          socket.lastError = fromWire(frame);
        }
        return;
      }
      case 'events':
      case 'complete':
      case 'presence':
        if (typeof frame.sub === 'string') this.routes.get(frame.sub)?.onFrame(frame);
        return;
      case 'token-expiring':
        return void this.refresh(socket);
      default:
        // `pong` and frames of later protocol versions: nothing to do.
        return;
    }
  }

  private onAuthAnswer(socket: Socket, frame: Frame): void {
    if (frame.op === 'ok') {
      socket.authOk = true;
      this.authFailures = 0;
      return this.maybeLive(socket);
    }
    socket.authRejected = fromWire(frame);
  }

  private onAnswer(id: number, frame: Frame): void {
    const pending = this.inflight.get(id);
    if (!pending) return;
    this.inflight.delete(id);
    if (frame.op === 'ok') return this.settle(pending, undefined, frame);
    const error = fromWire(frame);
    if (error.code === 'RATE_LIMITED' && !pending.options.bound) {
      // Refused before it was processed: resend after the delay the gateway asked for, and hold everything else too.
      const wait = typeof error.details.retryAfterMs === 'number' ? error.details.retryAfterMs : 100;
      pending.id = undefined;
      this.queue.unshift(pending);
      this.bucket.pauseFor(wait);
      return this.pump();
    }
    this.settle(pending, error);
  }

  private maybeLive(socket: Socket): void {
    if (socket.live || !socket.hello || !socket.authOk) return;
    socket.live = true;
    for (const t of socket.timers) clearTimeout(t);
    socket.timers = [];
    this.attempt = 0;
    this.setState({ status: 'live', connectionId: this.connectionId });
    this.startPing(socket);
    for (const stream of [...this.streams]) {
      if (this.socket !== socket) return;
      stream.start();
    }
    this.pump();
  }

  /** Sends queued requests while live, in order, as fast as the gateway's frame rate allows. */
  private pump(): void {
    while (this.live && this.queue.length > 0) {
      const wait = this.bucket.take();
      if (wait > 0) {
        this.pumpTimer ??= setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.transmit(this.queue.shift()!);
    }
  }

  private async refresh(socket: Socket): Promise<void> {
    if (!this.options.getToken || socket.refreshing) return;
    socket.refreshing = true;
    try {
      const token = await this.fetchToken();
      if (this.socket === socket && socket.live) socket.ws.send(JSON.stringify({ op: 'auth', id: `refresh-${this.nextId++}`, token }));
    } catch (err) {
      // The socket keeps running on the old token; at its expiry the gateway closes and the reconnect asks again.
      socket.lastError = isDurableSessionError(err) ? err : new DurableSessionError('UNAUTHORIZED', 'getToken() failed.', { cause: err });
    } finally {
      socket.refreshing = false;
    }
  }

  private startPing(socket: Socket): void {
    const interval = this.options.pingIntervalMs ?? 15_000;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.socket !== socket) return;
      const idle = Date.now() - socket.lastFrameAt;
      // A half-open TCP connection never reports a close; silence past two intervals means the socket is dead.
      if (idle > 2 * interval) return this.lost(socket, 1006, new DurableSessionError('TIMEOUT', 'The gateway stopped answering pings.'));
      if (idle >= interval) socket.ws.send(JSON.stringify({ op: 'ping' }));
    }, interval);
  }

  private transmit(pending: Pending): void {
    const socket = this.socket!;
    const id = this.nextId++;
    const text = JSON.stringify({ ...pending.frame, id });
    // A frame over the limit would make the gateway close the socket (1009), and a resend would loop forever.
    if (text.length * 3 > socket.maxFrameBytes && encoder.encode(text).byteLength > socket.maxFrameBytes) {
      return this.settle(pending, new DurableSessionError('PAYLOAD_TOO_LARGE', `The request is larger than the gateway's ${socket.maxFrameBytes} bytes per frame.`, { details: { maxFrameBytes: socket.maxFrameBytes } }));
    }
    pending.id = id;
    this.inflight.set(id, pending);
    socket.ws.send(text);
  }

  private settle(pending: Pending, error: DurableSessionError | undefined, result?: Frame): void {
    if (pending.id !== undefined) this.inflight.delete(pending.id);
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) this.queue.splice(queued, 1);
    pending.cleanup?.();
    pending.cleanup = undefined;
    if (error) pending.reject(error);
    else pending.resolve(result ?? {});
  }

  /** The socket is gone (closed, timed out or silent): decide between reconnecting and stopping. */
  private lost(socket: Socket, code: number, error?: DurableSessionError, reason?: string): void {
    if (this.socket !== socket || this.stopped) return;
    const wasLive = socket.live;
    this.teardown();
    try {
      socket.ws.close();
    } catch {
      // already closed
    }
    const inflight = [...this.inflight.values()].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    this.inflight.clear();
    const resend: Pending[] = [];
    for (const p of inflight) {
      p.id = undefined;
      if (p.options.safe && !p.options.bound) resend.push(p);
      else this.settle(p, disconnected());
    }
    for (const p of this.queue.filter((q) => q.options.bound)) this.settle(p, disconnected());
    this.queue.unshift(...resend);
    for (const stream of [...this.streams]) stream.dropped();
    this.routes.clear();

    if (code === CLOSE_PROTOCOL) {
      return this.close(socket.lastError ?? new DurableSessionError('INVALID_FRAME', `The gateway closed the socket for a protocol violation${reason ? `: ${reason}` : '.'}`));
    }
    if (socket.authRejected || code === CLOSE_UNAUTHORIZED) {
      const authError = socket.authRejected ?? socket.lastError ?? new DurableSessionError('UNAUTHORIZED', `The gateway refused the token${reason ? `: ${reason}` : '.'}`);
      if (!this.options.getToken) return this.close(authError);
      // A fresh token that is refused twice in a row cannot be fixed by asking again.
      if (socket.authRejected && ++this.authFailures >= 2) return this.close(authError);
      return this.retry(authError, wasLive || socket.authRejected ? 0 : undefined);
    }
    this.retry(error ?? new DurableSessionError('DISCONNECTED', `The socket closed (code ${code}${reason ? `, ${reason}` : ''}).`, { details: { closeCode: code } }));
  }

  private teardown(): void {
    const socket = this.socket;
    this.socket = undefined;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    if (!socket) return;
    for (const t of socket.timers) clearTimeout(t);
    socket.ws.onopen = null;
    socket.ws.onmessage = null;
    socket.ws.onclose = null;
  }

  private retry(error: DurableSessionError, delay?: number): void {
    if (this.stopped) return;
    const attempt = ++this.attempt;
    if (attempt > this.backoff.maxAttempts) return this.close(error);
    const wait = delay ?? backoffDelay(this.backoff, attempt - 1);
    this.setState({ status: 'reconnecting', attempt, retryInMs: wait, error, resuming: this.resumePoints() });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), wait);
  }

  private resumePoints(): ResumePoint[] {
    const points: ResumePoint[] = [];
    for (const stream of this.streams) {
      const point = stream.resumePoint();
      if (point) points.push(point);
    }
    return points;
  }

  private setState(state: ConnectionState): void {
    if (!this.subject.closed) this.subject.next(state);
  }
}

/**
 * A token bucket at the gateway's advertised sustained rate. The gateway allows bursts of twice that; staying at
 * one rate's worth keeps a busy client from ever being refused, and so from resending in herds.
 */
class FrameBucket {
  private rate = Infinity;
  private tokens = Infinity;
  private at = 0;
  private resumeAt = 0;

  reset(framesPerSecond: number): void {
    this.rate = framesPerSecond > 0 ? framesPerSecond : Infinity;
    this.tokens = this.rate;
    this.at = Date.now();
    this.resumeAt = 0;
  }

  /** Takes a token: 0 when sent now, else how long to wait. */
  take(): number {
    const now = Date.now();
    if (now < this.resumeAt) return this.resumeAt - now;
    if (this.rate === Infinity) return 0;
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }

  /** Holds every frame for `ms` (the gateway said RATE_LIMITED). */
  pauseFor(ms: number): void {
    this.resumeAt = Math.max(this.resumeAt, Date.now() + ms);
    this.tokens = 0;
  }
}

function closedError(): DurableSessionError {
  return new DurableSessionError('CLOSED', 'The client was closed.');
}

function disconnected(): DurableSessionError {
  return new DurableSessionError('DISCONNECTED', 'The socket closed before the gateway answered; the request may or may not have been applied.');
}

function aborted(): DurableSessionError {
  return new DurableSessionError('ABORTED', 'The request was aborted.');
}
