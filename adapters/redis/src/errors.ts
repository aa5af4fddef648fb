import { DurableSessionError, isDurableSessionError } from '@durable-sessions/core';

/**
 * Redis error prefixes that mean "try again later" rather than "this command is wrong": a server loading its data
 * set, a busy script, a cluster reconfiguring, a replica that cannot take writes yet.
 */
const TRANSIENT = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|MOVED|ASK)\b/;
/** The shape of an error reply Redis itself produced (as opposed to a socket, HTTP or client failure). */
const REDIS_REPLY = /^(ERR|WRONGTYPE|NOSCRIPT|NOPERM|NOAUTH|WRONGPASS|EXECABORT|OOM|NOTBUSY|UNKILLABLE|BUSYKEY|NOGROUP|CROSSSLOT)\b/;
const MARKER = /\bDS_(ENDED|GAP|STALE|TRIMMED)\b ?([0-9-]*)/;

/**
 * Maps anything a Redis client threw onto a typed error. Markers raised by our Lua scripts become the codes the core
 * expects; errors Redis produced for a command are `INTERNAL` (a bug or a foreign key in our namespace); everything
 * else (sockets, HTTP, an offline client) is `BACKEND_UNAVAILABLE`, which the core retries.
 */
export function mapRedisError(err: unknown, backend: string, isReply: (err: unknown) => boolean): DurableSessionError {
  if (isDurableSessionError(err)) return err;
  const message = errorMessage(err);
  const marker = MARKER.exec(message);
  if (marker) {
    const value = marker[2] ?? '';
    switch (marker[1]) {
      case 'ENDED':
        return new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend, cause: err });
      case 'GAP':
        return new DurableSessionError('SEQUENCE_GAP', `The producer skipped a sequence number; the log expects seq ${value}.`, {
          backend,
          cause: err,
          details: { expectedSeq: Number(value) },
        });
      case 'STALE':
        return new DurableSessionError('STALE_PRODUCER', `The producer was fenced by epoch ${value}.`, {
          backend,
          cause: err,
          details: { currentEpoch: Number(value) },
        });
      case 'TRIMMED':
        return new DurableSessionError('OFFSET_TRIMMED', 'Events after this offset were removed by retention.', { backend, cause: err });
    }
  }
  const text = stripPrefix(message);
  if (TRANSIENT.test(text)) return new DurableSessionError('BACKEND_UNAVAILABLE', message, { backend, cause: err });
  if (isReply(err) || REDIS_REPLY.test(text)) return new DurableSessionError('INTERNAL', message, { backend, cause: err });
  return new DurableSessionError('BACKEND_UNAVAILABLE', message || 'Redis is unreachable.', { backend, cause: err });
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** @upstash/redis wraps server errors as "<redis error>, command was: …". */
function stripPrefix(message: string): string {
  return message.replace(/^UpstashError:\s*/, '');
}

/** True when `err` is (or wraps) the NOSCRIPT reply, i.e. the script must be sent with EVAL once. */
export function isNoScript(err: unknown): boolean {
  return /\bNOSCRIPT\b/.test(errorMessage(err));
}
