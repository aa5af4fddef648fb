import { ensureBinary } from './apt.js';
import { freePort } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './process.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';
import { RespConnection } from './upstash/resp.js';

/** A redis-server this process started, with the fault hooks the conformance suite uses. */
export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  restart(): Promise<void>;
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real redis-server (Debian's package when missing) on a free loopback port in a temporary folder.
 * Persistence is AOF with `appendfsync no`: Redis then always write()s the AOF buffer before it answers clients, so
 * every acknowledged write is in the OS page cache and survives SIGKILL of the server, without paying an fsync per
 * write. (`everysec` is NOT enough: while a background fsync is slow, Redis postpones the write for up to 2 s but
 * still answers, and a SIGKILL then loses acknowledged appends.) Only a crash of the whole machine could lose data,
 * which these tests do not simulate. RDB snapshots are off.
 */
export async function startRedisServer(options: InfraStartOptions = {}): Promise<RedisServer> {
  const binary = await ensureBinary('redis-server', 'redis-server', options.log);
  const port = await freePort();
  const dir = await tempDir('redis');
  const args = [
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--dir', dir.path,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'no',
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--maxclients', '10000',
  ];
  const launch = () =>
    startProcess({ command: binary, args, readyLine: /Ready to accept connections/, ...(options.log ? { log: options.log } : {}) });
  let proc: ServerProcess | undefined = await launch().catch(async (err) => {
    await dir.cleanup();
    throw err;
  });
  let stopped = false;
  return {
    port,
    dir: dir.path,
    async restart() {
      await proc?.kill('SIGKILL');
      proc = await launch();
    },
    async dropConnections() {
      const admin = await RespConnection.open(port);
      try {
        // Normal and pub/sub clients; the admin connection itself survives (SKIPME yes is the default).
        await admin.command(['CLIENT', 'KILL', 'TYPE', 'normal']);
        await admin.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      } finally {
        admin.close();
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.kill('SIGKILL');
      proc = undefined;
      await dir.cleanup();
    },
  };
}

/** `durable-sessions infra redis`: a redis-server with AOF persistence that the fault tests can kill and restart. */
export const redisLauncher: InfraLauncher = {
  name: 'redis',
  description: 'redis-server (AOF, appendfsync no: SIGKILL-safe) on a free loopback port; restart = SIGKILL + start, drop = CLIENT KILL',
  async start(options?: InfraStartOptions): Promise<RunningInfra> {
    const server = await startRedisServer(options);
    return {
      url: `redis://127.0.0.1:${server.port}`,
      info: { REDIS_PORT: String(server.port), REDIS_DIR: server.dir },
      stop: () => server.stop(),
      restart: () => server.restart(),
      dropConnections: () => server.dropConnections(),
    };
  },
};
