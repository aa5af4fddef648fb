import {
  DurableSessionError,
  type Backend,
  type BackendConfig,
  type BackendFactory,
  type Capabilities,
  type LogRef,
  type RetentionOptions,
} from '@durable-sessions/core';
import { MemoryLog } from './memory-log.js';
import { MemoryPresence } from './memory-presence.js';

/** Options of the embedded memory backend. */
export interface MemoryOptions {
  /** Retention per session log. @default unlimited */
  retention?: RetentionOptions;
  /** Largest encoded event accepted, in bytes. @default 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /** Most events per append call. @default 1000 */
  maxBatchSize?: number;
}

const NAME = 'memory';

/**
 * The embedded backend: everything in this process's memory. Complete and fast, and honest about it: nothing
 * survives a restart, and two processes never share data. Use `memory://name` (or {@link sharedMemory}) to share
 * one instance between several `connect()` calls in one process.
 */
export function memory(options: MemoryOptions = {}): Backend {
  const retention = { ...options.retention };
  for (const [key, value] of Object.entries(retention)) {
    if (value !== undefined && (typeof value !== 'number' || !(value > 0))) {
      throw new DurableSessionError('CONFIG_INVALID', `retention.${key} must be a positive number.`, { backend: NAME });
    }
  }
  const capabilities: Capabilities = {
    durable: false,
    idempotentAppend: true,
    atomicBatch: true,
    atomicEnd: true,
    presence: 'emulated',
    maxPayloadBytes: positiveInt(options.maxPayloadBytes, 1024 * 1024, 'maxPayloadBytes'),
    maxBatchSize: positiveInt(options.maxBatchSize, 1_000, 'maxBatchSize'),
    retention: { maxAge: true, maxEvents: true },
    detectsTrimmedOffsets: true,
  };
  const logs = new Map<string, MemoryLog>();
  const presence = new MemoryPresence();
  let closed = false;

  const logOf = (ref: LogRef): MemoryLog => {
    if (closed) throw new DurableSessionError('CLOSED', 'The memory backend is closed.', { backend: NAME });
    const id = `${ref.kind}:${ref.key}`;
    let log = logs.get(id);
    if (!log) logs.set(id, (log = new MemoryLog(retention)));
    return log;
  };

  return {
    name: NAME,
    capabilities,
    presence,
    async append(ref, request) {
      return logOf(ref).append(request);
    },
    async read(ref, after, limit) {
      return logOf(ref).read(after, limit);
    },
    async info(ref) {
      return logOf(ref).info();
    },
    tail(ref, after, listener) {
      return logOf(ref).tail(after, listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      const err = new DurableSessionError('CLOSED', 'The memory backend was closed.', { backend: NAME });
      for (const log of logs.values()) log.closeFollowers(err);
      logs.clear();
      presence.clear();
    },
  };
}

const shared = new Map<string, Backend>();

/**
 * A process-wide memory backend by name: every call with the same name returns a handle on the same data, so a
 * gateway and an agent in one process can share sessions. Closing a handle does not clear the shared data.
 */
export function sharedMemory(name: string, options: MemoryOptions = {}): Backend {
  let backend = shared.get(name);
  if (!backend) shared.set(name, (backend = memory(options)));
  const target = backend;
  return { ...target, name: NAME, close: async () => {} };
}

/** Registry entry point: `memory:` (a private instance) or `memory://name` (shared in this process). */
export const createBackend: BackendFactory = (config: BackendConfig) => {
  const { url, ...rest } = config;
  const options = rest as MemoryOptions;
  if (url === undefined) return memory(options);
  const match = /^memory:(?:\/\/([A-Za-z0-9._-]*))?\/?$/i.exec(url);
  if (!match) {
    throw new DurableSessionError('CONFIG_INVALID', `Malformed memory URL ${JSON.stringify(url)}: use memory: or memory://name.`, { backend: NAME });
  }
  return match[1] ? sharedMemory(match[1], options) : memory(options);
};

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new DurableSessionError('CONFIG_INVALID', `${name} must be a positive integer.`, { backend: NAME });
  }
  return value;
}
