import { sharedVitestConfig } from '../../vitest.shared';

// Every file starts its own emulator; the conformance file is long and sequential.
export default sharedVitestConfig(import.meta.dirname, {
  include: ['test/**/*.test.ts'],
  maxWorkers: 2,
  testTimeout: 60_000,
  hookTimeout: 60_000,
});
