import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DurableSession, JsonValue, PresenceChange, SessionEvent, StartPosition } from '@durable-sessions/core';
import { authorize, presenceIdentity, type Grant, type Right } from './auth.js';
import { clientAddress, grantFor, type GatewayContext } from './context.js';
import { GatewayError, toWireError } from './errors.js';
import { readJson, requestToken, sendError, sendJson } from './http-util.js';
import { eventFrom, eventsFrom, positionFrom, producerFrom, sessionIdFrom, toWireEvent } from './wire.js';

const KEEP_ALIVE_MS = 15_000;
const CONNECTION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Handles `/v1/sessions/{id}[/…]`. `segments` are the decoded path segments after `sessions`. */
export async function handleSessions(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: URL, segments: string[]): Promise<void> {
  const wait = ctx.httpLimiter.take(clientAddress(req));
  if (wait > 0) throw new GatewayError('RATE_LIMITED', 'Too many requests.', { retryAfterMs: wait });
  if (segments.length < 1 || segments.length > 2) throw new GatewayError('NOT_FOUND', 'Unknown path.');
  const id = sessionIdFrom(segments[0]);
  const action = segments[1] ?? '';
  const method = req.method ?? 'GET';
  const grant = await grantFor(ctx, requestToken(req, url));
  const need = (...rights: Right[]) => authorize(grant, id, ...rights);

  const route = `${method} ${action}`;
  switch (route) {
    case 'GET ': {
      need('read');
      return withHandle(ctx, id, undefined, async (s) => sendJson(res, 200, await s.info()));
    }
    case 'GET events':
    case 'GET control': {
      const log = action === 'control' ? 'control' : 'events';
      if (log === 'control') need('read', 'control');
      else need('read');
      if (wantsSse(req, url)) return streamSse(ctx, req, res, url, id, log, grant);
      if (log === 'control') throw new GatewayError('INVALID_ARGUMENT', 'The control log is only available as a stream (SSE or WebSocket).');
      const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 100;
      const from = positionFrom(url.searchParams.get('from'), 'start');
      if (from === 'now') throw new GatewayError('INVALID_OFFSET', 'A read page starts at "start" or an offset.');
      return withHandle(ctx, id, undefined, async (s) => {
        const page = await s.read({ from, limit });
        sendJson(res, 200, { ...page, events: page.events.map(toWireEvent) });
      });
    }
    case 'POST events': {
      need('append');
      const body = await jsonObject(ctx, req);
      const single = !Array.isArray(body.events) && body.event === undefined;
      const { events } = single ? { events: [eventFrom(body)] } : eventsFrom(body);
      const producer = producerFrom(body.producer) ?? producerFromHeaders(req);
      return withHandle(ctx, id, undefined, async (s) => {
        const offsets = await s.append(events, producer ? { producer } : {});
        sendJson(res, 200, single ? { offset: offsets[0] } : { offsets });
      });
    }
    case 'POST end': {
      need('append');
      const body = (await readJson(req, ctx.limits.maxFrameBytes)) ?? {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError('INVALID_FRAME', 'The body must be a JSON object.');
      const { reason, data } = body as { reason?: unknown; data?: JsonValue };
      if (reason !== undefined && typeof reason !== 'string') throw new GatewayError('INVALID_ARGUMENT', '`reason` must be a string.');
      return withHandle(ctx, id, undefined, async (s) => sendJson(res, 200, { offset: await s.end({ ...(reason !== undefined ? { reason } : {}), ...(data !== undefined ? { data } : {}) }) }));
    }
    case 'POST control': {
      need('control');
      const message = eventFrom(await jsonObject(ctx, req));
      return withHandle(ctx, id, undefined, async (s) => sendJson(res, 200, { offset: (await s.control.send(message)).offset }));
    }
    case 'POST ack': {
      need('append');
      const body = await jsonObject(ctx, req);
      if (typeof body.control !== 'string') throw new GatewayError('INVALID_ARGUMENT', '`control` (a control offset) is required.');
      const control = body.control;
      return withHandle(ctx, id, undefined, async (s) => sendJson(res, 200, { offset: await s.control.ack(control, body.data as JsonValue | undefined) }));
    }
    case 'GET presence': {
      need('read');
      if (wantsSse(req, url)) return streamPresence(ctx, res, id, grant);
      return withHandle(ctx, id, undefined, async (s) => sendJson(res, 200, { members: await s.presence.members() }));
    }
    default:
      throw new GatewayError('NOT_FOUND', `No route for ${method} ${url.pathname}.`);
  }
}

function wantsSse(req: IncomingMessage, url: URL): boolean {
  return url.searchParams.get('live') === 'sse' || (req.headers.accept ?? '').includes('text/event-stream');
}

async function jsonObject(ctx: GatewayContext, req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readJson(req, ctx.limits.maxFrameBytes);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new GatewayError('INVALID_FRAME', 'The body must be a JSON object.');
  return body as Record<string, unknown>;
}

function producerFromHeaders(req: IncomingMessage) {
  const id = req.headers['producer-id'];
  if (typeof id !== 'string') return undefined;
  const epoch = Number(req.headers['producer-epoch'] ?? 0);
  const seq = Number(req.headers['producer-seq']);
  return producerFrom({ id, epoch, seq });
}

/** Runs `work` with a short-lived handle, always closed afterwards (without leaving presence). */
async function withHandle<T>(ctx: GatewayContext, id: string, connectionId: string | undefined, work: (s: DurableSession) => Promise<T>): Promise<T> {
  const session = ctx.store.session(id, connectionId ? { connectionId } : {});
  try {
    return await work(session);
  } finally {
    await session.close({ leave: false });
  }
}

/** An SSE response with keep-alives, a lifetime cap, token expiry and back-pressure. */
export class SseResponse {
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  readonly closed: AbortController = new AbortController();

  constructor(private readonly res: ServerResponse, ctx: GatewayContext, grant: Grant, headers: Record<string, string> = {}) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no', ...headers });
    res.on('close', () => this.closed.abort());
    const onShutdown = () => this.end();
    ctx.shutdown.addEventListener('abort', onShutdown, { once: true });
    this.closed.signal.addEventListener('abort', () => {
      ctx.shutdown.removeEventListener('abort', onShutdown);
      for (const t of this.timers) clearTimeout(t);
    });
    const keepAlive = setInterval(() => this.raw(': keep-alive\n\n'), KEEP_ALIVE_MS);
    this.timers.push(keepAlive as unknown as ReturnType<typeof setTimeout>);
    this.closed.signal.addEventListener('abort', () => clearInterval(keepAlive));
    this.timers.push(setTimeout(() => this.end(), ctx.sseMaxMs));
    if (Number.isFinite(grant.expiresAt)) {
      this.timers.push(setTimeout(() => this.fail(new GatewayError('TOKEN_EXPIRED', 'The token has expired; reconnect with a fresh one.')), Math.max(0, grant.expiresAt - Date.now())));
    }
  }

  /** Writes raw SSE text; resolves when the socket can take more (back-pressure). */
  raw(text: string): Promise<void> {
    if (this.closed.signal.aborted) return Promise.resolve();
    if (this.res.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.closed.signal.removeEventListener('abort', done);
        resolve();
      };
      this.res.once('drain', done);
      this.closed.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Sends an error event and ends the stream. */
  fail(err: unknown): void {
    void this.raw(`event: error\ndata: ${JSON.stringify(toWireError(err))}\n\n`);
    this.end();
  }

  end(): void {
    if (!this.closed.signal.aborted) this.res.end();
    this.closed.abort();
  }
}

async function streamSse(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string, log: 'events' | 'control', grant: Grant): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  const from: StartPosition = typeof lastEventId === 'string' && lastEventId.length > 0 ? positionFrom(lastEventId, 'start') : positionFrom(url.searchParams.get('from'), 'start');
  const presenceParam = url.searchParams.get('presence');
  const connectionId = url.searchParams.get('connectionId') ?? undefined;
  if (connectionId !== undefined && !CONNECTION_ID.test(connectionId)) throw new GatewayError('INVALID_ARGUMENT', 'connectionId must be 1–64 of [A-Za-z0-9_-].');
  let presenceData: JsonValue | undefined;
  if (presenceParam !== null) {
    authorize(grant, id, 'presence');
    try {
      presenceData = JSON.parse(presenceParam) as JsonValue;
    } catch {
      throw new GatewayError('INVALID_ARGUMENT', '`presence` must be URL-encoded JSON.');
    }
  }
  const session = ctx.store.session(id, connectionId ? { connectionId: presenceIdentity(ctx.key, grant, connectionId) } : {});
  try {
    // Checked before the 200 goes out, so a bad offset is a plain 400.
    const iterator = log === 'control' ? session.control.events({ from, pageSize: 200 }) : session.events({ from, pageSize: 200 });
    const first = iterator.next();
    const head = await Promise.race([first, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]).catch((err: unknown) => Promise.reject(err));
    void head;
    if (presenceData !== undefined) await session.presence.enter(presenceData);
    const sse = new SseResponse(res, ctx, grant);
    sse.closed.signal.addEventListener('abort', () => void iterator.return?.());
    await sse.raw('retry: 1000\n\n');
    try {
      let next = first;
      for (;;) {
        const item = await next;
        if (sse.closed.signal.aborted) break;
        if (item.done) {
          // Resumed at or after $end: nothing left, the stream is still over.
          if (log === 'events') await sse.raw('event: end\ndata: {}\n\n');
          break;
        }
        const event: SessionEvent = item.value;
        await sse.raw(`id: ${event.offset}\ndata: ${JSON.stringify(toWireEvent(event))}\n\n`);
        if (event.type === '$end') {
          await sse.raw('event: end\ndata: {}\n\n');
          break;
        }
        next = iterator.next();
      }
      sse.end();
    } catch (err) {
      sse.fail(err);
    }
  } catch (err) {
    if (!res.headersSent) sendError(res, err);
  } finally {
    await session.close({ leave: false });
  }
}

async function streamPresence(ctx: GatewayContext, res: ServerResponse, id: string, grant: Grant): Promise<void> {
  const session = ctx.store.session(id);
  const sse = new SseResponse(res, ctx, grant);
  await new Promise<void>((resolve) => {
    const sub = session.presence.changes().subscribe({
      next: (change: PresenceChange) => void sse.raw(`event: presence\ndata: ${JSON.stringify(change)}\n\n`),
      error: (err: unknown) => {
        sse.fail(err);
        resolve();
      },
    });
    sse.closed.signal.addEventListener('abort', () => {
      sub.unsubscribe();
      resolve();
    });
  });
  await session.close({ leave: false });
}
