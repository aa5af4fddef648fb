import { connect, type StoreOptions } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { upstash } from '@durable-sessions/redis';
import { afterAll } from 'vitest';
import { startInfra } from './helpers.js';

// The project's Upstash REST bridge in front of a real redis-server; set UPSTASH_REDIS_REST_URL/TOKEN and
// DS_TEST_REAL_UPSTASH=1 to run the same suite against a real Upstash database instead (no fault hooks then).
const real = process.env.DS_TEST_REAL_UPSTASH === '1';
const infra = real ? undefined : await startInfra('upstash');
afterAll(() => infra?.stop());
const url = infra?.url ?? 'upstash:';

describeConformance({
  name: real ? 'redis (Upstash REST)' : 'redis (Upstash REST bridge)',
  // The options form: the upstash+http scheme of the local bridge is not a registered URL scheme of the core.
  connect: (options: StoreOptions = {}) => connect({ ...options, backend: 'redis', url }),
  backend: (options: StoreOptions = {}) => upstash({ url, ...(options.retention ? { retention: options.retention } : {}) }),
  ...(infra ? { faults: { restart: () => infra.restart!(), dropConnections: () => infra.dropConnections!() } } : {}),
  timeScale: 2,
});
