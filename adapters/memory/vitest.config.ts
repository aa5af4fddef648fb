import { sharedVitestConfig } from '../../vitest.shared';

// The conformance suite is one file of sequential tests sharing one in-process backend.
export default sharedVitestConfig(import.meta.dirname, { include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 });
