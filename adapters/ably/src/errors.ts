import { DurableSessionError, isDurableSessionError, type DurableSessionErrorCode } from '@durable-sessions/core';

/** The backend name used in errors. */
export const NAME = 'ably';

/** Ably error codes that mean the configuration is wrong, not that Ably is briefly unavailable. */
const CONFIG_CODES = new Set([40005, 40100, 40101, 40102, 40103, 40104, 40105, 40106, 40160, 40161, 40162, 40163, 40300, 40310, 40311, 40400, 93002]);

/**
 * Maps an Ably `ErrorInfo` (or anything thrown) onto a {@link DurableSessionError}: size limits become
 * `PAYLOAD_TOO_LARGE`, credential and channel-rule problems `CONFIG_INVALID`, timeouts `TIMEOUT`, and connection
 * or server trouble `BACKEND_UNAVAILABLE` (which the core retries).
 */
export function toAblyError(err: unknown, context: string): DurableSessionError {
  if (isDurableSessionError(err)) return err;
  const info = (err ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  const code = typeof info.code === 'number' ? info.code : undefined;
  const status = typeof info.statusCode === 'number' ? info.statusCode : undefined;
  const text = typeof info.message === 'string' ? info.message : String(err);
  let mapped: DurableSessionErrorCode = 'BACKEND_UNAVAILABLE';
  // Ably's rate limits (42910-42929, HTTP 429: 50 messages/s per channel and per connection on every package) are
  // transient: retryable BACKEND_UNAVAILABLE, so the writer backs off and retries instead of failing the stream.
  const rateLimited = status === 429 || (code !== undefined && code >= 42900 && code < 43000);
  if (rateLimited) mapped = 'BACKEND_UNAVAILABLE';
  else if (code === 40009 || status === 413) mapped = 'PAYLOAD_TOO_LARGE';
  else if (code === 93002) mapped = 'CONFIG_INVALID';
  else if (code !== undefined && CONFIG_CODES.has(code)) mapped = 'CONFIG_INVALID';
  else if (code === 50003 || code === 80014 || /timed? ?out/i.test(text)) mapped = 'TIMEOUT';
  else if (code !== undefined && code >= 40000 && code < 50000 && code !== 40142 && code !== 40140 && code !== 40171) mapped = 'INTERNAL';
  const hint =
    code === 93002
      ? ' (enable the channel rule for "annotations, updates, deletes and appends" on the namespace)'
      : rateLimited
        ? ' (an Ably rate limit: 50 messages/s per channel and per connection unless Ably raised your limits)'
        : '';
  return new DurableSessionError(mapped, `${context}: ${text}${code !== undefined ? ` (Ably error ${code})` : ''}${hint}`, {
    cause: err,
    backend: NAME,
    details: { ...(code !== undefined ? { ablyCode: code } : {}), ...(status !== undefined ? { statusCode: status } : {}), ...(rateLimited ? { rateLimited: true } : {}) },
  });
}
