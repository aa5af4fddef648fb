import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type SessionStore } from '@durable-sessions/core';
import { WebSocketServer } from 'ws';
import { secretKey } from './auth.js';
import { grantFor, type GatewayContext } from './context.js';
import { handleDurableStreams } from './ds/routes.js';
import { GatewayError, httpStatus, toWireError } from './errors.js';
import { applyCors, pathSegments, sendError, sendJson } from './http-util.js';
import { resolveLimits, type GatewayOptions } from './options.js';
import { KeyedLimiter } from './rate-limit.js';
import { handleSessions } from './sessions-http.js';
import { CloseCode, connectionIdFrom, isWsPath, WsConnection } from './ws.js';

/** A running gateway. */
export interface RunningGateway {
  /** The base URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The store it serves. */
  readonly store: SessionStore;
  /** Stops accepting connections, ends live responses and sockets, and closes the store if the gateway opened it. */
  close(): Promise<void>;
}

/**
 * Starts a gateway: a stateless HTTP/WebSocket server over one store. Any number of gateways can serve one
 * backend side by side; all state lives in the backend, only live connections live here.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  if (options.auth === undefined) {
    throw new GatewayError('CONFIG_INVALID', 'Choose auth explicitly: { secret } for signed tokens, or false for local testing only.');
  }
  const key = options.auth === false ? undefined : secretKey(options.auth.secret);
  const ownsStore = typeof options.store === 'string';
  const store =
    typeof options.store === 'string'
      ? await connect(options.store, { clientId: options.clientId ?? 'gateway', ...(options.presenceTimeoutMs ? { presence: { timeoutMs: options.presenceTimeoutMs } } : {}) })
      : options.store;
  const shutdown = new AbortController();
  // Every long-lived response listens for shutdown; thousands of them are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const limits = resolveLimits(options.limits);
  const httpLimiter = new KeyedLimiter(limits.requestsPerSecond);
  const ctx: GatewayContext = {
    store,
    key,
    cors: options.cors === undefined ? {} : options.cors,
    limits,
    longPollMs: options.longPollMs ?? 30_000,
    sseMaxMs: options.sseMaxMs ?? 300_000,
    httpLimiter,
    shutdown: shutdown.signal,
  };

  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => sendError(res, err));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes });
  const connections = new Set<WsConnection>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(ctx, wss, connections, req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    store,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        httpLimiter.close();
        for (const c of connections) c.close(CloseCode.goingAway, 'Gateway shutting down.');
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        wss.close();
        if (ownsStore) await store.close();
      })();
      return closing;
    },
  };
}

async function handle(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (applyCors(req, res, ctx.cors)) return;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://gateway');
  } catch {
    throw new GatewayError('INVALID_ARGUMENT', 'Malformed request URL.');
  }
  const path = url.pathname;
  if (path === '/health') return sendJson(res, 200, { ok: true });
  if (path.startsWith('/v1/stream/')) return handleDurableStreams(ctx, req, res, url);
  if (path.startsWith('/v1/sessions/')) return handleSessions(ctx, req, res, url, pathSegments(path).slice(2));
  throw new GatewayError('NOT_FOUND', `No route for ${req.method} ${path.slice(0, 200)}.`);
}

async function upgrade(ctx: GatewayContext, wss: WebSocketServer, connections: Set<WsConnection>, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const refuse = (err: unknown) => {
    const error = toWireError(err);
    const body = JSON.stringify({ error });
    socket.end(`HTTP/1.1 ${httpStatus(error.code)} ${error.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };
  socket.on('error', () => socket.destroy());
  try {
    if (!isWsPath(req)) throw new GatewayError('NOT_FOUND', 'The WebSocket endpoint is /v1/ws.');
    if (ctx.shutdown.aborted) throw new GatewayError('CLOSED', 'The gateway is shutting down.');
    const url = new URL(req.url ?? '/', 'http://gateway');
    const connectionId = connectionIdFrom(url);
    const token = url.searchParams.get('token') ?? undefined;
    const grant = ctx.key === undefined || token !== undefined ? await grantFor(ctx, token) : undefined;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new WsConnection(ctx, ws, connectionId, grant);
      connections.add(connection);
      ws.on('close', () => connections.delete(connection));
    });
  } catch (err) {
    refuse(err);
  }
}
