/**
 * Every failure the library reports, as one union. Adapters map their vendor errors onto these codes so
 * applications can branch on `err.code` without knowing which backend they run on.
 */
export type DurableSessionErrorCode =
  /** A session id is empty, too long, or not well-formed Unicode. */
  | 'INVALID_SESSION_ID'
  /** An offset is malformed, belongs to another session or log, or lies beyond the end of the log. */
  | 'INVALID_OFFSET'
  /** The offset was valid once, but retention has removed events after it: resuming would silently skip them. */
  | 'OFFSET_TRIMMED'
  /** An event (after encoding) is larger than the backend accepts. */
  | 'PAYLOAD_TOO_LARGE'
  /** An event is malformed: missing type, reserved type, data that is not JSON or bytes. */
  | 'INVALID_EVENT'
  /** A parameter is out of range or of the wrong type (a read limit, a page size, a producer stamp). */
  | 'INVALID_ARGUMENT'
  /** The session has a durable end-of-stream event; nothing more can be appended. */
  | 'SESSION_ENDED'
  /** The backend cannot do this (see `store.capabilities`). */
  | 'NOT_SUPPORTED'
  /** The backend could not be reached or failed transiently; the operation may be retried. */
  | 'BACKEND_UNAVAILABLE'
  /** A concurrent writer changed what this operation depended on. */
  | 'CONFLICT'
  /** An idempotent producer skipped a sequence number; `details.expectedSeq` says which one the log expects. */
  | 'SEQUENCE_GAP'
  /** An idempotent producer was fenced by a newer epoch of the same producer id. */
  | 'STALE_PRODUCER'
  /** The configuration (URL or options object) is malformed, names an unknown backend, or its adapter is missing. */
  | 'CONFIG_INVALID'
  /** The store, session, writer or subscription was closed. */
  | 'CLOSED'
  /** An operation did not finish within its deadline. */
  | 'TIMEOUT'
  /** The operation was aborted through an `AbortSignal`. */
  | 'ABORTED'
  /** Anything an adapter could not classify; `cause` holds the original error. */
  | 'INTERNAL';

/** Codes for which retrying the same operation (idempotently) can succeed. */
const RETRYABLE: ReadonlySet<DurableSessionErrorCode> = new Set(['BACKEND_UNAVAILABLE', 'TIMEOUT']);

/** Options for {@link DurableSessionError}. */
export interface DurableSessionErrorOptions {
  /** The error that caused this one, kept for debugging. */
  cause?: unknown;
  /** Machine-readable context, e.g. `{ expectedSeq: 4 }` or `{ maxBytes: 65536 }`. */
  details?: Record<string, unknown>;
  /** Which backend raised it (`redis`, `nats`, …); prefixes the message. */
  backend?: string;
}

/**
 * The one error class of the library. Check `code`, never the message; `retryable` tells whether the same
 * operation may be repeated (idempotent appends make that safe).
 */
export class DurableSessionError extends Error {
  override readonly name = 'DurableSessionError';
  /** What went wrong, as a stable code. */
  readonly code: DurableSessionErrorCode;
  /** Machine-readable context for the code. */
  readonly details: Readonly<Record<string, unknown>>;
  /** The backend that raised it, when known. */
  readonly backend: string | undefined;

  constructor(code: DurableSessionErrorCode, message: string, options: DurableSessionErrorOptions = {}) {
    const prefix = options.backend ? `[durable-sessions:${options.backend}]` : '[durable-sessions]';
    super(`${prefix} ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.backend = options.backend;
  }

  /** Whether retrying the same operation can succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** A plain object for logs and wire protocols. */
  toJSON(): { code: DurableSessionErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: { ...this.details } };
  }
}

/** True when `err` is a {@link DurableSessionError}, optionally with one of the given codes. */
export function isDurableSessionError(err: unknown, ...codes: DurableSessionErrorCode[]): err is DurableSessionError {
  if (!(err instanceof DurableSessionError)) {
    // Two copies of the core (CJS and ESM, or two versions) must still recognise each other's errors.
    if (!(err instanceof Error) || err.name !== 'DurableSessionError' || typeof (err as { code?: unknown }).code !== 'string') {
      return false;
    }
  }
  return codes.length === 0 || codes.includes((err as DurableSessionError).code);
}

/**
 * Normalises anything thrown into a {@link DurableSessionError}. Adapters call it at their boundary with a
 * fallback code; errors that already carry a code pass through unchanged.
 */
export function toDurableSessionError(
  err: unknown,
  fallback: DurableSessionErrorCode = 'INTERNAL',
  backend?: string,
): DurableSessionError {
  if (isDurableSessionError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DurableSessionError(fallback, message, { cause: err, ...(backend ? { backend } : {}) });
}
