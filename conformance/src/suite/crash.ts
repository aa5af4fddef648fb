import { DurableSessionError, type Backend, type BackendPresence } from '@durable-sessions/core';

/** A backend wrapper that can be cut off, as the connection of a process that died. */
export interface CrashableBackend {
  readonly backend: Backend;
  crash(): Promise<void>;
}

/**
 * Wraps a backend so that `crash()` closes its connection and makes every later call fail with
 * `BACKEND_UNAVAILABLE`: heartbeats stop reaching the server and the final leave of a handle close is lost, exactly
 * what the rest of the system sees when a process is killed.
 */
export function crashable(inner: Backend): CrashableBackend {
  let dead = false;
  const tails = new Set<{ stop: () => void; listener: { error(err: unknown): void } }>();
  const refuse = () => new DurableSessionError('BACKEND_UNAVAILABLE', 'The process crashed (simulated by the conformance suite).', { backend: inner.name });
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    if (dead) throw refuse();
    return call();
  };
  const presence: BackendPresence | undefined = inner.presence && {
    put: (ref, entry) => guard(() => inner.presence!.put(ref, entry)),
    remove: (ref, id) => guard(() => inner.presence!.remove(ref, id)),
    list: (ref) => guard(() => inner.presence!.list(ref)),
    ...(inner.presence.watch ? { watch: (ref, onChange) => (dead ? () => {} : inner.presence!.watch!(ref, onChange)) } : {}),
  };
  const backend: Backend = {
    name: inner.name,
    capabilities: inner.capabilities,
    ...(presence ? { presence } : {}),
    append: (log, request) => guard(() => inner.append(log, request)),
    read: (log, after, limit) => guard(() => inner.read(log, after, limit)),
    info: (log) => guard(() => inner.info(log)),
    tail: (log, after, listener) => {
      if (dead) {
        queueMicrotask(() => listener.error(refuse()));
        return () => {};
      }
      const stop = inner.tail(log, after, listener);
      const entry = { stop, listener };
      tails.add(entry);
      return () => {
        tails.delete(entry);
        stop();
      };
    },
    close: async () => {
      if (!dead) await inner.close();
    },
  };
  return {
    backend,
    async crash() {
      if (dead) return;
      dead = true;
      // Live followers see their connection fail, as they would when the process holding it dies.
      for (const tail of [...tails]) {
        tails.delete(tail);
        tail.stop();
        tail.listener.error(refuse());
      }
      await inner.close().catch(() => {});
    },
  };
}
