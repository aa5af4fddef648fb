import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base';

export default [
  // The Node entries clean dist/ but must leave the page bundle (built by the entry below at the same time) alone.
  packageConfig(["src/index.ts","src/bin.ts"], { clean: ['!demo-web/**'] }),
  // The web demo's page script: one browser bundle with everything in it (client, rxjs, the AI SDK's chat), no Node code.
  defineConfig({
    entry: { app: 'src/demo/web/main.ts' },
    outDir: 'dist/demo-web',
    format: ['iife'],
    platform: 'browser',
    target: 'es2022',
    noExternal: [/.*/],
    outExtension: () => ({ js: '.js' }),
    minify: true,
    sourcemap: true,
    dts: false,
    // Overwritten in place (two files): never a moment without a page for a demo that is starting.
    clean: false,
    splitting: false,
    treeshake: true,
  }),
];
