import { connect, type StoreOptions } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { redis } from '@durable-sessions/redis';
import { afterAll } from 'vitest';
import { startInfra } from './helpers.js';

// A real 3-master Redis Cluster (launcher `redis-cluster`), reached through node-redis's cluster client from the
// `redis+cluster://` URL; the fault hooks restart every master in turn and drop every client on every master.
const infra = await startInfra('redis-cluster');
afterAll(() => infra.stop());

describeConformance({
  name: 'redis (Redis Cluster)',
  // The options form: `redis+cluster:` is not (yet) a URL scheme the core's registry maps to this adapter.
  connect: (options: StoreOptions = {}) => connect({ ...options, backend: 'redis', url: infra.url }),
  backend: (options: StoreOptions = {}) => redis({ url: infra.url, ...(options.retention ? { retention: options.retention } : {}) }),
  faults: { restart: () => infra.restart!(), dropConnections: () => infra.dropConnections!() },
});
