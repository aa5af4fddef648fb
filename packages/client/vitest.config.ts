import { sharedVitestConfig } from '../../vitest.shared';

// End-to-end tests against a real gateway started in-process on a free loopback port. Node 20 gets its (undici,
// browser-compatible) global WebSocket behind a flag, so one test can run the client exactly as a browser would.
export default sharedVitestConfig(import.meta.dirname, {
  include: ['test/**/*.test.ts'],
  testTimeout: 30_000,
  hookTimeout: 30_000,
  execArgv: typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [],
});
