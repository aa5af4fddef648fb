import { sharedVitestConfig } from '../../vitest.shared';

// Every file starts its own nats-server(s); running them one at a time keeps the 2-core machine responsive.
export default sharedVitestConfig(import.meta.dirname, {
  include: ['test/**/*.test.ts'],
  fileParallelism: false,
  maxWorkers: 1,
  testTimeout: 60_000,
  hookTimeout: 120_000,
});
