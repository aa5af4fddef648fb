import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from '../ports.js';
import { RespConnection, RespError, RespSimple, type RespValue } from './resp.js';

/**
 * A small Upstash-REST-compatible server in front of a real redis-server: TEST INFRASTRUCTURE, so the Redis adapter's
 * REST transport and @upstash/redis run against real Redis semantics without an Upstash account. It serves what the
 * SDK uses: bearer auth (`Authorization: Bearer` or `?_token=`), `POST /` (one command), `/pipeline` (not atomic),
 * `/multi-exec` (atomic), SSE `/subscribe/<channel>` and `/psubscribe/<pattern>`, the `Upstash-Encoding: base64`
 * response encoding (every string base64 except a top-level "OK"; numbers and null raw; errors never encoded), an
 * incrementing `upstash-sync-token` header, and it rejects blocking commands as Upstash does.
 */
export interface UpstashBridge {
  readonly port: number;
  readonly token: string;
  /** Cuts every HTTP connection (SSE streams included) and the bridge's connections to Redis. */
  dropConnections(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startUpstashBridge}. */
export interface UpstashBridgeOptions {
  /** The redis-server behind the bridge. */
  redisPort: number;
  /** The bearer token clients must send. */
  token: string;
  /** Listen port. @default a free one */
  port?: number;
  log?: (line: string) => void;
}

const BLOCKING = new Set(['BLPOP', 'BRPOP', 'BRPOPLPUSH', 'BLMOVE', 'BLMPOP', 'BZPOPMIN', 'BZPOPMAX', 'BZMPOP', 'WAIT', 'WAITAOF']);
const CONNECTION_STATE = new Set(['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'MONITOR', 'SELECT', 'CLIENT', 'QUIT', 'RESET', 'HELLO', 'SYNC', 'PSYNC']);
const IN_TRANSACTION = new Set(['MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH']);
const MAX_BODY = 64 * 1024 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Starts the bridge on 127.0.0.1. */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const port = options.port ?? (await freePort());
  let syncToken = 0;
  let conn: RespConnection | undefined;
  let connecting: Promise<RespConnection> | undefined;
  const subscribers = new Set<RespConnection>();
  const sockets = new Set<Socket>();

  const redis = async (): Promise<RespConnection> => {
    if (conn && !conn.closed) return conn;
    connecting ??= RespConnection.open(options.redisPort, '127.0.0.1', 2_000).then(
      (c) => {
        connecting = undefined;
        conn = c;
        return c;
      },
      (err: unknown) => {
        connecting = undefined;
        throw new HttpError(503, `Service Unavailable: redis-server is not reachable (${(err as Error).message})`);
      },
    );
    return connecting;
  };

  const run = async (list: string[][]): Promise<RespValue[]> => {
    const c = await redis();
    try {
      return await c.commands(list);
    } catch (err) {
      throw new HttpError(503, `Service Unavailable: lost the connection to redis-server (${(err as Error).message})`);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://bridge');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : url.searchParams.get('_token');
    if (token !== options.token) throw new HttpError(401, 'Unauthorized');
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const segments = url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
    if (segments[0] === 'subscribe' || segments[0] === 'psubscribe') {
      if (segments.length !== 2) throw new HttpError(400, 'ERR subscribe needs exactly one channel: /subscribe/<channel>');
      return subscribe(segments[0] === 'psubscribe', segments[1]!, req, res);
    }
    if (req.method !== 'POST') throw new HttpError(405, 'ERR only POST is supported by this bridge');
    const body = await readJson(req);
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'upstash-sync-token': String(++syncToken) });
      res.end(JSON.stringify(value));
    };
    if (segments.length === 0) {
      const command = toCommand(body);
      checkAllowed(command, false);
      const [value] = await run([command]);
      if (value instanceof RespError) return reply(400, { error: value.message });
      return reply(200, { result: encodeValue(value!, base64, true) });
    }
    if (segments[0] === 'pipeline' || segments[0] === 'multi-exec') {
      if (!Array.isArray(body) || body.length === 0) throw new HttpError(400, 'ERR the body must be a non-empty array of commands');
      const commands = body.map(toCommand);
      if (segments[0] === 'pipeline') {
        for (const command of commands) checkAllowed(command, false);
        const values = await run(commands);
        return reply(200, values.map((v) => (v instanceof RespError ? { error: v.message } : { result: encodeValue(v, base64, true) })));
      }
      for (const command of commands) checkAllowed(command, true);
      const values = await run([['MULTI'], ...commands, ['EXEC']]);
      const exec = values[values.length - 1]!;
      if (exec instanceof RespError) return reply(400, { error: exec.message });
      if (!Array.isArray(exec)) return reply(400, { error: 'EXECABORT Transaction discarded' });
      return reply(200, exec.map((v) => (v instanceof RespError ? { error: v.message } : { result: encodeValue(v, base64, true) })));
    }
    throw new HttpError(404, `ERR unknown endpoint /${segments.join('/')}`);
  };

  const subscribe = async (pattern: boolean, channel: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let sub: RespConnection;
    try {
      sub = await RespConnection.open(options.redisPort, '127.0.0.1', 2_000);
    } catch (err) {
      throw new HttpError(503, `Service Unavailable: redis-server is not reachable (${(err as Error).message})`);
    }
    subscribers.add(sub);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
    const text = (v: RespValue | undefined) => (Buffer.isBuffer(v) ? v.toString('utf8') : v instanceof RespSimple ? v.value : String(v));
    sub.onPush = (value) => {
      if (!Array.isArray(value)) return;
      // One SSE event per line: a raw newline in a message would cut it, exactly as on Upstash.
      res.write(`data: ${value.map(text).join(',')}\n\n`);
    };
    sub.onClose = () => {
      subscribers.delete(sub);
      res.end();
    };
    req.on('close', () => sub.close());
    sub.send([pattern ? 'PSUBSCRIBE' : 'SUBSCRIBE', channel]);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (res.headersSent) return void res.end();
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  options.log?.(`upstash bridge listening on http://127.0.0.1:${port} -> redis 127.0.0.1:${options.redisPort}`);

  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    for (const sub of subscribers) sub.close();
    subscribers.clear();
    conn?.close();
    conn = undefined;
  };
  return {
    port,
    token: options.token,
    async dropConnections() {
      dropAll();
    },
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'ERR max request size exceeded'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch {
        reject(new HttpError(400, 'ERR failed to parse the request body as JSON'));
      }
    });
    req.on('error', reject);
  });
}

function toCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new HttpError(400, 'ERR a command must be a non-empty JSON array');
  return value.map((part) => {
    if (typeof part === 'string') return part;
    if (typeof part === 'number' || typeof part === 'boolean') return String(part);
    if (part === null) return '';
    return JSON.stringify(part);
  });
}

function checkAllowed(command: string[], inTransaction: boolean): void {
  const name = command[0]!.toUpperCase();
  if (BLOCKING.has(name) || ((name === 'XREAD' || name === 'XREADGROUP') && command.some((a) => a.toUpperCase() === 'BLOCK'))) {
    throw new HttpError(400, `ERR blocking command ${name} is not supported`);
  }
  if (CONNECTION_STATE.has(name)) throw new HttpError(400, `ERR command ${name} is not supported over REST`);
  if (inTransaction && IN_TRANSACTION.has(name)) throw new HttpError(400, `ERR ${name} is not allowed in multi-exec`);
  if (!inTransaction && IN_TRANSACTION.has(name)) throw new HttpError(400, `ERR ${name} is not supported over REST; use /multi-exec`);
}

/** Upstash's response encoding: strings base64 (when asked), except a top-level "OK"; numbers and null raw. */
function encodeValue(value: RespValue, base64: boolean, top: boolean): unknown {
  if (value === null || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((v) => encodeValue(v, base64, false));
  if (value instanceof RespError) return value.message;
  if (value instanceof RespSimple) {
    if (!base64 || (top && value.value === 'OK')) return value.value;
    return Buffer.from(value.value, 'utf8').toString('base64');
  }
  return base64 ? value.toString('base64') : value.toString('utf8');
}
