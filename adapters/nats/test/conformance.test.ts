import { connect, type StoreOptions } from '@durable-sessions/core';
import { afterAll } from 'vitest';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { nats } from '@durable-sessions/nats';
import type { RunningInfra } from '@durable-sessions/conformance/infra';
import { startInfra } from './helpers.js';

// One real nats-server for the whole suite, started by the suite's own launcher on free loopback ports.
const infra: RunningInfra = await startInfra('nats');
afterAll(() => infra.stop());

describeConformance({
  name: 'nats',
  connect: (options: StoreOptions = {}) => connect(infra.url, options),
  backend: (options: StoreOptions = {}) => nats({ url: infra.url, ...(options.retention ? { retention: options.retention } : {}) }),
  faults: { restart: () => infra.restart!(), dropConnections: () => infra.dropConnections!() },
});
