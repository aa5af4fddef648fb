import { sharedVitestConfig } from '../../vitest.shared';

// Every file starts its own broker (a JVM): one at a time keeps the 2-core machine responsive.
export default sharedVitestConfig(import.meta.dirname, {
  include: ['test/**/*.test.ts'],
  fileParallelism: false,
  maxWorkers: 1,
  testTimeout: 60_000,
  // The first run downloads the broker's jars with Maven.
  hookTimeout: 600_000,
});
