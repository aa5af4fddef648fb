import { connect, type StoreOptions } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { redis } from '@durable-sessions/redis';
import { afterAll } from 'vitest';
import { startInfra } from './helpers.js';

// A real redis-server (AOF on) started by the suite's own launcher on a free loopback port.
const infra = await startInfra('redis');
afterAll(() => infra.stop());

describeConformance({
  name: 'redis (TCP)',
  connect: (options: StoreOptions = {}) => connect(infra.url, options),
  backend: (options: StoreOptions = {}) => redis({ url: infra.url, ...(options.retention ? { retention: options.retention } : {}) }),
  faults: { restart: () => infra.restart!(), dropConnections: () => infra.dropConnections!() },
});
