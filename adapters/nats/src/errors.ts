import { DurableSessionError, isDurableSessionError, type DurableSessionErrorCode } from '@durable-sessions/core';

/** The backend name used in errors. */
export const NAME = 'nats';

/** JetStream API error code for a failed `Nats-Expected-Last-Subject-Sequence` check. */
export const WRONG_LAST_SEQUENCE = 10071;

/** A typed error of this adapter. */
export function natsError(code: DurableSessionErrorCode, message: string, cause?: unknown, details?: Record<string, unknown>): DurableSessionError {
  return new DurableSessionError(code, message, { backend: NAME, ...(cause === undefined ? {} : { cause }), ...(details ? { details } : {}) });
}

/** The JetStream API error code of an error, when it carries one. */
export function apiCode(err: unknown): number | undefined {
  const candidate = err as { name?: string; code?: unknown; apiError?: () => { err_code?: number } } | null;
  if (candidate && typeof candidate.apiError === 'function') {
    try {
      return candidate.apiError().err_code;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Maps a client or server failure onto the library's codes. Refused credentials and permissions are
 * configuration errors (retrying cannot help); timeouts are TIMEOUT; everything else (closed or reconnecting
 * connection, no responders while a stream leader is elected, JetStream API errors such as no quorum) is
 * BACKEND_UNAVAILABLE, which the core retries within its reconnect timeout.
 */
export function toNatsError(err: unknown, what: string): DurableSessionError {
  if (isDurableSessionError(err)) return err;
  const name = (err as { name?: string } | null)?.name ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'AuthorizationError' || name === 'PermissionViolationError' || name === 'UserAuthenticationExpiredError' || /authorization|permissions violation/i.test(message)) {
    return natsError('CONFIG_INVALID', `${what} was refused by the NATS server: ${message}`, err);
  }
  if (name === 'TimeoutError' || /timeout/i.test(message)) return natsError('TIMEOUT', `${what} timed out: ${message}`, err);
  return natsError('BACKEND_UNAVAILABLE', `${what} failed: ${message}`, err);
}
