import type { Backend, BackendConfig, BackendFactory } from '@durable-sessions/core';
import { NatsBackend } from './backend.js';
import { natsError } from './errors.js';
import { resolveOptions, type NatsOptions } from './options.js';

export { NatsBackend, probeMessageTtl } from './backend.js';
export type { NatsFeatures } from './features.js';
export type { NatsOptions } from './options.js';
export { offsetOf, parseRawOffset } from './frames.js';

/**
 * The NATS JetStream backend: `nats({ servers: 'nats://127.0.0.1:4222' })` or `nats({ connection })` with your
 * own connection. It connects lazily; `await backend.ready()` to connect eagerly and read `backend.features`.
 */
export function nats(options: NatsOptions = {}): NatsBackend {
  return new NatsBackend(resolveOptions(options));
}

/**
 * Registry entry point: `nats://host:port` (comma-separated servers and `user:pass@` / `token@` credentials
 * allowed) plus any {@link NatsOptions}. Resolves once connected, so capabilities reflect the server's limits.
 */
export const createBackend: BackendFactory = async (config: BackendConfig): Promise<Backend> => {
  const { url, ...rest } = config;
  if (url !== undefined && typeof url !== 'string') throw natsError('CONFIG_INVALID', 'The NATS URL must be a string.');
  const backend = nats({ ...(rest as NatsOptions), ...(url !== undefined ? { url } : {}) });
  try {
    await backend.ready();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
};
