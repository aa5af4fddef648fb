import { fileURLToPath } from 'node:url';
import { sharedVitestConfig } from '../vitest.shared';

// The self-tests run the suite against mutants of the memory adapter, imported from source so they need no build.
export default sharedVitestConfig(import.meta.dirname, {
  include: ['test/**/*.test.ts'],
  testTimeout: 120_000,
  alias: { '@durable-sessions/memory': fileURLToPath(new URL('../adapters/memory/src/index.ts', import.meta.url)) },
});
