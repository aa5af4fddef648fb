import { DurableSessionError, isDurableSessionError, type DurableSessionErrorCode } from '@durable-sessions/core';

/** The gateway's own failure codes, on top of the core's (see docs/gateway-protocol.md). */
export type GatewayOnlyCode =
  /** No token, or a malformed, forged or not-yet-valid one. */
  | 'UNAUTHORIZED'
  /** The token's `exp` has passed. */
  | 'TOKEN_EXPIRED'
  /** The token is valid but does not cover this session or right. */
  | 'FORBIDDEN'
  /** Too many frames or requests; `details.retryAfterMs` says when to retry. */
  | 'RATE_LIMITED'
  /** Too many subscriptions or sessions on one socket, or too many connections. */
  | 'LIMIT_EXCEEDED'
  /** A frame that is not JSON, not an object, has an unknown op, or misses a field. */
  | 'INVALID_FRAME'
  /** An unknown path. */
  | 'NOT_FOUND';

/** Every code a gateway client can receive. */
export type GatewayErrorCode = DurableSessionErrorCode | GatewayOnlyCode;

/** A failure the gateway reports to a client; core errors pass through with their own code. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(`[durable-sessions:gateway] ${message}`);
  }
}

/** The wire shape of an error: `{ code, message, details? }`. */
export interface WireError {
  code: GatewayErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Normalises anything thrown into the wire shape; unknown errors become `INTERNAL` without leaking internals. */
export function toWireError(err: unknown): WireError {
  if (err instanceof GatewayError) return withDetails({ code: err.code, message: err.message }, err.details);
  if (isDurableSessionError(err)) {
    const e = err as DurableSessionError;
    return withDetails({ code: e.code, message: e.message }, { ...e.details });
  }
  return { code: 'INTERNAL', message: '[durable-sessions:gateway] Internal error.' };
}

function withDetails(error: WireError, details: Record<string, unknown>): WireError {
  return Object.keys(details).length > 0 ? { ...error, details } : error;
}

const STATUS: Partial<Record<GatewayErrorCode, number>> = {
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  INVALID_FRAME: 400,
  NOT_FOUND: 404,
  INVALID_SESSION_ID: 400,
  INVALID_OFFSET: 400,
  INVALID_EVENT: 400,
  INVALID_ARGUMENT: 400,
  CONFIG_INVALID: 400,
  PAYLOAD_TOO_LARGE: 413,
  SESSION_ENDED: 409,
  CONFLICT: 409,
  SEQUENCE_GAP: 409,
  STALE_PRODUCER: 403,
  OFFSET_TRIMMED: 410,
  NOT_SUPPORTED: 501,
  BACKEND_UNAVAILABLE: 503,
  TIMEOUT: 504,
  CLOSED: 503,
  ABORTED: 499,
  INTERNAL: 500,
};

/** The HTTP status for an error code. */
export function httpStatus(code: GatewayErrorCode): number {
  return STATUS[code] ?? 500;
}
