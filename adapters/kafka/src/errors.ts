import { DurableSessionError, isDurableSessionError } from '@durable-sessions/core';

export const NAME = 'kafka';

/** Broker error types that retrying cannot fix. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const PERMANENT = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'UNSUPPORTED_VERSION',
  'POLICY_VIOLATION',
]);

/**
 * Maps a kafkajs failure onto the library's codes. Almost everything Kafka reports (connections, leadership moves,
 * coordinator loading, timeouts, exhausted retries) is transient, so the default is `BACKEND_UNAVAILABLE`, which the
 * core retries; only size and authorization errors are final.
 */
export function kafkaError(err: unknown, what: string): DurableSessionError {
  if (isDurableSessionError(err)) return err;
  const types = errorTypes(err);
  const message = err instanceof Error ? err.message : String(err);
  if (types.some((t) => TOO_LARGE.has(t))) {
    return new DurableSessionError('PAYLOAD_TOO_LARGE', `${what}: the batch exceeds the topic's max.message.bytes (${message}).`, { backend: NAME, cause: err });
  }
  if (types.some((t) => PERMANENT.has(t))) {
    return new DurableSessionError('INTERNAL', `${what}: ${message}`, { backend: NAME, cause: err });
  }
  const timeout = err instanceof Error && /Timeout/i.test(err.name);
  return new DurableSessionError(timeout ? 'TIMEOUT' : 'BACKEND_UNAVAILABLE', `${what}: ${message}`, { backend: NAME, cause: err });
}

/** The broker error types along a kafkajs error's cause chain (`KafkaJSNumberOfRetriesExceeded` wraps the real one). */
function errorTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string') types.push(e.type);
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return types;
}
