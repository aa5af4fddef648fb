import { connect } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { pollingBackend } from '../src/index.js';

describeConformance({
  name: 'polling-example',
  connect: (options) => connect({ backend: pollingBackend(), ...options }),
});
