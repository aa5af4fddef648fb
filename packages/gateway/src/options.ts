import type { SessionStore } from '@durable-sessions/core';

/** Which origins may call the gateway from a browser. */
export interface CorsOptions {
  /** Allowed origins: `'*'` for any, or exact origins (`https://app.example.com`). @default '*' */
  origins?: '*' | string[];
  /** Extra request headers allowed in preflights. @default [] */
  allowHeaders?: string[];
  /** Preflight cache lifetime, in seconds. @default 600 */
  maxAgeSeconds?: number;
}

/** Limits that protect the gateway and its backend from one client. */
export interface GatewayLimits {
  /** Largest WebSocket frame or HTTP JSON body, in bytes (Durable Streams bodies: `maxBodyBytes`). @default 1048576 */
  maxFrameBytes?: number;
  /** Largest Durable Streams request body, in bytes (bigger bodies get 413). @default 16777216 */
  maxBodyBytes?: number;
  /** Running subscriptions (event, control and presence) per WebSocket. @default 100 */
  maxSubscriptions?: number;
  /** Distinct sessions one WebSocket may touch. @default 200 */
  maxSessionsPerSocket?: number;
  /** Sustained client frames per second per WebSocket (bursts of twice that). @default 200 */
  framesPerSecond?: number;
  /** Sustained HTTP requests per second per client address, for the session endpoints. @default 500 */
  requestsPerSecond?: number;
  /** Bytes queued on a WebSocket before its subscriptions pause (back-pressure). @default 1048576 */
  socketHighWaterBytes?: number;
}

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** The backend: a URL for `connect()` (`memory:`, `redis://…`), or a connected store the caller owns. */
  store: string | SessionStore;
  /** TCP port. 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * Auth. `false` switches it off completely (local testing only: anyone can read and write everything).
   * Otherwise `{ secret }`: the HS256 key tokens are signed with (at least 32 bytes).
   */
  auth: false | { secret: string | Uint8Array };
  /** CORS. `false` sends no CORS headers. @default { origins: '*' } */
  cors?: false | CorsOptions;
  /** Limits; see {@link GatewayLimits}. */
  limits?: GatewayLimits;
  /** How long a Durable Streams long-poll waits before answering 204. @default 30000 */
  longPollMs?: number;
  /** How long an SSE response stays open before the gateway closes it (clients reconnect). @default 300000 */
  sseMaxMs?: number;
  /** The store's clientId when `store` is a URL. @default 'gateway' */
  clientId?: string;
  /** Presence timeout when `store` is a URL: how long a member whose socket closed stays present. @default 15000 */
  presenceTimeoutMs?: number;
}

/** Limits with defaults applied. */
export type ResolvedLimits = Required<GatewayLimits>;

/** Applies the limit defaults. */
export function resolveLimits(limits: GatewayLimits = {}): ResolvedLimits {
  return {
    maxFrameBytes: limits.maxFrameBytes ?? 1024 * 1024,
    maxBodyBytes: limits.maxBodyBytes ?? 16 * 1024 * 1024,
    maxSubscriptions: limits.maxSubscriptions ?? 100,
    maxSessionsPerSocket: limits.maxSessionsPerSocket ?? 200,
    framesPerSecond: limits.framesPerSecond ?? 200,
    requestsPerSecond: limits.requestsPerSecond ?? 500,
    socketHighWaterBytes: limits.socketHighWaterBytes ?? 1024 * 1024,
  };
}
