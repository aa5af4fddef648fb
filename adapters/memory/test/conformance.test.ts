import { connect, type StoreOptions } from '@durable-sessions/core';
import { sharedMemory } from '@durable-sessions/memory';
import { describeConformance } from '@durable-sessions/conformance/vitest';

// One in-process "server" per retention setting: every connect() reaches the same data, as clients of one server do.
const server = (options: StoreOptions = {}) =>
  sharedMemory(`conformance-${JSON.stringify(options.retention ?? {})}`, { retention: options.retention });

describeConformance({
  name: 'memory',
  // Retention belongs to the backend instance, so it goes to the factory and not to connect().
  connect: ({ retention, ...options } = {}) => connect({ ...options, backend: server({ retention }) }),
  backend: (options) => server(options),
});
