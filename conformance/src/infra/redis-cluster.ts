import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBinary } from './apt.js';
import { freePorts } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './process.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';
import { RespConnection } from './upstash/resp.js';

const run = promisify(execFile);

/** A Redis Cluster of masters this process started, with the fault hooks the conformance suite uses. */
export interface RedisCluster {
  /** Client ports of the masters, in start order. */
  readonly ports: readonly number[];
  readonly dir: string;
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`: the adapter's URL form. */
  readonly url: string;
  /** SIGKILLs one master and starts it again on the same ports and folder; resolves once the cluster is healthy. */
  restartNode(index: number): Promise<void>;
  /** Restarts every master (one after the other, each as {@link restartNode}). */
  restart(): Promise<void>;
  /** CLIENT KILL of every normal and pub/sub client on every master. */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions extends InfraStartOptions {
  /** Masters to start (at least 3: redis-cli refuses to create a smaller cluster). @default 3 */
  masters?: number;
}

/**
 * Starts a real Redis Cluster: `masters` redis-servers with `--cluster-enabled yes` on free loopback ports (the
 * cluster bus on its own free port), each in a subfolder of one temporary folder, joined with
 * `redis-cli --cluster create … --cluster-replicas 0`. Persistence as in the single-server launcher (AOF with
 * `appendfsync no`: SIGKILL-safe), and `nodes.conf` survives a restart, so a restarted master rejoins with its slots.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const count = options.masters ?? 3;
  if (!Number.isInteger(count) || count < 3) throw new Error('A Redis Cluster needs at least 3 masters.');
  const server = await ensureBinary('redis-server', 'redis-server', options.log);
  // Debian's redis-tools (redis-cli) is a dependency of redis-server; installed explicitly should it be missing.
  const cli = await ensureBinary('redis-cli', 'redis-tools', options.log);
  const all = await freePorts(count * 2);
  const ports = all.slice(0, count);
  const busPorts = all.slice(count);
  const dir = await tempDir('redis-cluster');
  const procs: Array<ServerProcess | undefined> = new Array(count);
  const launch = async (i: number) => {
    const nodeDir = join(dir.path, `node-${i}`);
    await mkdir(nodeDir, { recursive: true });
    procs[i] = await startProcess({
      command: server,
      args: [
        '--bind', '127.0.0.1',
        '--port', String(ports[i]),
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPorts[i]),
        '--cluster-config-file', join(nodeDir, 'nodes.conf'),
        // Longer than a kill-and-restart takes, so a restarted master is never marked failed by its peers.
        '--cluster-node-timeout', '5000',
        '--dir', nodeDir,
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'no',
        '--protected-mode', 'no',
        '--daemonize', 'no',
        '--maxclients', '10000',
      ],
      readyLine: /Ready to accept connections/,
      ...(options.log ? { log: (line: string) => options.log!(`[${ports[i]}] ${line}`) } : {}),
    });
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(procs.map((p) => p?.kill('SIGKILL')));
    await dir.cleanup();
  };
  try {
    for (let i = 0; i < count; i++) await launch(i);
    await run(cli, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await waitHealthy(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  const restartNode = async (index: number) => {
    if (index < 0 || index >= count) throw new Error(`No cluster node ${index}.`);
    await procs[index]?.kill('SIGKILL');
    await launch(index);
    await waitHealthy(ports);
  };
  return {
    ports,
    dir: dir.path,
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    restartNode,
    async restart() {
      for (let i = 0; i < count; i++) await restartNode(i);
    },
    async dropConnections() {
      await Promise.all(
        ports.map(async (port) => {
          const admin = await RespConnection.open(port);
          try {
            await admin.command(['CLIENT', 'KILL', 'TYPE', 'normal']);
            await admin.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
          } finally {
            admin.close();
          }
        }),
      );
    },
    stop,
  };
}

/** Waits until every node reports `cluster_state:ok` and all 16384 slots assigned (joining takes a few gossip rounds). */
async function waitHealthy(ports: readonly number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const states = await Promise.all(ports.map((port) => clusterInfo(port).catch((err: Error) => err.message)));
    if (states.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && /cluster_known_nodes:(\d+)/.exec(info)?.[1] === String(ports.length))) return;
    last = states.join(' | ').replace(/\s+/g, ' ').slice(0, 400);
    if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function clusterInfo(port: number): Promise<string> {
  const conn = await RespConnection.open(port);
  try {
    return String(await conn.command(['CLUSTER', 'INFO']));
  } finally {
    conn.close();
  }
}

/** `durable-sessions infra redis-cluster`: 3 Redis Cluster masters, no replicas; restart = every master in turn. */
export const redisClusterLauncher: InfraLauncher = {
  name: 'redis-cluster',
  description: 'Redis Cluster: 3 masters (no replicas, AOF) on free loopback ports; restart = SIGKILL + start of each master in turn, drop = CLIENT KILL on all',
  async start(options?: InfraStartOptions): Promise<RunningInfra> {
    const cluster = await startRedisCluster(options);
    return {
      url: cluster.url,
      info: { REDIS_CLUSTER_PORTS: cluster.ports.join(','), REDIS_CLUSTER_DIR: cluster.dir },
      stop: () => cluster.stop(),
      restart: () => cluster.restart(),
      dropConnections: () => cluster.dropConnections(),
    };
  },
};
