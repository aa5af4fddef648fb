import type { DurableSessionErrorCode } from '@durable-sessions/core';

/**
 * Every failure the client reports: the core's codes and the gateway's (they arrive over the wire unchanged), plus
 * `DISCONNECTED` for a request whose answer was lost with the socket. Branch on `code`, never on the message.
 */
export type ClientErrorCode =
  | DurableSessionErrorCode
  /** No token, or a malformed, forged or not-yet-valid one. */
  | 'UNAUTHORIZED'
  /** The token expired (and no `getToken` could replace it). */
  | 'TOKEN_EXPIRED'
  /** The token does not cover this session or right. */
  | 'FORBIDDEN'
  /** Too many frames; retried by the client after `details.retryAfterMs`. */
  | 'RATE_LIMITED'
  /** Too many subscriptions or sessions on one socket (`details.limit`). */
  | 'LIMIT_EXCEEDED'
  /** The gateway refused a frame as malformed. */
  | 'INVALID_FRAME'
  /** The gateway does not know the path. */
  | 'NOT_FOUND'
  /**
   * The socket closed before the gateway answered a request that is unsafe to repeat (an append without a
   * producer stamp, `end`, a control message): it may or may not have been applied.
   */
  | 'DISCONNECTED';

const RETRYABLE: ReadonlySet<string> = new Set(['BACKEND_UNAVAILABLE', 'TIMEOUT', 'RATE_LIMITED', 'DISCONNECTED']);

/**
 * The one error class of the client. Its `name` matches the core's error, so code that checks
 * `err.name === 'DurableSessionError'` and `err.code` works with either package.
 */
export class DurableSessionError extends Error {
  override readonly name = 'DurableSessionError';
  /** What went wrong, as a stable code. */
  readonly code: ClientErrorCode;
  /** Machine-readable context (`{ retryAfterMs }`, `{ expectedSeq }`, `{ closeCode }`…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ClientErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message.startsWith('[durable-sessions') ? message : `[durable-sessions:client] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** Whether repeating the operation (idempotently) can succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** A plain object for logs. */
  toJSON(): { code: ClientErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: { ...this.details } };
  }
}

/** True when `err` is a {@link DurableSessionError} (of this package or the core), optionally with one of `codes`. */
export function isDurableSessionError(err: unknown, ...codes: ClientErrorCode[]): err is DurableSessionError {
  if (!(err instanceof Error) || err.name !== 'DurableSessionError' || typeof (err as { code?: unknown }).code !== 'string') return false;
  return codes.length === 0 || codes.includes((err as DurableSessionError).code);
}

/** Turns a wire error (`{ code, message, details }`) into a {@link DurableSessionError}. */
export function fromWire(frame: { code?: unknown; message?: unknown; details?: unknown }): DurableSessionError {
  const code = typeof frame.code === 'string' ? (frame.code as ClientErrorCode) : 'INTERNAL';
  const message = typeof frame.message === 'string' ? frame.message : `Gateway error ${code}.`;
  const details = frame.details !== null && typeof frame.details === 'object' ? (frame.details as Record<string, unknown>) : {};
  return new DurableSessionError(code, message, { details });
}
