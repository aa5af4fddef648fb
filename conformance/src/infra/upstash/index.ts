import { randomBytes } from 'node:crypto';
import { startRedisServer } from '../redis.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from '../types.js';
import { startUpstashBridge } from './bridge.js';

export { startUpstashBridge } from './bridge.js';
export type { UpstashBridge, UpstashBridgeOptions } from './bridge.js';

/**
 * `durable-sessions infra upstash`: a real redis-server behind the project's Upstash REST bridge (test
 * infrastructure; see docs/adapters/redis.md). The bridge speaks plain HTTP on loopback, so its URL is
 * `upstash+http://TOKEN@127.0.0.1:PORT`; REST URL and token are printed for @upstash/redis users too.
 */
export const upstashLauncher: InfraLauncher = {
  name: 'upstash',
  description: 'Upstash REST bridge (test infrastructure, plain HTTP) in front of a real redis-server',
  async start(options?: InfraStartOptions): Promise<RunningInfra> {
    const server = await startRedisServer(options);
    const token = randomBytes(16).toString('hex');
    let bridge;
    try {
      bridge = await startUpstashBridge({ redisPort: server.port, token, ...(options?.log ? { log: options.log } : {}) });
    } catch (err) {
      await server.stop();
      throw err;
    }
    const restUrl = `http://127.0.0.1:${bridge.port}`;
    let stopped = false;
    return {
      url: `upstash+http://${token}@127.0.0.1:${bridge.port}`,
      info: { UPSTASH_REDIS_REST_URL: restUrl, UPSTASH_REDIS_REST_TOKEN: token, REDIS_PORT: String(server.port) },
      async stop() {
        if (stopped) return;
        stopped = true;
        await bridge.close();
        await server.stop();
      },
      restart: () => server.restart(),
      async dropConnections() {
        await bridge.dropConnections();
        await server.dropConnections();
      },
    };
  },
};
