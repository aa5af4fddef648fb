import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Forwards WebSocket upgrades byte for byte to the gateway, so the page reaches everything on one origin, and can
 * cut one tab's connection on request: a real network drop (both TCP connections destroyed, no close frame), and
 * an outage during which that tab's reconnects are refused, so the page shows "reconnecting" for a while.
 */
export class WsProxy {
  private readonly pipes = new Map<string, Set<Duplex>>();
  private readonly outages = new Map<string, number>();

  constructor(private readonly target: { host: string; port: number }) {}

  /** Handles an `upgrade` of the demo's HTTP server. */
  upgrade(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const connectionId = new URL(req.url ?? '/', 'http://demo').searchParams.get('connectionId') ?? '';
    client.on('error', () => client.destroy());
    if ((this.outages.get(connectionId) ?? 0) > Date.now()) {
      client.destroy();
      return;
    }
    const upstream: Socket = tcpConnect(this.target.port, this.target.host);
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream).pipe(client);
    const pair = this.pipes.get(connectionId) ?? new Set<Duplex>();
    this.pipes.set(connectionId, pair);
    pair.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      pair.delete(client);
      pair.delete(upstream);
      if (pair.size === 0 && this.pipes.get(connectionId) === pair) this.pipes.delete(connectionId);
    };
    upstream.on('error', close).on('close', close);
    client.on('close', close);
  }

  /** Cuts a connection's sockets and refuses its reconnects for `outageMs`. Returns how many sockets were cut. */
  drop(connectionId: string, outageMs: number): number {
    this.outages.set(connectionId, Date.now() + outageMs);
    const sockets = [...(this.pipes.get(connectionId) ?? [])];
    for (const socket of sockets) socket.destroy();
    return sockets.length;
  }

  /** Destroys every forwarded connection. */
  close(): void {
    for (const pair of this.pipes.values()) for (const socket of pair) socket.destroy();
    this.pipes.clear();
  }
}
