import { createHmac } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { GatewayError } from './errors.js';

/** What a token may allow on the sessions it covers. */
export type Right = 'read' | 'append' | 'control' | 'presence';

const RIGHTS: readonly Right[] = ['read', 'append', 'control', 'presence'];

/** A verified token: which sessions, which rights, until when. */
export interface Grant {
  /** Session patterns: exact ids, or prefixes ending in `*`. */
  readonly sessions: readonly string[];
  /** Rights on those sessions. */
  readonly rights: ReadonlySet<Right>;
  /** Expiry, in ms since the epoch (Infinity when auth is off). */
  readonly expiresAt: number;
  /** The token's `sub`, when present. */
  readonly subject: string | undefined;
}

/** The grant used when auth is switched off: everything, forever. */
export const OPEN_GRANT: Grant = { sessions: ['*'], rights: new Set(RIGHTS), expiresAt: Infinity, subject: undefined };

/** Options of {@link signToken}. */
export interface SignTokenOptions {
  /** The gateway's secret. */
  secret: string | Uint8Array;
  /** Session patterns: an exact id, or a prefix ending in `*`. */
  sessions: string | string[];
  /** Rights granted. @default ['read'] */
  rights?: Right[];
  /** Lifetime in seconds. @default 3600 */
  expiresInSeconds?: number;
  /** The subject (a user id), informational. */
  subject?: string;
}

/** Turns a secret into an HS256 key; short secrets are refused because they can be brute-forced. */
export function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.byteLength < 32) throw new GatewayError('INVALID_ARGUMENT', 'The auth secret must be at least 32 bytes long.');
  return key;
}

/** Signs a gateway token (HS256 JWT) for a backend service that hands tokens to browsers. */
export async function signToken(options: SignTokenOptions): Promise<string> {
  const sessions = Array.isArray(options.sessions) ? options.sessions : [options.sessions];
  const jwt = new SignJWT({ sessions, rights: options.rights ?? ['read'] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600));
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  return jwt.sign(secretKey(options.secret));
}

/** Verifies a token and returns its grant; throws `UNAUTHORIZED` or `TOKEN_EXPIRED`. */
export async function verifyToken(token: unknown, key: Uint8Array): Promise<Grant> {
  if (typeof token !== 'string' || token.length === 0) throw new GatewayError('UNAUTHORIZED', 'A token is required.');
  if (token.length > 8192) throw new GatewayError('UNAUTHORIZED', 'The token is too long.');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new GatewayError('TOKEN_EXPIRED', 'The token has expired.');
    throw new GatewayError('UNAUTHORIZED', 'The token is invalid.');
  }
  const raw = payload.sessions ?? payload.sub;
  const sessions = (Array.isArray(raw) ? raw : [raw]).filter((p): p is string => typeof p === 'string' && p.length > 0);
  if (sessions.length === 0) throw new GatewayError('UNAUTHORIZED', 'The token names no sessions.');
  const rights = new Set<Right>();
  if (Array.isArray(payload.rights)) for (const r of payload.rights) if (RIGHTS.includes(r as Right)) rights.add(r as Right);
  return { sessions, rights, expiresAt: (payload.exp as number) * 1000, subject: typeof payload.sub === 'string' ? payload.sub : undefined };
}

/** Whether a pattern covers a session id. */
export function covers(pattern: string, sessionId: string): boolean {
  return pattern.endsWith('*') ? sessionId.startsWith(pattern.slice(0, -1)) : pattern === sessionId;
}

/** Throws unless the grant allows `right` on `sessionId` (and has not expired). */
export function authorize(grant: Grant, sessionId: string, ...rights: Right[]): void {
  if (grant.expiresAt <= Date.now()) throw new GatewayError('TOKEN_EXPIRED', 'The token has expired.');
  if (!grant.sessions.some((p) => covers(p, sessionId))) {
    throw new GatewayError('FORBIDDEN', `The token does not cover session ${JSON.stringify(sessionId.slice(0, 200))}.`);
  }
  for (const right of rights) {
    if (!grant.rights.has(right)) throw new GatewayError('FORBIDDEN', `The token lacks the "${right}" right.`);
  }
}

/**
 * The presence identity of a connection. With auth on, the id a client asks for is bound to its token's subject
 * (an HMAC under the gateway secret), so a member's id, which every reader of the session can see, cannot be
 * reused by another user to update or remove that member; the same user asking for the same id on any gateway
 * gets the same identity back (reconnects within the presence timeout are not leaves). Auth off: used as is.
 */
export function presenceIdentity(key: Uint8Array | undefined, grant: Grant, requested: string): string {
  if (key === undefined) return requested;
  return createHmac('sha256', key).update(`${grant.subject ?? ''}\u0000${requested}`).digest('base64url').slice(0, 22);
}
