import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every file starts its own broker (a JVM): one at a time keeps the 2-core machine responsive.
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 60_000,
    // The first run downloads the broker's jars with Maven.
    hookTimeout: 600_000,
  },
});
