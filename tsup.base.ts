import { defineConfig, type Options } from 'tsup';

/** The one bundler setup every package shares: ESM + CJS + .d.ts, explicit entries, Node 20 target. */
export function packageConfig(entry: string[] | Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: false,
    treeshake: true,
    ...extra,
  });
}
