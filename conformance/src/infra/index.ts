import type { InfraLauncher } from './types.js';

export type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';
export { freePort, freePorts } from './ports.js';
export { startProcess, tempDir, waitForPort } from './process.js';
export type { ProcessSpec, ServerProcess } from './process.js';
export { ensureBinary } from './apt.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { TcpProxy } from './tcp-proxy.js';
export { startRedisCluster, redisClusterLauncher, type RedisCluster, type RedisClusterOptions } from './redis-cluster.js';

/**
 * The launchers of local test infrastructure, by name. Each is loaded only when used. Adapter work registers its
 * launcher here (one line each).
 */
const launchers: Record<string, () => Promise<InfraLauncher>> = {
  ably: async () => (await import('./ably.js')).launcher,
  nats: async () => (await import('./nats.js')).natsLauncher,
  'nats-cluster': async () => (await import('./nats.js')).natsClusterLauncher,
  kafka: async () => (await import('./kafka.js')).kafkaLauncher,
  redis: async () => (await import('./redis.js')).redisLauncher,
  'redis-cluster': async () => (await import('./redis-cluster.js')).redisClusterLauncher,
  upstash: async () => (await import('./upstash/index.js')).upstashLauncher,
};

/** Names of the available launchers. */
export function infraNames(): string[] {
  return Object.keys(launchers).sort();
}

/** Loads a launcher by name, or returns undefined. */
export async function infraLauncher(name: string): Promise<InfraLauncher | undefined> {
  const load = launchers[name];
  return load ? load() : undefined;
}
