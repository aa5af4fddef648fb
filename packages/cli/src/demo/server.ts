import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type SessionStore } from '@durable-sessions/core';
import { signToken, startGateway, type RunningGateway } from '@durable-sessions/gateway';
import type { LanguageModel } from 'ai';
import { startAgent, type DemoAgent } from './agent.js';
import { pageHtml } from './page-html.js';
import { WsProxy } from './ws-proxy.js';

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** The backend URL. `memory:` (the default) becomes a named in-process memory store shared by gateway and agent. */
  backendUrl?: string;
  /** Port of the page (and of the gateway behind it). 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Delay between the mock model's tokens, in ms. @default 40 */
  tokenMs?: number;
  /** A real AI SDK model instead of the mock (`'openai/gpt-4o-mini'` goes through the Vercel AI Gateway). */
  model?: LanguageModel;
  /** How long a viewer or agent that vanished stays in presence, in ms. @default 5000 */
  presenceTimeoutMs?: number;
  /** How long "Simulate network drop" keeps a tab offline, in ms. @default 1500 */
  outageMs?: number;
  /** Progress and errors, one line each. */
  log?: (line: string) => void;
}

/** A running demo. */
export interface DemoServer {
  /** The page's address, `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** The backend it runs on, with credentials redacted by the caller if needed. */
  readonly backendUrl: string;
  /** Stops the agent, the gateway and the page server. */
  close(): Promise<void>;
}

/** Chat ids the page may use; the session is `chat-<id>`. */
const CHAT_ID = /^[A-Za-z0-9_-]{1,48}$/;
/** Viewer ids (one per tab): the token's subject, hence the presence identity. */
const VIEWER_ID = /^[A-Za-z0-9_-]{1,48}$/;
const TOKEN_SECONDS = 15 * 60;

/** The folder of the built page bundle: `dist/demo-web`, next to the built CLI. */
function webDir(): string {
  // The CLI is bundled into dist/bin.js (ESM) and dist/*.cjs; both sit next to dist/demo-web.
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  return join(here, 'demo-web');
}

/**
 * Starts the web demo in one process: the gateway over the backend (auth on, with a random secret), the page and
 * its script, a token endpoint that scopes each tab to its chat session, a WebSocket pass-through that can simulate
 * a network drop, and the agent.
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const log = options.log ?? (() => {});
  const raw = options.backendUrl ?? 'memory:';
  // Gateway and agent are two clients of one backend; a private `memory:` store would give each its own.
  const backendUrl = raw === 'memory:' || raw === 'memory://' ? `memory://demo-${randomBytes(4).toString('hex')}` : raw;
  const presenceTimeoutMs = options.presenceTimeoutMs ?? 5_000;
  const presence = { timeoutMs: presenceTimeoutMs, heartbeatMs: Math.max(100, Math.floor(presenceTimeoutMs / 4)), pollMs: Math.max(100, Math.min(500, Math.floor(presenceTimeoutMs / 5))) };
  const secret = randomBytes(32).toString('base64url');
  const script = await readFile(join(webDir(), 'app.js'), 'utf8').catch(() => {
    throw new Error(`The page bundle ${join(webDir(), 'app.js')} is missing: build the CLI first (cd packages/cli && npx tsup).`);
  });

  let gatewayStore: SessionStore | undefined;
  let gateway: RunningGateway | undefined;
  let agent: DemoAgent | undefined;
  const watched = new Set<string>();
  const agentOptions = {
    url: backendUrl,
    presence,
    log,
    ...(options.tokenMs === undefined ? {} : { tokenMs: options.tokenMs }),
    ...(options.model === undefined ? {} : { model: options.model }),
  };
  try {
    gatewayStore = await connect(backendUrl, { clientId: 'gateway', presence });
    gateway = await startGateway({ store: gatewayStore, auth: { secret }, host: '127.0.0.1', port: 0 });
    agent = await startAgent(agentOptions);
  } catch (err) {
    await gateway?.close();
    await gatewayStore?.close();
    throw err;
  }
  const proxy = new WsProxy({ host: '127.0.0.1', port: gateway.port });
  let agentState: 'running' | 'crashed' = 'running';

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (req.method === 'GET' && url.pathname === '/') {
      const chat = url.searchParams.get('chat');
      // The chat id lives in the URL, so a reload or a second tab with the same address joins the same session.
      if (chat === null || !CHAT_ID.test(chat)) return send(302, 'text/plain', '', { Location: `/?chat=${randomBytes(6).toString('base64url')}` });
      return send(200, 'text/html; charset=utf-8', pageHtml({ presenceTimeoutMs }));
    }
    if (req.method === 'GET' && url.pathname === '/app.js') return send(200, 'text/javascript; charset=utf-8', script);
    if (req.method === 'GET' && url.pathname === '/api/token') {
      const chat = url.searchParams.get('chat') ?? '';
      const viewer = url.searchParams.get('viewer') ?? '';
      if (!CHAT_ID.test(chat) || !VIEWER_ID.test(viewer)) return json(400, { error: 'chat and viewer must be 1–48 of [A-Za-z0-9_-]' });
      const session = `chat-${chat}`;
      if (!watched.has(session)) {
        watched.add(session);
        agent?.watch(session);
      }
      const token = await signToken({ secret, sessions: session, rights: ['read', 'append', 'control', 'presence'], subject: `viewer-${viewer}`, expiresInSeconds: TOKEN_SECONDS });
      return json(200, { token, session });
    }
    if (req.method === 'POST' && url.pathname === '/api/drop') {
      const connection = url.searchParams.get('connection') ?? '';
      const outageMs = options.outageMs ?? 1_500;
      return json(200, { cut: proxy.drop(connection, outageMs), outageMs });
    }
    if (req.method === 'POST' && url.pathname === '/api/agent') {
      const action = url.searchParams.get('action');
      if (action === 'crash' && agentState === 'running') {
        agentState = 'crashed';
        const crashed = agent;
        agent = undefined;
        await crashed?.close({ crash: true });
      } else if (action === 'restart' && agentState === 'crashed') {
        agent = await startAgent(agentOptions);
        agentState = 'running';
        for (const session of watched) agent.watch(session);
      }
      return json(200, { agent: agentState });
    }
    if (req.method === 'GET' && url.pathname === '/api/agent') return json(200, { agent: agentState });
    return json(404, { error: `No route for ${req.method} ${url.pathname}` });
  };

  const server = createServer((req, res) => {
    routes(req, res).catch((err: unknown) => {
      log(`demo: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => proxy.upgrade(req, socket, head));
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
    url: `http://${host}:${address.port}/`,
    backendUrl,
    close() {
      closing ??= (async () => {
        proxy.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await agent?.close();
        await gateway.close();
        await gatewayStore.close();
      })();
      return closing;
    },
  };
}
