import { sharedVitestConfig } from '../../vitest.shared';

// The tests run the built CLI (dist/bin.js) as a child process; the conformance run and real servers take a while.
export default sharedVitestConfig(import.meta.dirname, { include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 });
