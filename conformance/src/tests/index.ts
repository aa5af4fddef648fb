import type { ConformanceTest } from '../suite/types.js';
import { capabilityTests } from './capabilities.js';
import { controlTests } from './control.js';
import { endTests } from './end.js';
import { faultTests, outageTests } from './faults.js';
import { forkTests } from './fork.js';
import { idempotencyTests } from './idempotency.js';
import { isolationTests } from './isolation.js';
import { offsetTests } from './offsets.js';
import { payloadTests } from './payloads.js';
import { peerTests } from './peers.js';
import { presenceTests } from './presence.js';
import { readTests } from './read.js';
import { resourceTests } from './resources.js';
import { retentionTests } from './retention.js';
import { setupTests } from './setup.js';
import { subscribeTests } from './subscribe.js';
import { writerTests } from './writer.js';

/** Every test of the suite, by area; fault tests are reordered to run last by the runners. */
export const allTests: readonly ConformanceTest[] = [
  ...setupTests,
  ...offsetTests,
  ...subscribeTests,
  ...readTests,
  ...endTests,
  ...idempotencyTests,
  ...writerTests,
  ...payloadTests,
  ...isolationTests,
  ...presenceTests,
  ...controlTests,
  ...retentionTests,
  ...resourceTests,
  ...capabilityTests,
  ...forkTests,
  ...peerTests,
  ...outageTests,
  ...faultTests,
];
