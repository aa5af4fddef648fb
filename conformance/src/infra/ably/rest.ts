import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { memberKey, type HistoryQuery } from './channel.js';
import { decodeWire, encodeWire, outgoing, wireError, type Format } from './protocol.js';
import type { Realtime } from './realtime.js';
import { AblyError, randomId, type EmulatorState, type Identity } from './state.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;
const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;

/** Serves the REST endpoints the SDK uses. Errors are `{ error: { code, statusCode, message } }` in JSON. */
export async function handleRest(state: EmulatorState, realtime: Realtime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const accept = String(req.headers.accept ?? '');
  const format: Format = accept.includes('msgpack') || url.searchParams.get('format') === 'msgpack' ? 'msgpack' : 'json';
  try {
    const segments = url.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/time') return send(res, 200, [Date.now()], format);
    if (method === 'POST' && segments[0] === 'keys' && segments[2] === 'requestToken' && segments.length === 3) {
      return send(res, 200, requestToken(state, segments[1]!, await readBody(req)), format);
    }
    if (segments[0] !== 'channels' || segments.length < 2) throw notFound(url.pathname);
    const identity = authenticate(state, req);
    const channel = state.channel(segments[1]!);
    const rest = segments.slice(2).join('/');
    const params = url.searchParams;
    if (method === 'GET' && rest === '') {
      return send(res, 200, { channelId: channel.name, status: { isActive: true, occupancy: { metrics: occupancy(realtime, channel.name) } } }, format);
    }
    if (method === 'GET' && rest === 'messages') {
      const page = channel.page(historyQuery(params));
      res.setHeader('link', links(params, page.next, 'messages'));
      return send(res, 200, page.items.map((m) => outgoing(m, format)), format);
    }
    if (method === 'POST' && rest === 'messages') {
      const body = await readBody(req);
      const raw = Array.isArray(body) ? body : [body];
      const idBase = randomId();
      const from = { id: `rest-${randomId(6)}`, ...(identity.clientId !== undefined ? { clientId: identity.clientId } : {}) };
      const serials = realtime.publishMessages(channel, raw, from, idBase);
      return send(res, 201, { channel: channel.name, messageId: idBase, serials }, format);
    }
    if (method === 'GET' && rest === 'presence') {
      const clientId = params.get('clientId');
      const connectionId = params.get('connectionId');
      const members = [...channel.presence.values()]
        .filter((m) => (clientId === null || m.clientId === clientId) && (connectionId === null || m.connectionId === connectionId))
        .sort((a, b) => (memberKey(a.connectionId, a.clientId) < memberKey(b.connectionId, b.clientId) ? -1 : 1));
      params.set('direction', 'forwards');
      return sendPage(res, members, (m) => memberKey(m.connectionId, m.clientId), params, 'presence', format);
    }
    if (method === 'GET' && rest === 'presence/history') {
      const items = channel.presenceHistory
        .map((event, index) => ({ event, key: String(index).padStart(12, '0') }))
        .filter(({ event }) => inWindow(event.timestamp, params));
      const page = pageOf(items, (i) => i.key, params);
      res.setHeader('link', links(params, page.next, 'history'));
      return send(res, 200, page.items.map((i) => outgoing(i.event, format)), format);
    }
    throw notFound(url.pathname);
  } catch (err) {
    const error = err instanceof AblyError ? err.error : wireError(50000, 500, String((err as Error)?.message ?? err));
    res.statusCode = error.statusCode;
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-ably-errorcode', String(error.code));
    res.setHeader('x-ably-errormessage', error.message);
    res.end(JSON.stringify({ error }));
  }
}

function notFound(path: string): AblyError {
  return new AblyError(wireError(40400, 404, `Not found: ${path}`));
}

function authenticate(state: EmulatorState, req: IncomingMessage): Identity {
  const header = String(req.headers.authorization ?? '');
  if (header.startsWith('Basic ')) return state.authKey(Buffer.from(header.slice(6), 'base64').toString('utf8'));
  if (header.startsWith('Bearer ')) return state.authToken(header.slice(7));
  throw new AblyError(wireError(40101, 401, 'No authentication given'));
}

/** Checks a signed token request (mac over the fields, as the SDK signs it) and issues a token. */
function requestToken(state: EmulatorState, keyName: string, body: unknown): unknown {
  const secret = state.options.keys[keyName];
  if (secret === undefined) throw new AblyError(wireError(40400, 404, `No key ${JSON.stringify(keyName)}`));
  const request = (body ?? {}) as Record<string, unknown>;
  const field = (name: string) => (request[name] === undefined || request[name] === null ? '' : String(request[name]));
  if (field('keyName') !== keyName) throw new AblyError(wireError(40101, 401, 'Token request for another key'));
  const signText = `${keyName}\n${field('ttl')}\n${field('capability')}\n${field('clientId')}\n${field('timestamp')}\n${field('nonce')}\n`;
  const mac = createHmac('sha256', secret).update(signText).digest('base64');
  if (mac !== request.mac) throw new AblyError(wireError(40101, 401, 'Invalid token request signature'));
  const issued = Date.now();
  const ttl = Number(request.ttl) > 0 ? Number(request.ttl) : DEFAULT_TOKEN_TTL_MS;
  const token = `${keyName}.${randomId(24)}`;
  const capability = field('capability') || '{"*":["*"]}';
  const clientId = field('clientId') || undefined;
  // Expired tokens are dropped here, where new ones arrive, so the token table stays as small as the live set.
  for (const [name, entry] of state.tokens) if (entry.expires <= issued) state.tokens.delete(name);
  state.tokens.set(token, { keyName, expires: issued + ttl, capability, ...(clientId !== undefined ? { clientId } : {}) });
  return { token, keyName, issued, expires: issued + ttl, capability, ...(clientId !== undefined ? { clientId } : {}) };
}

function occupancy(realtime: Realtime, channel: string) {
  let subscribers = 0;
  for (const connection of realtime.connections.values()) if (connection.attachments.has(channel)) subscribers++;
  return { connections: subscribers, publishers: subscribers, subscribers, presenceConnections: subscribers, presenceMembers: 0, presenceSubscribers: subscribers };
}

function inWindow(timestamp: number, params: URLSearchParams): boolean {
  const start = params.get('start');
  const end = params.get('end');
  return (start === null || timestamp >= Number(start)) && (end === null || timestamp <= Number(end));
}

function sendPage<T extends { data?: unknown; encoding?: string }>(
  res: ServerResponse,
  items: T[],
  key: (item: T) => string,
  params: URLSearchParams,
  resource: string,
  format: Format,
): void {
  const page = pageOf(items, key, params);
  res.setHeader('link', links(params, page.next, resource));
  send(res, 200, page.items.map((m) => outgoing(m, format)), format);
}

/** The paging parameters every history request shares: `direction` (default backwards) and `limit`. */
function paging(params: URLSearchParams): { direction: 'forwards' | 'backwards'; limit: number } {
  const direction = params.get('direction') ?? 'backwards';
  if (direction !== 'backwards' && direction !== 'forwards') throw new AblyError(wireError(40000, 400, `Invalid direction ${direction}`));
  const limitParam = params.get('limit');
  const limit = limitParam === null ? DEFAULT_LIMIT : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new AblyError(wireError(40003, 400, `Invalid limit ${limitParam}`));
  return { direction, limit };
}

/** A message history request: paging, `start`/`end` (ms, inclusive), `from_serial` (untilAttach) and the cursor. */
function historyQuery(params: URLSearchParams): HistoryQuery {
  const query: HistoryQuery = paging(params);
  const number = (name: string) => {
    const value = params.get(name);
    if (value === null) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new AblyError(wireError(40003, 400, `Invalid ${name} ${value}`));
    return n;
  };
  const start = number('start');
  const end = number('end');
  if (start !== undefined) query.start = start;
  if (end !== undefined) query.end = end;
  const fromSerial = params.get('from_serial');
  if (fromSerial !== null) query.untilSerial = fromSerial;
  const cursor = params.get('cursor');
  if (cursor !== null) query.cursor = cursor;
  return query;
}

/** One page of an in-memory list, with an exclusive `cursor` from the previous page. */
function pageOf<T>(items: T[], key: (item: T) => string, params: URLSearchParams): { items: T[]; next: string | undefined } {
  const { direction, limit } = paging(params);
  const cursor = params.get('cursor');
  let ordered = direction === 'forwards' ? items : [...items].reverse();
  if (cursor !== null) ordered = ordered.filter((item) => (direction === 'forwards' ? key(item) > cursor : key(item) < cursor));
  const page = ordered.slice(0, limit);
  return { items: page, next: ordered.length > limit ? key(page[page.length - 1]!) : undefined };
}

/** Link headers relative to the resource (`<./messages?…>`): the SDK finds no next page without the `./`. */
function links(params: URLSearchParams, next: string | undefined, resource: string): string {
  const first = new URLSearchParams(params);
  first.delete('cursor');
  const parts = [`<./${resource}?${first.toString()}>; rel="first"`];
  if (next !== undefined) {
    const following = new URLSearchParams(params);
    following.set('cursor', next);
    parts.push(`<./${resource}?${following.toString()}>; rel="next"`);
  }
  return parts.join(', ');
}

function send(res: ServerResponse, status: number, body: unknown, format: Format): void {
  res.statusCode = status;
  res.setHeader('content-type', format === 'msgpack' ? 'application/x-msgpack' : 'application/json');
  res.end(encodeWire(body, format));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const buffer = Buffer.concat(chunks);
  if (buffer.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  try {
    return decodeWire(buffer, type.includes('msgpack') ? 'msgpack' : 'json');
  } catch {
    throw new AblyError(wireError(40000, 400, 'Malformed request body'));
  }
}
