import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Action, encodeWire, type Format } from './protocol.js';
import { Realtime, type ConnectRequest } from './realtime.js';
import { handleRest } from './rest.js';
import { AblyError, DEFAULT_KEY_NAME, EmulatorState, resolveOptions, type AblyEmulatorOptions, type Identity } from './state.js';

export type { AblyEmulatorOptions } from './state.js';

/**
 * A local, protocol-faithful stand-in for Ably that the real `ably` SDK talks to: one loopback port serving the
 * realtime WebSocket protocol (v6, JSON and msgpack) and the REST endpoints the SDK uses. Channel history survives
 * {@link AblyEmulator.restart} (like Ably's persisted history); connection state does not.
 */
export class AblyEmulator {
  readonly state: EmulatorState;
  private readonly realtime: Realtime;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<Socket>();
  private stopped = false;

  private constructor(
    readonly port: number,
    options: AblyEmulatorOptions,
  ) {
    this.state = new EmulatorState(resolveOptions(options));
    this.realtime = new Realtime(this.state);
  }

  /** Starts an emulator on `options.port` (or a free port) of 127.0.0.1. */
  static async start(options: AblyEmulatorOptions = {}): Promise<AblyEmulator> {
    const emulator = new AblyEmulator(options.port ?? 0, options);
    const port = await emulator.listen(options.port ?? 0);
    (emulator as { port: number }).port = port;
    return emulator;
  }

  /** The first configured key, `keyName:secret`. */
  get key(): string {
    const [name, secret] = Object.entries(this.state.options.keys)[0] ?? [DEFAULT_KEY_NAME, ''];
    return `${name}:${secret}`;
  }

  /** Client options for the `ably` SDK pointing at this emulator. */
  clientOptions(): { key: string; endpoint: string; port: number; tls: false; disableConnectivityCheck: true } {
    return { key: this.key, endpoint: '127.0.0.1', port: this.port, tls: false, disableConnectivityCheck: true };
  }

  /** Cuts every client socket (WebSocket and HTTP) as a network failure would; connections stay resumable. */
  async dropConnections(): Promise<void> {
    this.realtime.dropAll();
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  /** While on, every resume fails: clients get a new connection id and their channels attach without RESUMED. */
  refuseResumes(on: boolean): void {
    this.realtime.refuseResumes = on;
  }

  /** Stores the next publish but cuts its socket instead of acknowledging it, so the client re-sends it. */
  loseNextAck(): void {
    this.realtime.loseNextAck = true;
  }

  /** Drops every socket and forgets every connection (and so presence), so the next resume fails once. */
  async loseContinuity(): Promise<void> {
    this.realtime.discardAll();
    await this.dropConnections();
  }

  /**
   * Stops listening, loses all connection state (connections, presence sets) and listens again on the same port.
   * Channel history, serials and the idempotency window survive.
   */
  async restart(): Promise<void> {
    await this.close();
    this.realtime.discardAll();
    this.state.options.log?.('ably-emulator: restarting');
    await this.listen(this.port);
  }

  /** Stops the emulator. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.realtime.discardAll();
    await this.close();
  }

  private async close(): Promise<void> {
    const server = this.server;
    const wss = this.wss;
    this.server = undefined;
    this.wss = undefined;
    for (const client of wss?.clients ?? []) client.terminate();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    wss?.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private listen(port: number): Promise<number> {
    const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
    const server = createServer((req, res) => {
      void handleRest(this.state, this.realtime, req, res);
    });
    // Longer than any client's idle reuse of a kept-alive socket: with Node's 5 s default, a REST request sent on a
    // socket the server is just closing fails with "socket hang up" when the SDK's 40 sockets are busy.
    server.keepAliveTimeout = 65_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, req));
    });
    this.server = server;
    this.wss = wss;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  private onSocket(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const params = url.searchParams;
    const format: Format = params.get('format') === 'msgpack' ? 'msgpack' : 'json';
    let identity: Identity;
    try {
      identity = this.identify(params);
    } catch (err) {
      const error = err instanceof AblyError ? err.error : { code: 40000, statusCode: 400, message: String(err) };
      ws.send(encodeWire({ action: Action.ERROR, error }, format));
      ws.close();
      return;
    }
    const request: ConnectRequest = {
      identity,
      format,
      echo: params.get('echo') !== 'false',
      heartbeats: params.get('heartbeats') === 'true',
    };
    const resume = params.get('resume') ?? params.get('recover');
    if (resume) request.resume = resume;
    this.realtime.accept(ws, request);
  }

  private identify(params: URLSearchParams): Identity {
    const key = params.get('key');
    const token = params.get('access_token');
    const requested = params.get('clientId') ?? undefined;
    let identity: Identity;
    if (key) identity = this.state.authKey(key);
    else if (token) identity = this.state.authToken(token);
    else throw new AblyError({ code: 40101, statusCode: 401, message: 'No key or token given' });
    if (requested !== undefined) {
      if (identity.clientId !== undefined && identity.clientId !== '*' && identity.clientId !== requested) {
        throw new AblyError({ code: 40102, statusCode: 401, message: `Mismatched clientId ${JSON.stringify(requested)}` });
      }
      identity = { ...identity, clientId: requested };
    }
    return identity;
  }
}
