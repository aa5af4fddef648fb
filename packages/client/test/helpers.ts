import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { connect, type SessionStore } from '@durable-sessions/core';
import { startGateway, signToken, type GatewayOptions, type RunningGateway, type Right } from '@durable-sessions/gateway';
import { memory } from '@durable-sessions/memory';
import { firstValueFrom, filter, timeout, type Observable } from 'rxjs';
import WebSocket from 'ws';
import { createClient, type ClientOptions, type ConnectionState, type DurableSessionsClient, type WebSocketConstructor } from '../src/index.js';

/** At least 32 bytes, as the gateway requires. */
export const SECRET = 'test-secret-test-secret-test-secret-0123456789';

/** `ws` as the client's WebSocket (Node 20 has no global one). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/** A fresh in-process memory store, owned by the test so it outlives gateway restarts. */
export function memoryStore(): Promise<SessionStore> {
  return connect({ backend: memory(), clientId: 'gateway', presence: { timeoutMs: 3_000 } });
}

/** Starts a gateway over `store` with signed-token auth. */
export function gateway(store: SessionStore, options: Partial<GatewayOptions> = {}): Promise<RunningGateway> {
  return startGateway({ store, auth: { secret: SECRET }, ...options });
}

/** A token for `sessions` with every right unless told otherwise. */
export function token(sessions: string | string[], options: { rights?: Right[]; expiresInSeconds?: number; secret?: string } = {}): Promise<string> {
  return signToken({
    secret: options.secret ?? SECRET,
    sessions,
    rights: options.rights ?? ['read', 'append', 'control', 'presence'],
    expiresInSeconds: options.expiresInSeconds ?? 600,
  });
}

/** A client with `ws`, fast reconnects and the given options; closed by {@link closeAll}. */
export function client(url: string, options: Partial<ClientOptions> = {}): DurableSessionsClient {
  const c = createClient({ url, WebSocket: NodeWebSocket, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  opened.push(c);
  return c;
}
const opened: DurableSessionsClient[] = [];

/** Closes every client the tests made. */
export async function closeAll(): Promise<void> {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
}

/** Resolves with the first state that matches. */
export function stateWhere(c: DurableSessionsClient, match: (s: ConnectionState) => boolean, ms = 10_000): Promise<ConnectionState> {
  return firstValue(c.state$, match, ms);
}

/** The first value of `source` that matches, or a timeout error. */
export function firstValue<T>(source: Observable<T>, match: (value: T) => boolean, ms = 10_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(match), timeout(ms)));
}

/** Waits until `check` holds, re-checking on the event loop; fails after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A unique session id per test. */
export function sessionId(name: string): string {
  return `${name}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A loopback TCP proxy whose `cut()` destroys every connection through it, as a network failure would. */
export interface Proxy {
  readonly url: string;
  /** Connections currently open through the proxy. */
  readonly open: number;
  cut(): void;
  /** Stops forwarding on every open connection without closing it: a half-open connection, as after a sleep. */
  freeze(): void;
  close(): Promise<void>;
}

/** Starts a proxy to `targetPort`. */
export async function proxy(targetPort: number): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((downstream) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [downstream, upstream];
    pairs.add(pair);
    const kill = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', kill).on('close', kill);
    upstream.on('error', kill).on('close', kill);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = () => {
    for (const [down, up] of [...pairs]) {
      down.resetAndDestroy();
      up.destroy();
    }
    pairs.clear();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    get open() {
      return pairs.size;
    },
    cut,
    freeze() {
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
      }
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every frame the client sent, across all sockets made through {@link recordingWebSocket}. */
export interface FrameLog {
  sent: Array<Record<string, unknown>>;
  ctor: WebSocketConstructor;
}

/** A `ws` subclass that records what the client sends, to assert on the protocol it speaks. */
export function recordingWebSocket(): FrameLog {
  const log: FrameLog = { sent: [], ctor: undefined as unknown as WebSocketConstructor };
  class Recording extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      log.sent.push(JSON.parse(String(data)) as Record<string, unknown>);
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  log.ctor = Recording as unknown as WebSocketConstructor;
  return log;
}
