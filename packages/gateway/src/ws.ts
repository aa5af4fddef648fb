import type { IncomingMessage } from 'node:http';
import type { DurableSession, JsonValue, SessionEvent } from '@durable-sessions/core';
import type { RawData, WebSocket } from 'ws';
import { authorize, presenceIdentity, type Grant, type Right } from './auth.js';
import { grantFor, type GatewayContext } from './context.js';
import { GatewayError, toWireError } from './errors.js';
import { TokenBucket } from './rate-limit.js';
import { eventFrom, eventsFrom, positionFrom, producerFrom, sessionIdFrom, toWireEvent } from './wire.js';

/** Protocol version announced in `hello`. */
export const PROTOCOL_VERSION = 1;
const AUTH_TIMEOUT_MS = 10_000;
const MAX_BATCH = 200;
const SUB_NAME_MAX = 64;
const IMMEDIATE = Symbol('immediate');

/** WebSocket close codes of the protocol. */
export const CloseCode = { normal: 1000, goingAway: 1001, tooBig: 1009, protocol: 4400, unauthorized: 4401, rateLimited: 4429 } as const;

type RequestId = string | number | undefined;

interface Subscription {
  readonly session: string;
  readonly abort: AbortController;
}

/**
 * One client socket: its grant, its session handles (one per session, sharing the socket's connection id so
 * presence is bound to the connection) and its subscriptions. Everything here dies with the socket.
 */
export class WsConnection {
  private grant: Grant | undefined;
  private readonly handles = new Map<string, DurableSession>();
  private readonly subs = new Map<string, Subscription>();
  private readonly appendChains = new Map<string, Promise<unknown>>();
  private readonly bucket: TokenBucket;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private expiryTimers: ReturnType<typeof setTimeout>[] = [];
  private strikes = 0;
  private closed = false;

  private connectionId = '';

  constructor(
    private readonly ctx: GatewayContext,
    private readonly ws: WebSocket,
    /** The id the client asked for (or a random one): what it passes back to keep its identity. */
    private readonly requestedId: string,
    grant: Grant | undefined,
  ) {
    this.bucket = new TokenBucket(ctx.limits.framesPerSecond, ctx.limits.framesPerSecond * 2);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => void this.dispose());
    ws.on('error', () => void this.dispose());
    if (grant) this.authenticated(grant);
    else {
      const timer = setTimeout(() => this.close(CloseCode.unauthorized, 'No auth frame received in time.'), AUTH_TIMEOUT_MS);
      this.timers.add(timer);
    }
  }

  private authenticated(grant: Grant): void {
    const first = this.grant === undefined;
    this.grant = grant;
    // Bound once: a token refresh keeps the identity (and the session handles built on it).
    if (first) this.connectionId = presenceIdentity(this.ctx.key, grant, this.requestedId);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.scheduleExpiry(grant);
    if (first) {
      this.send({
        op: 'hello',
        protocol: PROTOCOL_VERSION,
        connectionId: this.requestedId,
        presenceId: this.connectionId,
        auth: Number.isFinite(grant.expiresAt) ? { exp: Math.floor(grant.expiresAt / 1000) } : null,
        limits: { maxFrameBytes: this.ctx.limits.maxFrameBytes, maxSubscriptions: this.ctx.limits.maxSubscriptions, framesPerSecond: this.ctx.limits.framesPerSecond },
      });
    }
  }

  private scheduleExpiry(grant: Grant): void {
    for (const t of this.expiryTimers) clearTimeout(t);
    this.expiryTimers = [];
    if (!Number.isFinite(grant.expiresAt)) return;
    const left = grant.expiresAt - Date.now();
    const warnIn = left - Math.min(30_000, left / 3);
    this.expiryTimers.push(setTimeout(() => this.send({ op: 'token-expiring', exp: Math.floor(grant.expiresAt / 1000) }), Math.max(0, warnIn)));
    this.expiryTimers.push(
      setTimeout(() => {
        this.send({ op: 'error', ...toWireError(new GatewayError('TOKEN_EXPIRED', 'The token expired without a refresh.')) });
        this.close(CloseCode.unauthorized, 'Token expired.');
      }, Math.max(0, left)),
    );
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) return this.reject(undefined, new GatewayError('INVALID_FRAME', 'Binary frames are not part of the protocol; send JSON text.'));
    const wait = this.bucket.take();
    if (wait > 0) {
      // A client that keeps hammering after being told to slow down is cut off, so it cannot pin a CPU.
      if (++this.strikes > this.ctx.limits.framesPerSecond * 4) return this.close(CloseCode.rateLimited, 'Rate limit abuse.');
      return this.reject(requestIdOf(data), new GatewayError('RATE_LIMITED', 'Too many frames.', { retryAfterMs: wait }));
    }
    this.strikes = 0;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return this.reject(undefined, new GatewayError('INVALID_FRAME', 'A frame must be one JSON object.'));
    }
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
      return this.reject(undefined, new GatewayError('INVALID_FRAME', 'A frame must be one JSON object.'));
    }
    const f = frame as Record<string, unknown>;
    const id = f.id;
    if (id !== undefined && !((typeof id === 'string' && id.length > 0 && id.length <= 64) || (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0))) {
      return this.reject(undefined, new GatewayError('INVALID_FRAME', '`id` must be a string of 1–64 characters or a non-negative integer.'));
    }
    this.dispatch(f, id as RequestId).then(
      (result) => {
        if (result !== undefined) this.send({ op: 'ok', ...(id !== undefined ? { id } : {}), ...result });
      },
      (err: unknown) => this.reject(id as RequestId, err),
    );
  }

  private async dispatch(f: Record<string, unknown>, id: RequestId): Promise<Record<string, unknown> | undefined> {
    const op = f.op;
    if (op === 'ping') {
      this.send({ op: 'pong', ...(id !== undefined ? { id } : {}) });
      return undefined;
    }
    if (op === 'auth' || op === 'refresh') {
      if (this.ctx.key === undefined) return { exp: null };
      let grant: Grant;
      try {
        grant = await grantFor(this.ctx, f.token as string | undefined);
      } catch (err) {
        if (this.grant === undefined) {
          this.reject(id, err);
          this.close(CloseCode.unauthorized, 'Unauthorized.');
          return undefined;
        }
        throw err;
      }
      this.authenticated(grant);
      this.revalidateSubscriptions();
      return { exp: Math.floor(grant.expiresAt / 1000) };
    }
    const grant = this.grant;
    if (!grant) throw new GatewayError('UNAUTHORIZED', 'Send an `auth` frame with a token first.');
    if (typeof op !== 'string') throw new GatewayError('INVALID_FRAME', 'A frame needs an `op`.');
    const sessionId = () => sessionIdFrom(f.session);
    const allowed = (sid: string, ...rights: Right[]) => authorize(grant, sid, ...rights);

    switch (op) {
      case 'subscribe': {
        const sid = sessionId();
        const log = f.log === undefined ? 'events' : f.log;
        if (log !== 'events' && log !== 'control') throw new GatewayError('INVALID_ARGUMENT', '`log` must be "events" or "control".');
        if (log === 'control') allowed(sid, 'read', 'control');
        else allowed(sid, 'read');
        const name = this.newSubName(f.sub);
        const from = positionFrom(f.from, 'start');
        const session = this.handle(sid);
        const abort = new AbortController();
        const iterator = log === 'control' ? session.control.events({ from, signal: abort.signal, pageSize: 100 }) : session.events({ from, signal: abort.signal, pageSize: 100 });
        // The first pull resolves the start position, so a bad offset fails the request rather than the stream.
        const first = iterator.next();
        const early = await Promise.race([first, immediate()]);
        void early;
        this.subs.set(name, { session: sid, abort });
        this.send({ op: 'ok', ...(id !== undefined ? { id } : {}), sub: name });
        void this.pump(name, sid, iterator, first, abort.signal);
        return undefined;
      }
      case 'presence.subscribe': {
        const sid = sessionId();
        allowed(sid, 'read');
        const name = this.newSubName(f.sub);
        const session = this.handle(sid);
        const abort = new AbortController();
        this.subs.set(name, { session: sid, abort });
        const subscription = session.presence.changes().subscribe({
          next: (change) => this.send({ op: 'presence', sub: name, session: sid, ...change }),
          error: (err: unknown) => {
            if (this.subs.get(name)?.abort === abort) this.subs.delete(name);
            this.send({ op: 'error', sub: name, ...toWireError(err) });
          },
        });
        abort.signal.addEventListener('abort', () => subscription.unsubscribe(), { once: true });
        return { sub: name };
      }
      case 'unsubscribe': {
        if (typeof f.sub !== 'string') throw new GatewayError('INVALID_FRAME', '`sub` is required.');
        const sub = this.subs.get(f.sub);
        this.subs.delete(f.sub);
        sub?.abort.abort();
        return {};
      }
      case 'append': {
        const sid = sessionId();
        allowed(sid, 'append');
        const { events, single } = eventsFrom(f);
        const producer = producerFrom(f.producer);
        const session = this.handle(sid);
        const offsets = await this.inOrder(sid, () => session.append(events, producer ? { producer } : {}));
        return single ? { offset: offsets[0] } : { offsets };
      }
      case 'end': {
        const sid = sessionId();
        allowed(sid, 'append');
        if (f.reason !== undefined && typeof f.reason !== 'string') throw new GatewayError('INVALID_ARGUMENT', '`reason` must be a string.');
        const session = this.handle(sid);
        const options = { ...(f.reason !== undefined ? { reason: f.reason as string } : {}), ...(f.data !== undefined ? { data: f.data as JsonValue } : {}) };
        return { offset: await this.inOrder(sid, () => session.end(options)) };
      }
      case 'control': {
        const sid = sessionId();
        allowed(sid, 'control');
        const message = eventFrom(f.message);
        const receipt = await this.handle(sid).control.send(message);
        return { offset: receipt.offset };
      }
      case 'ack': {
        const sid = sessionId();
        allowed(sid, 'append');
        if (typeof f.control !== 'string') throw new GatewayError('INVALID_ARGUMENT', '`control` (a control offset) is required.');
        const control = f.control;
        const session = this.handle(sid);
        return { offset: await this.inOrder(sid, () => session.control.ack(control, f.data as JsonValue | undefined)) };
      }
      case 'info': {
        const sid = sessionId();
        allowed(sid, 'read');
        return { info: await this.handle(sid).info() };
      }
      case 'read': {
        const sid = sessionId();
        allowed(sid, 'read');
        const from = positionFrom(f.from, 'start');
        if (from === 'now') throw new GatewayError('INVALID_OFFSET', 'A read starts at "start" or an offset.');
        const limit = f.limit === undefined ? 100 : f.limit;
        if (typeof limit !== 'number') throw new GatewayError('INVALID_ARGUMENT', '`limit` must be a number.');
        const page = await this.handle(sid).read({ from, limit });
        return { ...page, events: page.events.map(toWireEvent) };
      }
      case 'presence.enter':
      case 'presence.update': {
        const sid = sessionId();
        allowed(sid, 'presence');
        const data = (f.data ?? null) as JsonValue;
        const presence = this.handle(sid).presence;
        await (op === 'presence.enter' ? presence.enter(data) : presence.update(data));
        return {};
      }
      case 'presence.leave': {
        const sid = sessionId();
        allowed(sid, 'presence');
        await this.handle(sid).presence.leave();
        return {};
      }
      case 'presence.members': {
        const sid = sessionId();
        allowed(sid, 'read');
        return { members: await this.handle(sid).presence.members() };
      }
      default:
        throw new GatewayError('INVALID_FRAME', `Unknown op ${JSON.stringify(String(op).slice(0, 64))}.`);
    }
  }

  /** Streams a subscription, batching what is ready and pausing while the socket's buffer is full. */
  private async pump(name: string, session: string, iterator: AsyncIterableIterator<SessionEvent>, first: Promise<IteratorResult<SessionEvent>>, signal: AbortSignal): Promise<void> {
    const done = () => {
      if (this.subs.get(name)?.abort.signal === signal) this.subs.delete(name);
    };
    try {
      let pending: Promise<IteratorResult<SessionEvent>> | undefined = first;
      for (;;) {
        const head: IteratorResult<SessionEvent> = await pending;
        pending = undefined;
        if (signal.aborted) break;
        if (head.done) {
          // Ended without events to send (e.g. resumed from the $end offset): the subscription is still complete.
          this.send({ op: 'complete', sub: name, session });
          break;
        }
        const batch = [head.value];
        let ended = head.value.type === '$end';
        let finished = false;
        while (!ended && batch.length < MAX_BATCH) {
          pending = iterator.next();
          const ready = await Promise.race([pending, immediate()]);
          if (ready === IMMEDIATE) break;
          pending = undefined;
          if (ready.done) {
            finished = !signal.aborted;
            break;
          }
          batch.push(ready.value);
          ended = ready.value.type === '$end';
        }
        if (signal.aborted) break;
        const flushed = this.sendFlushed({ op: 'events', sub: name, session, events: batch.map(toWireEvent) });
        if (ended || finished) {
          this.send({ op: 'complete', sub: name, session });
          break;
        }
        // Back-pressure: stop pulling until the socket took this frame; the core pauses its live phase meanwhile.
        if (this.ws.bufferedAmount > this.ctx.limits.socketHighWaterBytes) await Promise.race([flushed, whenAborted(signal)]);
        pending ??= iterator.next();
      }
    } catch (err) {
      if (!signal.aborted) this.send({ op: 'error', sub: name, ...toWireError(err) });
    } finally {
      done();
      await iterator.return?.().catch(() => {});
    }
  }

  /** Sends a frame; resolves once the socket has written it out (or is gone). */
  private sendFlushed(frame: Record<string, unknown>): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.ws.readyState !== this.ws.OPEN) return resolve();
      this.ws.send(JSON.stringify(frame), () => resolve());
    });
  }

  private revalidateSubscriptions(): void {
    for (const [name, sub] of this.subs) {
      try {
        authorize(this.grant!, sub.session, 'read');
      } catch (err) {
        this.subs.delete(name);
        sub.abort.abort();
        this.send({ op: 'error', sub: name, ...toWireError(err) });
      }
    }
  }

  private newSubName(value: unknown): string {
    if (typeof value !== 'string' || value.length === 0 || value.length > SUB_NAME_MAX) {
      throw new GatewayError('INVALID_ARGUMENT', `\`sub\` must be a string of 1–${SUB_NAME_MAX} characters.`);
    }
    if (this.subs.has(value)) throw new GatewayError('INVALID_ARGUMENT', `Subscription ${JSON.stringify(value)} is already running.`);
    if (this.subs.size >= this.ctx.limits.maxSubscriptions) {
      throw new GatewayError('LIMIT_EXCEEDED', `At most ${this.ctx.limits.maxSubscriptions} subscriptions per socket.`, { limit: this.ctx.limits.maxSubscriptions });
    }
    return value;
  }

  private handle(sessionId: string): DurableSession {
    let handle = this.handles.get(sessionId);
    if (!handle) {
      if (this.handles.size >= this.ctx.limits.maxSessionsPerSocket) {
        throw new GatewayError('LIMIT_EXCEEDED', `At most ${this.ctx.limits.maxSessionsPerSocket} sessions per socket.`, { limit: this.ctx.limits.maxSessionsPerSocket });
      }
      handle = this.ctx.store.session(sessionId, { connectionId: this.connectionId });
      this.handles.set(sessionId, handle);
    }
    return handle;
  }

  /** Appends of one socket to one session are stored in frame order. */
  private inOrder<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.appendChains.get(sessionId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.appendChains.set(sessionId, settled);
    void settled.then(() => {
      if (this.appendChains.get(sessionId) === settled) this.appendChains.delete(sessionId);
    });
    return next;
  }

  private reject(id: RequestId, err: unknown): void {
    this.send({ op: 'error', ...(id !== undefined ? { id } : {}), ...toWireError(err) });
  }

  private send(frame: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(frame));
  }

  /** Closes the socket (the `close` event then disposes). */
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    void this.dispose();
  }

  private async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const t of this.expiryTimers) clearTimeout(t);
    for (const sub of this.subs.values()) sub.abort.abort();
    this.subs.clear();
    // Presence stays until its timeout: a reconnect with the same connection id within it is never a leave.
    await Promise.allSettled([...this.handles.values()].map((h) => h.close({ leave: false })));
    this.handles.clear();
  }
}

function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function immediate(): Promise<typeof IMMEDIATE> {
  return new Promise((resolve) => setImmediate(() => resolve(IMMEDIATE)));
}

function requestIdOf(data: RawData): RequestId {
  // Cheap best effort so a rate-limited request can still be matched; never parse huge frames twice.
  const text = data.toString();
  if (text.length > 4096) return undefined;
  try {
    const id = (JSON.parse(text) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Connection id from the connect URL, or a fresh random one. */
export function connectionIdFrom(url: URL): string {
  const wanted = url.searchParams.get('connectionId');
  if (wanted !== null) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(wanted)) throw new GatewayError('INVALID_ARGUMENT', 'connectionId must be 1–64 of [A-Za-z0-9_-].');
    return wanted;
  }
  return globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 20);
}

/** Whether an upgrade request targets the WebSocket endpoint. */
export function isWsPath(req: IncomingMessage): boolean {
  return (req.url ?? '').split('?')[0] === '/v1/ws';
}
