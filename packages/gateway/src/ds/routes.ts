import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDurableSessionError, validateSessionId, type DurableSession, type EventInput, type JsonValue, type SessionStore } from '@durable-sessions/core';
import { authorize, type Grant } from '../auth.js';
import { grantFor, type GatewayContext } from '../context.js';
import { GatewayError, httpStatus, toWireError } from '../errors.js';
import { readBody, requestToken } from '../http-util.js';
import { generateCursor } from './cursor.js';
import { checkStreamPath, dataSession, expired, mutateMeta, readMeta, statusOf, touch, type MetaView, type StreamConfig, type StreamState } from './meta.js';
import { formatDsOffset, parseDsOffset, ZERO_OFFSET, type DsPosition } from './offsets.js';
import { CLOSE_MARK_TYPE, MESSAGE_TYPE, messageData, readView, tailOf, waitForData, type DsMessage } from './view.js';

const PREFIX = '/v1/stream/';
const TTL = /^(0|[1-9]\d*)$/;
/** Time spent creating a stream after which its sliding TTL is restarted at the reply. */
const TTL_RESTART_MS = 50;
const INTEGER = /^\d+$/;

/** A protocol-level answer: status, headers and a text body. */
class DsReply extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(body);
  }
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function isJson(contentType: string): boolean {
  return mediaType(contentType) === 'application/json';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Handles the Durable Streams protocol under `/v1/stream/*`, with a stream = a session. */
export async function handleDurableStreams(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    let path: string;
    try {
      path = decodeURIComponent(url.pathname.slice(PREFIX.length));
    } catch {
      throw new DsReply(400, 'Malformed stream path');
    }
    try {
      checkStreamPath(path);
      validateSessionId(path);
    } catch (err) {
      throw new DsReply(400, toWireError(err).message);
    }
    const grant = await grantFor(ctx, requestToken(req, url));
    const method = req.method ?? 'GET';
    switch (method) {
      case 'PUT':
        authorize(grant, path, 'append');
        return await create(ctx, req, res, path, grant);
      case 'HEAD':
        authorize(grant, path, 'read');
        return await head(ctx, res, path);
      case 'GET':
        authorize(grant, path, 'read');
        return await read(ctx, req, res, url, path);
      case 'POST':
        authorize(grant, path, 'append');
        return await append(ctx, req, res, path);
      case 'DELETE':
        authorize(grant, path, 'append');
        return await remove(ctx, res, path);
      default:
        throw new DsReply(405, 'Method not allowed');
    }
  } catch (err) {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof DsReply) {
      res.writeHead(err.status, { 'Content-Type': 'text/plain', ...err.headers });
      res.end(req.method === 'HEAD' ? undefined : err.body);
      return;
    }
    const wire = toWireError(err);
    let status = httpStatus(wire.code);
    if (wire.code === 'INVALID_OFFSET' || wire.code === 'INVALID_EVENT') status = 400;
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ error: wire }));
  }
}

/** Loads a live stream, or answers 404 (none) / 410 (soft-deleted). */
async function live(store: SessionStore, path: string): Promise<{ view: MetaView; stream: StreamState }> {
  const view = await readMeta(store, path);
  const status = statusOf(view);
  if (status === 'none') throw new DsReply(404, 'Stream not found');
  if (status === 'soft-deleted') throw new DsReply(410, 'Stream is gone');
  return { view, stream: view.stream! };
}

// ---------------------------------------------------------------------------------------------------------------
// PUT: create, idempotent re-create, fork

async function create(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string, grant: Grant): Promise<void> {
  const store = ctx.store;
  const forkedFromHeader = header(req, 'stream-forked-from');
  const forkOffsetHeader = header(req, 'stream-fork-offset');
  const subHeader = header(req, 'stream-fork-sub-offset');
  let contentType = header(req, 'content-type');
  if (!contentType || contentType.trim() === '' || !/^[\w-]+\/[\w-]+/.test(contentType)) {
    contentType = forkedFromHeader ? undefined : 'application/octet-stream';
  }
  const ttlHeader = header(req, 'stream-ttl');
  const expiresHeader = header(req, 'stream-expires-at');
  const closed = header(req, 'stream-closed') === 'true';
  if (ttlHeader !== undefined && expiresHeader !== undefined) throw new DsReply(400, 'Cannot specify both Stream-TTL and Stream-Expires-At');
  let ttlSeconds: number | undefined;
  if (ttlHeader !== undefined) {
    if (!TTL.test(ttlHeader)) throw new DsReply(400, 'Invalid Stream-TTL value');
    ttlSeconds = Number(ttlHeader);
  }
  if (expiresHeader !== undefined && Number.isNaN(new Date(expiresHeader).getTime())) throw new DsReply(400, 'Invalid Stream-Expires-At timestamp');
  if (forkOffsetHeader !== undefined && forkOffsetHeader !== ZERO_OFFSET) {
    try {
      parseDsOffset(forkOffsetHeader);
    } catch {
      throw new DsReply(400, 'Invalid Stream-Fork-Offset format');
    }
  }
  let subOffset = 0;
  if (subHeader !== undefined) {
    if (!forkedFromHeader) throw new DsReply(400, 'Stream-Fork-Sub-Offset requires Stream-Forked-From');
    if (!TTL.test(subHeader)) throw new DsReply(400, 'Invalid Stream-Fork-Sub-Offset format');
    subOffset = Number(subHeader);
    if (subOffset > 0 && forkOffsetHeader === undefined) throw new DsReply(400, 'Stream-Fork-Sub-Offset requires Stream-Fork-Offset');
  }
  const body = await readBody(req, bodyLimit(ctx));

  let source: string | undefined;
  if (forkedFromHeader) {
    source = forkedFromHeader.startsWith(PREFIX) ? forkedFromHeader.slice(PREFIX.length) : forkedFromHeader.replace(/^\//, '');
    try {
      source = decodeURIComponent(source);
      checkStreamPath(source);
    } catch {
      throw new DsReply(400, 'Invalid Stream-Forked-From');
    }
    // A fork copies the source's data into a stream the caller can read: it needs read rights on the source.
    authorize(grant, source, 'read');
  }

  const outcome = await mutateMeta(store, path, async (view) => {
    const status = statusOf(view);
    if (status === 'soft-deleted') throw new DsReply(409, 'Stream was deleted but still has active forks — path cannot be reused until all forks are removed');
    if (status === 'live') {
      const s = view.stream!;
      const same =
        (mediaType(contentType) || (source ? mediaType(s.contentType) : 'application/octet-stream')) === mediaType(s.contentType) &&
        ttlSeconds === (s.fork && ttlHeader === undefined && expiresHeader === undefined ? ttlSeconds : s.ttlSeconds) &&
        expiresHeader === (s.fork && ttlHeader === undefined && expiresHeader === undefined ? expiresHeader : s.expiresAt) &&
        closed === s.closed &&
        (source ?? undefined) === s.fork?.source &&
        (forkOffsetHeader === undefined || forkOffsetHeader === s.fork?.requestedOffset || forkOffsetHeader === s.fork?.offset) &&
        subOffset === (s.fork?.subOffset ?? 0);
      if (!same) throw new DsReply(409, 'Stream already exists with different configuration');
      return { result: { created: false, stream: s } };
    }
    const gen = view.stream ? view.stream.gen + 1 : 0;
    const config: StreamConfig = {
      gen,
      contentType: contentType ?? 'application/octet-stream',
      closed,
      createdAt: Date.now(),
      session: dataSession(path, gen),
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      ...(expiresHeader !== undefined ? { expiresAt: expiresHeader } : {}),
    };
    let prefix: EventInput | undefined;
    let forkAt: string | null = null;
    if (source !== undefined) {
      const fork = await resolveFork(store, source, forkOffsetHeader, subOffset, contentType);
      config.contentType = contentType ?? fork.source.contentType;
      // The core forks by reference (C21): the new session reads the source's up to the fork point, then its own.
      // A fork at the zero offset inherits nothing, so its session is a plain one (the source may even be empty).
      if (fork.at !== null) await store.fork(fork.source.session, { target: config.session, at: fork.at });
      forkAt = fork.at;
      config.fork = { source, sourceGen: fork.source.gen, offset: fork.offset, subOffset, ...(forkOffsetHeader !== undefined ? { requestedOffset: forkOffsetHeader } : {}) };
      if (ttlSeconds === undefined && expiresHeader === undefined) {
        if (fork.source.ttlSeconds !== undefined) config.ttlSeconds = fork.source.ttlSeconds;
        else if (fork.source.expiresAt !== undefined) config.expiresAt = fork.source.expiresAt;
      }
      prefix = fork.prefix;
    }
    // The stream's data must be written before it becomes visible: a reader could otherwise see an empty stream.
    const initial = body.length > 0 ? toEvents(body, config.contentType, true, chunkBytes(ctx)) : [];
    const own = ctx.store.session(config.session);
    try {
      const events = [...(prefix ? [prefix] : []), ...initial];
      const info = await own.info();
      // Nothing of its own yet (a retry after a lost race may find it written already).
      if (info.lastOffset === forkAt && !info.ended) {
        if (events.length > 0) await own.append(events);
        if (closed) await own.end({ reason: 'closed' });
      }
    } finally {
      await own.close({ leave: false });
    }
    // The TTL runs from when the stream exists, not from when creating it began (a fork on a slow backend takes
    // a noticeable part of a short TTL).
    config.createdAt = Date.now();
    return { record: { type: 'create', data: config as unknown as JsonValue }, result: { created: true, stream: { ...config, deleted: false, forks: 0, lastAccess: config.createdAt } as StreamState } };
  });
  if (outcome.created && source !== undefined) {
    await mutateMeta(store, source, (view) => ({ record: { type: 'fork+', data: { gen: outcome.stream.fork!.sourceGen, child: path } }, result: view }));
  }
  if (outcome.created && outcome.stream.ttlSeconds !== undefined && Date.now() - outcome.stream.createdAt >= TTL_RESTART_MS) {
    // Recording the fork on its source took a while: the client's TTL clock starts at this reply, so ours restarts.
    await touch(store, await readMeta(store, path), TTL_RESTART_MS);
  }
  const tail = await tailOf(store, outcome.stream.session);
  const headers: Record<string, string> = { 'Content-Type': outcome.stream.contentType, 'Stream-Next-Offset': tail.offset };
  if (outcome.created) headers.Location = `http://${req.headers.host ?? 'localhost'}${PREFIX}${path.split('/').map(encodeURIComponent).join('/')}`;
  if (tail.closed) headers['Stream-Closed'] = 'true';
  res.writeHead(outcome.created ? 201 : 200, headers);
  res.end();
}

async function resolveFork(store: SessionStore, source: string, offsetHeader: string | undefined, subOffset: number, contentType: string | undefined) {
  const view = await readMeta(store, source);
  const status = statusOf(view);
  if (status === 'none') throw new DsReply(404, 'Source stream not found');
  if (status === 'soft-deleted') throw new DsReply(409, 'Source stream was deleted but still has active forks');
  const src = view.stream!;
  if (contentType && mediaType(contentType) !== mediaType(src.contentType)) throw new DsReply(409, 'Content type mismatch with source stream');
  const tail = await tailOf(store, src.session);
  const offset = offsetHeader ?? tail.offset;
  if (offset > tail.offset) throw new DsReply(400, 'Fork offset beyond source stream length');
  const position = parseDsOffset(offset);
  // The core validates the fork point itself (an offset of the source's session, not beyond its end).
  const at = position.start ? null : position.offset;
  let prefix: EventInput | undefined;
  if (subOffset > 0) {
    const json = isJson(src.contentType);
    const page = await readView(store, src.session, position, json, { maxMessages: 1 });
    const message = page.messages[0];
    if (!message) throw new DsReply(400, 'Invalid fork sub-offset');
    if (message.data instanceof Uint8Array) {
      if (subOffset > message.data.byteLength) throw new DsReply(400, 'Invalid fork sub-offset');
      prefix = { type: MESSAGE_TYPE, data: message.data.slice(0, subOffset) };
    } else {
      if (subOffset > message.data.length) throw new DsReply(400, 'Invalid fork sub-offset');
      prefix = { type: MESSAGE_TYPE, data: message.data.slice(0, subOffset) as JsonValue };
    }
  }
  return { source: src, at, offset, prefix };
}

/** Turns a request body into the stream's events: one event per POST (JSON mode: the POSTed values as one array). */
function toEvents(body: Buffer, contentType: string, initial: boolean, chunk: number): EventInput[] {
  if (isJson(contentType)) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      throw new DsReply(400, 'Invalid JSON');
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) {
      if (initial) return [];
      throw new DsReply(400, 'Empty arrays are not allowed');
    }
    return [{ type: MESSAGE_TYPE, data: values as JsonValue }];
  }
  // A byte stream has no message boundaries to keep: a body larger than the backend's largest event is stored as
  // several events in one (atomic where the backend can) append, and read back concatenated.
  const events: EventInput[] = [];
  for (let at = 0; at < body.byteLength; at += chunk) {
    events.push({ type: MESSAGE_TYPE, data: new Uint8Array(body.buffer, body.byteOffset + at, Math.min(chunk, body.byteLength - at)) });
  }
  return events;
}

// ---------------------------------------------------------------------------------------------------------------
// HEAD

async function head(ctx: GatewayContext, res: ServerResponse, path: string): Promise<void> {
  const { stream } = await live(ctx.store, path);
  const tail = await tailOf(ctx.store, stream.session);
  const headers: Record<string, string> = { 'Stream-Next-Offset': tail.offset, 'Cache-Control': 'no-store', 'Content-Type': stream.contentType };
  if (tail.closed) headers['Stream-Closed'] = 'true';
  if (stream.ttlSeconds !== undefined) headers['Stream-TTL'] = String(stream.ttlSeconds);
  if (stream.expiresAt !== undefined) headers['Stream-Expires-At'] = stream.expiresAt;
  headers.ETag = etag(path, '-1', tail.offset, tail.closed);
  res.writeHead(200, headers);
  res.end();
}

function etag(path: string, start: string, end: string, closed: boolean): string {
  return `"${Buffer.from(path).toString('base64url')}:${start}:${end}${closed ? ':c' : ''}"`;
}

// ---------------------------------------------------------------------------------------------------------------
// GET: catch-up, long-poll, SSE

function formatBody(messages: DsMessage[], json: boolean): Buffer {
  if (json) {
    const values: unknown[] = [];
    for (const m of messages) values.push(...(m.data as unknown[]));
    return Buffer.from(JSON.stringify(values));
  }
  return Buffer.concat(messages.map((m) => m.data as Uint8Array));
}

async function read(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void> {
  const offsets = url.searchParams.getAll('offset');
  const liveMode = url.searchParams.get('live');
  const cursor = url.searchParams.get('cursor') ?? undefined;
  if (offsets.length > 1) throw new DsReply(400, 'Multiple offset parameters not allowed');
  const offset = offsets[0];
  if (offset === '') throw new DsReply(400, 'Empty offset parameter');
  let position: DsPosition | 'now' = { start: true };
  if (offset !== undefined) {
    if (offset === 'now') position = 'now';
    else {
      try {
        position = parseDsOffset(offset);
      } catch {
        throw new DsReply(400, 'Invalid offset format');
      }
    }
  }
  if ((liveMode === 'long-poll' || liveMode === 'sse') && offset === undefined) {
    throw new DsReply(400, `${liveMode === 'sse' ? 'SSE' : 'Long-poll'} requires offset parameter`);
  }
  const { view, stream } = await live(ctx.store, path);
  const json = isJson(stream.contentType);
  await touch(ctx.store, view);
  if (liveMode === 'sse') return sse(ctx, req, res, stream, position, cursor);

  if (position === 'now') {
    const tail = await tailOf(ctx.store, stream.session);
    if (liveMode !== 'long-poll') {
      const headers: Record<string, string> = { 'Stream-Next-Offset': tail.offset, 'Stream-Up-To-Date': 'true', 'Cache-Control': 'no-store', 'Content-Type': stream.contentType };
      if (tail.closed) headers['Stream-Closed'] = 'true';
      res.writeHead(200, headers);
      res.end(json ? '[]' : '');
      return;
    }
    position = parseDsOffset(tail.offset);
  }
  let page = await readView(ctx.store, stream.session, position, json);
  if (liveMode === 'long-poll' && page.messages.length === 0 && page.upToDate) {
    if (page.closed) {
      res.writeHead(204, { 'Stream-Next-Offset': page.next, 'Stream-Up-To-Date': 'true', 'Stream-Closed': 'true' });
      res.end();
      return;
    }
    const arrived = await waitForData(ctx.store, stream.session, page.last, ctx.longPollMs, ctx.shutdown);
    const after = arrived ? await readView(ctx.store, stream.session, position, json) : page;
    if (after.messages.length === 0) {
      const headers: Record<string, string> = { 'Stream-Next-Offset': after.next, 'Stream-Up-To-Date': 'true', 'Stream-Cursor': generateCursor(cursor) };
      if (after.closed) headers['Stream-Closed'] = 'true';
      res.writeHead(204, headers);
      res.end();
      return;
    }
    page = after;
  }
  const headers: Record<string, string> = { 'Content-Type': stream.contentType, 'Stream-Next-Offset': page.next };
  if (liveMode === 'long-poll') headers['Stream-Cursor'] = generateCursor(cursor);
  if (page.upToDate) headers['Stream-Up-To-Date'] = 'true';
  if (page.closed) headers['Stream-Closed'] = 'true';
  const tag = etag(path, offset ?? '-1', page.next, page.closed);
  headers.ETag = tag;
  if (header(req, 'if-none-match') === tag) {
    res.writeHead(304, { ETag: tag });
    res.end();
    return;
  }
  res.writeHead(200, headers);
  res.end(formatBody(page.messages, json));
}

function sseData(payload: string): string {
  return payload.split(/\r\n|\r|\n/).map((line) => `data:${line}`).join('\n') + '\n\n';
}

async function sse(ctx: GatewayContext, _req: IncomingMessage, res: ServerResponse, stream: StreamState, start: DsPosition | 'now', cursor: string | undefined): Promise<void> {
  const json = isJson(stream.contentType);
  const ct = mediaType(stream.contentType);
  const base64 = !(ct.startsWith('text/') || ct === 'application/json');
  let position = start === 'now' ? parseDsOffset((await tailOf(ctx.store, stream.session)).offset) : start;
  const headers: Record<string, string> = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };
  if (base64) headers['Stream-SSE-Data-Encoding'] = 'base64';
  res.writeHead(200, headers);
  const closed = new AbortController();
  res.on('close', () => closed.abort());
  const onShutdown = () => closed.abort();
  ctx.shutdown.addEventListener('abort', onShutdown, { once: true });
  const deadline = setTimeout(() => closed.abort(), ctx.sseMaxMs);
  const write = (text: string) =>
    new Promise<void>((resolve) => {
      if (closed.signal.aborted || res.write(text)) return resolve();
      const done = () => resolve();
      res.once('drain', done);
      closed.signal.addEventListener('abort', done, { once: true });
    });
  const control = (next: string, upToDate: boolean, isClosed: boolean) => {
    const data: Record<string, unknown> = { streamNextOffset: next };
    if (isClosed) data.streamClosed = true;
    else {
      data.streamCursor = generateCursor(cursor);
      if (upToDate) data.upToDate = true;
    }
    return `event: control\n${sseData(JSON.stringify(data))}`;
  };
  const emit = async (data: Uint8Array | unknown[], next: string, upToDate: boolean, isClosed: boolean) => {
    const payload = base64 ? Buffer.from(data as Uint8Array).toString('base64') : json ? JSON.stringify(data) : Buffer.from(data as Uint8Array).toString('utf8');
    await write(`event: data\n${sseData(payload)}` + control(next, upToDate, isClosed));
  };
  let session: DurableSession | undefined;
  try {
    // Catch up page by page (a fork's inherited history included) until the stream is read to its current end.
    let page;
    for (;;) {
      page = await readView(ctx.store, stream.session, position, json, { maxBytes: 256 * 1024 });
      for (let i = 0; i < page.messages.length; i++) {
        const m = page.messages[i]!;
        const last = i === page.messages.length - 1;
        await emit(m.data, last ? page.next : m.offset, last && page.upToDate, last && page.closed);
      }
      if (page.messages.length === 0) await write(control(page.next, page.upToDate, page.closed));
      position = parseDsOffset(page.next);
      if (page.closed || page.upToDate || closed.signal.aborted) break;
    }
    if (!page.closed && !closed.signal.aborted) {
      // Live: one subscription on the stream's session for the whole response, with keep-alive controls when idle.
      session = ctx.store.session(stream.session);
      const iterator = session.events({ from: page.last ?? 'start', signal: closed.signal, pageSize: 100 });
      let next = page.next;
      let pending = iterator.next();
      for (;;) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), ctx.longPollMs)));
        const item = await Promise.race([pending, idle]);
        clearTimeout(timer);
        if (closed.signal.aborted) break;
        if (item === 'idle') {
          await write(control(next, true, false));
          continue;
        }
        if (item.done) {
          await write(control(next, true, true));
          break;
        }
        pending = iterator.next();
        const event = item.value;
        next = formatDsOffset(event.offset);
        if (event.type === MESSAGE_TYPE) await emit(messageData(event, json), next, true, false);
        else if (event.type === '$end') {
          await write(control(next, true, true));
          break;
        }
      }
      await iterator.return?.();
    }
  } finally {
    await session?.close({ leave: false });
    clearTimeout(deadline);
    ctx.shutdown.removeEventListener('abort', onShutdown);
    res.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// POST: append, close

async function append(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const store = ctx.store;
  const contentType = header(req, 'content-type');
  const seq = header(req, 'stream-seq');
  const close = header(req, 'stream-closed') === 'true';
  const producerId = header(req, 'producer-id');
  const epochText = header(req, 'producer-epoch');
  const seqText = header(req, 'producer-seq');
  const anyProducer = producerId !== undefined || epochText !== undefined || seqText !== undefined;
  if (anyProducer && (producerId === undefined || epochText === undefined || seqText === undefined)) {
    throw new DsReply(400, 'All producer headers (Producer-Id, Producer-Epoch, Producer-Seq) must be provided together');
  }
  if (anyProducer && producerId === '') throw new DsReply(400, 'Invalid Producer-Id: must not be empty');
  let producer: { id: string; epoch: number; seq: number } | undefined;
  if (anyProducer) {
    if (!INTEGER.test(epochText!) || !Number.isSafeInteger(Number(epochText))) throw new DsReply(400, 'Invalid Producer-Epoch: must be a non-negative integer');
    if (!INTEGER.test(seqText!) || !Number.isSafeInteger(Number(seqText))) throw new DsReply(400, 'Invalid Producer-Seq: must be a non-negative integer');
    producer = { id: producerId!, epoch: Number(epochText), seq: Number(seqText) };
  }
  const body = await readBody(req, bodyLimit(ctx));
  const { view, stream } = await live(store, path);
  const own = stream.session;
  const closedHeaders = async () => ({ 'Stream-Closed': 'true', 'Stream-Next-Offset': (await tailOf(store, stream.session)).offset });

  if (body.length === 0 && !close) throw new DsReply(400, 'Empty body');
  let events: EventInput[] = [];
  if (body.length > 0) {
    if (!contentType) throw new DsReply(400, 'Content-Type header is required');
    if (mediaType(contentType) !== mediaType(stream.contentType)) throw new DsReply(409, 'Content-type mismatch');
    events = toEvents(body, stream.contentType, false, chunkBytes(ctx));
  }
  if (seq !== undefined) {
    await mutateMeta(store, path, (v) => {
      const s = v.stream;
      if (!s || s.gen !== stream.gen) throw new DsReply(404, 'Stream not found');
      if (s.lastSeq !== undefined && seq <= s.lastSeq) {
        const by = s.lastSeqProducer;
        // A producer retrying the append that set this Stream-Seq is a duplicate, not a conflict.
        if (producer && by && by.id === producer.id && by.epoch === producer.epoch && producer.seq <= by.seq) return { result: undefined };
        throw new DsReply(409, 'Sequence conflict');
      }
      return { record: { type: 'seq', data: { gen: s.gen, seq, ...(producer ? { producer } : {}) } }, result: undefined };
    });
  }
  await touch(store, view);

  const session = store.session(own);
  try {
    if (producer) {
      if (events.length === 0) events = [{ type: CLOSE_MARK_TYPE, data: null }];
      const before = (await session.info()).lastOffset;
      let offsets: string[];
      try {
        offsets = await session.append(events, { producer });
      } catch (err) {
        if (isDurableSessionError(err, 'STALE_PRODUCER')) {
          throw new DsReply(403, 'Stale producer epoch', { 'Producer-Epoch': String((err as { details: { currentEpoch?: number } }).details.currentEpoch ?? '') });
        }
        if (isDurableSessionError(err, 'SEQUENCE_GAP')) {
          const details = (err as { details: { expectedSeq?: number; receivedSeq?: number } }).details;
          if (details.expectedSeq === 0 && producer.epoch > 0 && producer.seq !== 0) throw new DsReply(400, 'New epoch must start with sequence 0');
          throw new DsReply(409, 'Producer sequence gap', { 'Producer-Expected-Seq': String(details.expectedSeq ?? ''), 'Producer-Received-Seq': String(details.receivedSeq ?? producer.seq) });
        }
        if (isDurableSessionError(err, 'SESSION_ENDED')) {
          const by = (await readMeta(store, path)).stream?.closedBy;
          if (by && by.id === producer.id) {
            if (producer.epoch < by.epoch) throw new DsReply(403, 'Stale producer epoch', { 'Producer-Epoch': String(by.epoch) });
            if (producer.epoch === by.epoch && producer.seq <= by.seq) {
              res.writeHead(204, { ...(await closedHeaders()), 'Producer-Epoch': String(by.epoch), 'Producer-Seq': String(by.seq) });
              res.end();
              return;
            }
          }
          throw new DsReply(409, 'Stream is closed', await closedHeaders());
        }
        throw err;
      }
      const duplicate = offsets.length === 0 || offsets[0] === undefined || (before !== null && offsets[0]! <= before);
      if (close && !duplicate) {
        // Remembered so a retry of this close (same producer tuple) is recognised after the end.
        await mutateMeta(store, path, (v) => ({ record: v.stream?.gen === stream.gen ? { type: 'closed-by', data: { gen: stream.gen, producer } } : undefined, result: undefined }));
        await session.end({ reason: 'closed' }).catch((err: unknown) => (isDurableSessionError(err, 'SESSION_ENDED') ? '' : Promise.reject(err)));
      }
      const acceptedSeq = duplicate ? await highestAcceptedSeq(session, producer) : producer.seq;
      const tail = await tailOf(store, stream.session);
      const headers: Record<string, string> = { 'Stream-Next-Offset': tail.offset, 'Producer-Epoch': String(producer.epoch), 'Producer-Seq': String(acceptedSeq) };
      if (tail.closed) headers['Stream-Closed'] = 'true';
      res.writeHead(duplicate || body.length === 0 ? 204 : 200, headers);
      res.end();
      return;
    }
    let last: string | undefined;
    if (events.length > 0) {
      try {
        last = (await session.append(events)).at(-1);
      } catch (err) {
        if (isDurableSessionError(err, 'SESSION_ENDED')) throw new DsReply(409, 'Stream is closed', await closedHeaders());
        throw err;
      }
    }
    if (close) {
      await session.end({ reason: 'closed' }).catch((err: unknown) => (isDurableSessionError(err, 'SESSION_ENDED') ? '' : Promise.reject(err)));
      const tail = await tailOf(store, stream.session);
      res.writeHead(204, { 'Stream-Next-Offset': tail.offset, 'Stream-Closed': 'true' });
      res.end();
      return;
    }
    // The offset after this append (what the writer needs), without another round trip to the backend.
    res.writeHead(204, { 'Stream-Next-Offset': formatDsOffset(last!) });
    res.end();
  } finally {
    await session.close({ leave: false });
  }
}

/**
 * The producer's highest accepted seq, which the core does not report for duplicates: an append with an impossible
 * seq is refused with SEQUENCE_GAP (storing nothing), and the gap names the expected seq.
 */
async function highestAcceptedSeq(session: DurableSession, producer: { id: string; epoch: number; seq: number }): Promise<number> {
  try {
    await session.append({ type: 'ds.probe', data: null }, { producer: { ...producer, seq: Number.MAX_SAFE_INTEGER } });
  } catch (err) {
    const expected = (err as { details?: { expectedSeq?: unknown } }).details?.expectedSeq;
    if (isDurableSessionError(err, 'SEQUENCE_GAP') && typeof expected === 'number') return expected - 1;
  }
  return producer.seq;
}

// ---------------------------------------------------------------------------------------------------------------
// DELETE

async function remove(ctx: GatewayContext, res: ServerResponse, path: string): Promise<void> {
  const released = await mutateMeta(ctx.store, path, (view) => {
    const status = statusOf(view);
    if (status === 'none') throw new DsReply(404, 'Stream not found');
    if (status === 'soft-deleted') throw new DsReply(410, 'Stream is gone');
    const s = view.stream!;
    return { record: { type: 'delete', data: { gen: s.gen } }, result: s.forks === 0 ? s.fork : undefined };
  });
  if (released) await releaseParent(ctx.store, released.source, released.sourceGen);
  res.writeHead(204);
  res.end();
}

/** A fork is gone: its source loses a reference, and a soft-deleted source with none left is gone too (cascading). */
async function releaseParent(store: SessionStore, source: string, gen: number): Promise<void> {
  const next = await mutateMeta(store, source, (view) => {
    const s = view.stream;
    if (!s || s.gen !== gen) return { result: undefined };
    const gone = (s.deleted || expired(s)) && s.forks <= 1;
    return { record: { type: 'fork-', data: { gen } }, result: gone ? s.fork : undefined };
  });
  if (next) await releaseParent(store, next.source, next.sourceGen);
}

/** A body larger than the backend's largest event can never be stored: refuse it (413) before reading it all. */
function bodyLimit(ctx: GatewayContext): number {
  const { maxPayloadBytes, maxBatchSize } = ctx.store.capabilities;
  return Math.min(ctx.limits.maxBodyBytes, Math.max(maxPayloadBytes, chunkBytes(ctx) * maxBatchSize));
}

/** Raw bytes per event so that base64 plus the event envelope stays under the backend's payload limit. */
function chunkBytes(ctx: GatewayContext): number {
  return Math.max(1, Math.floor(((ctx.store.capabilities.maxPayloadBytes - 1024) * 3) / 4));
}
