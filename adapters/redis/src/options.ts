import { DurableSessionError, type RetentionOptions } from '@durable-sessions/core';
import type { RedisClientLike, RedisClusterLike } from './tcp-transport.js';
import type { UpstashClientLike } from './upstash-transport.js';

/** Options of the Redis backend (one interface for both transports). */
export interface RedisOptions {
  /**
   * Where Redis is:
   * - `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS): node-redis over TCP;
   * - `redis+cluster://[user:password@]host:port[,host:port…]` or `rediss+cluster://…` (TLS): a Redis Cluster, reached
   *   through node-redis's cluster client from these seed nodes (the others are discovered);
   * - `upstash+https://TOKEN@host` (Upstash REST), `upstash:` (URL and token from `UPSTASH_REDIS_REST_URL` and
   *   `UPSTASH_REDIS_REST_TOKEN`), or `upstash+http://TOKEN@127.0.0.1:PORT` (a local REST bridge, for tests).
   * @default 'redis://127.0.0.1:6379' when no client is given either
   */
  url?: string;
  /**
   * Your own client instead of one the adapter creates: a node-redis client (TCP) or an `@upstash/redis` client created
   * with `automaticDeserialization: false` (REST). The adapter never closes it.
   * @default undefined (the adapter creates and owns its client)
   */
  client?: RedisClientLike | RedisClusterLike | UpstashClientLike;
  /**
   * Which transport to use when it cannot be told from `url`/`client`.
   * @default 'tcp' for `redis(s)://` URLs and node-redis clients, 'rest' for `upstash…` URLs and Upstash clients
   */
  transport?: 'tcp' | 'rest';
  /**
   * Upstash REST token. Needed with an `upstash+https://host` URL without a token, or with your own Upstash client
   * (live tails subscribe through SSE with it).
   * @default the token in the URL, else `UPSTASH_REDIS_REST_TOKEN`
   */
  token?: string;
  /**
   * Extra options for the client the adapter creates (`createClient` of node-redis, `createCluster` for a
   * `redis+cluster://` URL — its `defaults` apply to every node —, or `new Redis` of @upstash/redis).
   * @default {}
   */
  clientOptions?: Record<string, unknown>;
  /**
   * Retention per session log. `maxEvents` trims exactly (XTRIM MAXLEN) on append; `maxAgeMs` trims by stream-id time
   * (XTRIM MINID) on append, read and info. Either way the newest removed id is recorded, so a resume from a removed
   * position fails with `OFFSET_TRIMMED`.
   * @default unlimited
   */
  retention?: RetentionOptions;
  /** Largest encoded event accepted, in bytes. @default 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /** Most events per append call (one script call, one atomic batch). @default 1000 */
  maxBatchSize?: number;
  /** Prefix of every key and channel, so several applications can share one database. @default 'ds' */
  keyPrefix?: string;
  /** TCP (not cluster): dedicated connections that multiplex all live tails with XREAD BLOCK. @default 1 */
  tailConnections?: number;
  /**
   * TCP: BLOCK timeout of the multiplexed XREAD in ms. Changes of the followed set interrupt it with CLIENT UNBLOCK;
   * this only bounds a missed interrupt.
   * @default 2000
   */
  tailBlockMs?: number;
  /** How long the first connection attempt may take before operations fail with BACKEND_UNAVAILABLE. @default 10000 */
  connectTimeoutMs?: number;
}

/** Where to connect, resolved from options and environment. */
export type ResolvedTarget =
  | { transport: 'tcp'; url?: string; client?: RedisClientLike }
  | { transport: 'tcp'; cluster: ClusterTarget; client?: undefined }
  | { transport: 'tcp'; cluster: true; client: RedisClusterLike }
  | { transport: 'rest'; url?: string; token?: string; client?: UpstashClientLike };

const NAME = 'redis';

/** Decides the transport and splits Upstash URLs into a REST URL and a token. */
export function resolveTarget(options: RedisOptions, env: NodeJS.ProcessEnv = process.env): ResolvedTarget {
  const { client } = options;
  const isUpstashClient = client !== undefined && typeof (client as UpstashClientLike).evalsha === 'function' && typeof (client as RedisClientLike).sendCommand !== 'function';
  const url = options.url?.trim();
  const scheme = url ? /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() : undefined;
  if (url && !scheme) throw invalid(`Redis URL ${JSON.stringify(redactUrl(url))} has no scheme; use redis://host:6379 or upstash+https://TOKEN@host.`);
  const rest = options.transport === 'rest' || isUpstashClient || (scheme !== undefined && scheme.startsWith('upstash'));
  if (!rest) {
    if (client !== undefined && isClusterClient(client)) return { transport: 'tcp', cluster: true, client };
    if (scheme === 'redis+cluster' || scheme === 'rediss+cluster') return { transport: 'tcp', cluster: parseClusterUrl(url!) };
    if (scheme && scheme !== 'redis' && scheme !== 'rediss') {
      throw invalid(`Unsupported URL scheme "${scheme}:" for the redis backend; use redis://, rediss://, redis+cluster:// or upstash+https://.`);
    }
    if (client !== undefined && typeof (client as RedisClientLike).sendCommand !== 'function') throw invalid('`client` must be a node-redis client or an @upstash/redis client.');
    // A URL without a host would otherwise fall back to localhost:6379: a typo must never write to another server.
    if (url && !hasHost(url)) throw invalid(`Redis URL ${JSON.stringify(redactUrl(url))} names no host; use redis://host:6379.`);
    return { transport: 'tcp', url: url ?? (client ? undefined : 'redis://127.0.0.1:6379'), ...(client ? { client: client as RedisClientLike } : {}) };
  }
  let restUrl: string | undefined;
  let token = options.token;
  if (url && scheme !== 'https' && scheme !== 'http') {
    if (scheme === 'upstash' && !url.includes('//')) {
      restUrl = undefined;
    } else if (scheme === 'upstash+https' || scheme === 'upstash+http' || scheme === 'upstash') {
      let parsed: URL;
      try {
        parsed = new URL(url.replace(/^[^:]+:/, scheme === 'upstash+http' ? 'http:' : 'https:'));
      } catch {
        throw invalid(`Malformed Upstash URL ${JSON.stringify(redactUrl(url))}: use upstash+https://TOKEN@host.`);
      }
      const inUrl = decodeURIComponent(parsed.password || parsed.username);
      if (inUrl) token ??= inUrl;
      parsed.username = '';
      parsed.password = '';
      restUrl = parsed.toString().replace(/\/$/, '');
    } else {
      throw invalid(`Unsupported URL scheme "${scheme}:" for Upstash; use upstash+https://TOKEN@host.`);
    }
  } else if (url) {
    restUrl = url.replace(/\/$/, '');
  }
  const fromClient = isUpstashClient ? credentialsOf(client) : {};
  restUrl ??= fromClient.url ?? env.UPSTASH_REDIS_REST_URL;
  token ??= fromClient.token ?? env.UPSTASH_REDIS_REST_TOKEN;
  if (!restUrl) throw invalid('No Upstash REST URL: pass upstash+https://TOKEN@host or set UPSTASH_REDIS_REST_URL.');
  if (!token) throw invalid('No Upstash REST token: put it in the URL (upstash+https://TOKEN@host), pass `token`, or set UPSTASH_REDIS_REST_TOKEN.');
  return { transport: 'rest', url: restUrl, token, ...(isUpstashClient ? { client: client as UpstashClientLike } : {}) };
}

/** Where a cluster URL points: seed nodes, credentials for every node, TLS. */
export interface ClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
}

/** A node-redis cluster client (`createCluster()`), told from a single-node client by its cluster-only methods. */
export function isClusterClient(client: unknown): client is RedisClusterLike {
  return typeof (client as RedisClusterLike | undefined)?.getMasters === 'function';
}

/**
 * Parses `redis+cluster://[user:password@]host:port[,host:port…][/]` (`rediss+cluster://` for TLS). A cluster has
 * only database 0, so a path other than `/` or `/0` is refused rather than silently ignored.
 */
export function parseClusterUrl(url: string): ClusterTarget {
  const match = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?[^#]*)?$/i.exec(url);
  if (!match) throw invalid(`Malformed cluster URL ${JSON.stringify(redactUrl(url))}: use redis+cluster://host:port[,host:port].`);
  const [, scheme, userinfo, hostList, path] = match;
  if (path !== undefined && path !== '/' && path !== '/0') throw invalid('A Redis Cluster has only database 0; remove the database from the cluster URL.');
  const nodes = hostList!.split(',').map((part) => {
    const node = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(part.trim());
    const port = Number(node?.[2] ?? 6379);
    if (!node || port < 1 || port > 65_535) throw invalid(`Cluster URL ${JSON.stringify(redactUrl(url))} has a malformed node ${JSON.stringify(part)}; use host:port.`);
    return { host: node[1]!.replace(/^\[|\]$/g, ''), port };
  });
  if (nodes.length === 0 || hostList === '') throw invalid(`Cluster URL ${JSON.stringify(redactUrl(url))} names no node; use redis+cluster://host:port.`);
  const target: ClusterTarget = { nodes, tls: scheme!.toLowerCase() === 'rediss' };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    // As in redis:// URLs: `user:password@`, `:password@` (default user), `user@`.
    const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    const password = decodeURIComponent(colon < 0 ? '' : userinfo.slice(colon + 1));
    if (username) target.username = username;
    if (password) target.password = password;
  }
  return target;
}

/** @upstash/redis 1.x keeps its URL and bearer token on its HTTP client; read them for SSE when not given. */
function credentialsOf(client: unknown): { url?: string; token?: string } {
  const http = (client as { client?: { baseUrl?: unknown; headers?: Record<string, unknown> } }).client;
  const url = typeof http?.baseUrl === 'string' ? http.baseUrl : undefined;
  const auth = http?.headers?.authorization;
  const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
  return { ...(url ? { url } : {}), ...(token ? { token } : {}) };
}

/** Validates a positive integer option. */
export function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw invalid(`${name} must be a positive integer.`);
  return value;
}

/** Validates retention limits. */
export function checkRetention(retention: RetentionOptions | undefined): RetentionOptions {
  const out = { ...retention };
  for (const [key, value] of Object.entries(out)) {
    if (value !== undefined && (typeof value !== 'number' || !(value > 0) || (key === 'maxEvents' && !Number.isInteger(value)))) {
      throw invalid(`retention.${key} must be a positive ${key === 'maxEvents' ? 'integer' : 'number'}.`);
    }
  }
  return out;
}

function invalid(message: string): DurableSessionError {
  return new DurableSessionError('CONFIG_INVALID', message, { backend: NAME });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function hasHost(url: string): boolean {
  try {
    return new URL(url).hostname.length > 0;
  } catch {
    return false;
  }
}
