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
  const timeout = (err instanceof Error && /Timeout/i.test(err.name)) || (err as { code?: unknown } | null)?.code === 'PLT_KFK_TIMEOUT';
  return new DurableSessionError(timeout ? 'TIMEOUT' : 'BACKEND_UNAVAILABLE', `${what}: ${message}`, { backend: NAME, cause: err });
}

/**
 * The broker error types along an error's cause chain: kafkajs' `type` (`KafkaJSNumberOfRetriesExceeded` wraps the
 * real one), @platformatic/kafka's `apiId` (its MultipleErrors hold the real ones in `errors`).
 */
function errorTypes(err: unknown): string[] {
  const types: string[] = [];
  const walk = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 5) return;
    const x = e as { type?: unknown; apiId?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    if (typeof x.type === 'string') types.push(x.type);
    if (typeof x.apiId === 'string') types.push(x.apiId);
    if (Array.isArray(x.errors)) for (const inner of x.errors) walk(inner, depth + 1);
    walk(x.originalError ?? x.cause, depth + 1);
  };
  walk(err, 0);
  return types;
}
