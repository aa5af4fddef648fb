import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A loopback TCP proxy in front of a server, for fault tests: `dropConnections()` cuts every client connection
 * at once (as a network blip does) while the server stays up and new connections go through.
 */
export interface TcpProxy {
  readonly port: number;
  dropConnections(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy from a free port to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number, listenPort?: number): Promise<TcpProxy> {
  const port = listenPort ?? (await freePort());
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    async dropConnections() {
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
