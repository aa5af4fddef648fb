import { connect } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { pollingBackend } from '../src/index.js';

// Every store the suite opens plays another client of the same server, so they share one backend instance
// (whose close() is a no-op: the "server" outlives its clients).
const server = pollingBackend();
const client = { ...server, close: async () => {} };

describeConformance({
  name: 'polling-example',
  connect: (options) => connect({ ...options, backend: client }),
});
