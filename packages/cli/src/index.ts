/**
 * `durable-sessions`: the convenience package. It re-exports everything from `@durable-sessions/core`, so
 * `import { connect } from 'durable-sessions'` works with the embedded memory backend installed alongside, and
 * it ships the `durable-sessions` command (conformance, bench, infra, tail, append, end).
 */
export * from '@durable-sessions/core';
