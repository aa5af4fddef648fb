import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, httpStatus, toWireError } from './errors.js';
import type { CorsOptions } from './options.js';

const EXPOSED = [
  'Stream-Next-Offset', 'Stream-Cursor', 'Stream-Up-To-Date', 'Stream-Closed', 'Stream-TTL', 'Stream-Expires-At',
  'Stream-SSE-Data-Encoding', 'Producer-Epoch', 'Producer-Seq', 'Producer-Expected-Seq', 'Producer-Received-Seq',
  'ETag', 'Location', 'Content-Type', 'Retry-After',
];
const ALLOWED = [
  'Content-Type', 'Authorization', 'Last-Event-ID', 'If-None-Match', 'Stream-Seq', 'Stream-TTL', 'Stream-Expires-At',
  'Stream-Closed', 'Producer-Id', 'Producer-Epoch', 'Producer-Seq', 'Stream-Forked-From', 'Stream-Fork-Offset',
  'Stream-Fork-Sub-Offset',
];

/** Sets CORS and browser-security headers; answers preflights. Returns true when the request was a preflight. */
export function applyCors(req: IncomingMessage, res: ServerResponse, cors: false | CorsOptions): boolean {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  if (cors !== false) {
    const origins = cors.origins ?? '*';
    const origin = req.headers.origin;
    let allow: string | undefined;
    if (origins === '*') allow = '*';
    else if (origin && origins.includes(origin)) allow = origin;
    if (allow) {
      res.setHeader('Access-Control-Allow-Origin', allow);
      if (allow !== '*') res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', EXPOSED.join(', '));
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, HEAD, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', [...ALLOWED, ...(cors.allowHeaders ?? [])].join(', '));
        res.setHeader('Access-Control-Max-Age', String(cors.maxAgeSeconds ?? 600));
      }
    }
  }
  if (req.method === 'OPTIONS') {
    res.writeHead(204);
    res.end();
    return true;
  }
  return false;
}

/** Reads a request body up to `limit` bytes; a bigger one fails with `PAYLOAD_TOO_LARGE` (413). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new GatewayError('PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes.`, { maxBytes: limit });
    // An oversized body is still read (and dropped) up to DRAIN_CAP before the 413 goes out: answering while the
    // client is still uploading makes the connection close under it, and the client sees ECONNRESET, not the 413.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > DRAIN_CAP) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = Number.isFinite(declared) && declared > limit;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (failed) {
        if (size > DRAIN_CAP && !settled) {
          settled = true;
          reject(tooLarge());
        }
        return;
      }
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (failed) reject(tooLarge());
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
  });
}

/** Oversized bodies up to this size are drained before the 413 (see {@link readBody}); larger ones are cut. */
const DRAIN_CAP = 64 * 1024 * 1024;

/** Parses a JSON body; empty bodies give `undefined`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('INVALID_FRAME', 'The body is not valid JSON.');
  }
}

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/** Sends an error as `{ error: { code, message, details } }` with the matching status. */
export function sendError(res: ServerResponse, err: unknown): void {
  const error = toWireError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  const retry = error.details?.retryAfterMs;
  if (typeof retry === 'number') headers['Retry-After'] = String(Math.max(1, Math.ceil(retry / 1000)));
  sendJson(res, httpStatus(error.code), { error }, headers);
}

/** The bearer token of a request: `Authorization: Bearer …`, else the `token` query parameter. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && /^bearer\s+/i.test(header)) return header.replace(/^bearer\s+/i, '').trim();
  return url.searchParams.get('token') ?? undefined;
}

/** Splits a path into decoded segments; a malformed escape fails with `INVALID_ARGUMENT`. */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new GatewayError('INVALID_SESSION_ID', 'The path contains a malformed %-escape.');
      }
    });
}
