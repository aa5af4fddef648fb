import type { Backend, BackendConfig, BackendFactory } from '@durable-sessions/core';
import { redis } from './backend.js';
import type { RedisOptions } from './options.js';

export { redis } from './backend.js';
export type { RedisOptions } from './options.js';
export type { RedisClientLike, RedisClusterLike } from './tcp-transport.js';
export type { UpstashClientLike } from './upstash-transport.js';
export { idToOffset, offsetToId, logKeys, presenceKeys, notifyChannel, NOTIFY_SHARDS } from './keys.js';

/**
 * The Redis backend over Upstash's REST API (`@upstash/redis`): the same design as {@link redis}, with SSE
 * subscriptions as wake-ups for live tails. Equivalent to `redis({ ...options, transport: 'rest' })`.
 */
export function upstash(options: RedisOptions = {}): Backend {
  return redis({ ...options, transport: 'rest' });
}

/**
 * Registry entry point: `redis://…`, `rediss://…`, `redis+cluster://host:port[,host:port]`, `rediss+cluster://…`,
 * `upstash+https://TOKEN@host`, `upstash:` (environment).
 */
export const createBackend: BackendFactory = (config: BackendConfig) => {
  const { url, ...rest } = config;
  return redis({ ...(rest as RedisOptions), ...(typeof url === 'string' ? { url } : {}) });
};
