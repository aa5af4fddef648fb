import { basename, dirname, join } from 'node:path';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

/**
 * The vitest settings every package shares. When the root test runner sets DS_TEST_REPORT_DIR, each package also
 * writes a JSON report there, which the runner sums into one closing line for CI.
 */
export function sharedVitestConfig(packageDir: string, test: NonNullable<ViteUserConfig['test']> = {}) {
  const reportDir = process.env.DS_TEST_REPORT_DIR;
  const name = `${basename(dirname(packageDir))}-${basename(packageDir)}`;
  return defineConfig({
    test: {
      passWithNoTests: true,
      maxWorkers: 2,
      ...(reportDir ? { reporters: ['default', 'json'], outputFile: { json: join(reportDir, `${name}.json`) } } : {}),
      ...test,
    },
  });
}
