import { sharedVitestConfig } from '../../vitest.shared';

export default sharedVitestConfig(import.meta.dirname, { testTimeout: 20_000, hookTimeout: 30_000 });
