import type { IncomingMessage } from 'node:http';
import type { SessionStore } from '@durable-sessions/core';
import { OPEN_GRANT, verifyToken, type Grant } from './auth.js';
import type { CorsOptions, ResolvedLimits } from './options.js';
import type { KeyedLimiter } from './rate-limit.js';

/** What every handler of one gateway shares. The gateway keeps no session state: only live connections. */
export interface GatewayContext {
  readonly store: SessionStore;
  /** HS256 key, or undefined when auth is off. */
  readonly key: Uint8Array | undefined;
  readonly cors: false | CorsOptions;
  readonly limits: ResolvedLimits;
  readonly longPollMs: number;
  readonly sseMaxMs: number;
  readonly httpLimiter: KeyedLimiter;
  /** Aborted when the gateway closes: every long-lived response ends. */
  readonly shutdown: AbortSignal;
}

/** Resolves the grant of a token (everything when auth is off). */
export function grantFor(ctx: GatewayContext, token: string | undefined): Promise<Grant> {
  return ctx.key === undefined ? Promise.resolve(OPEN_GRANT) : verifyToken(token, ctx.key);
}

/** The address a request came from, for rate limits. */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
