/**
 * The vitest runner of the conformance suite: `describeConformance(target)` registers one `describe` with one
 * `it` per test. Skipped tests stay visible with their reason in the title; fault tests run last, one at a time.
 * This is the only module of the package that imports vitest.
 *
 * An adapter's test file:
 * ```ts
 * import { connect } from '@durable-sessions/core';
 * import { redis } from '@durable-sessions/redis';
 * import { describeConformance } from '@durable-sessions/conformance/vitest';
 *
 * const server = await startRedis();            // the project's launcher: a real server on a free port
 * describeConformance({
 *   name: 'redis',
 *   connect: (options) => connect({ ...options, backend: redis({ url: server.url, retention: options?.retention }) }),
 *   backend: (options) => redis({ url: server.url, retention: options?.retention }),   // lets the suite crash a client
 *   faults: { restart: () => server.restart(), dropConnections: () => server.proxy.dropConnections() },
 * });
 * ```
 * Every `connect` must reach the same data (stores play separate processes); an in-process backend hands every
 * store a view of one instance. Tests a target cannot run skip with the reason; `skip: { id: 'why' }` skips by id.
 */
import { describe, it } from 'vitest';
import type { ConformanceTarget } from './target.js';
import type { TestFilter } from './suite/runner.js';
import { planTests, probeCapabilities, runPlanned } from './suite/runner.js';
import { runPrefix } from './suite/context.js';
import { allTests } from './tests/index.js';
import type { ConformanceTest } from './suite/types.js';

/** Options of {@link describeConformance}. */
export interface DescribeOptions {
  /** Registers only the matching tests. */
  filter?: TestFilter | TestFilter[];
  /** The tests to register. @default every test of the suite */
  tests?: readonly ConformanceTest[];
}

/** Registers the conformance suite for `target` as a vitest `describe` block. */
export function describeConformance(target: ConformanceTarget, options: DescribeOptions = {}): void {
  describe(`Durable Sessions conformance: ${target.name}`, async () => {
    const { capabilities } = await probeCapabilities(target);
    const prefix = runPrefix(target);
    for (const planned of planTests(target, capabilities, options.tests ?? allTests, options.filter)) {
      const { test } = planned;
      const name = `${test.id}: ${test.title} (${test.clauses.join(', ')})`;
      if (planned.skip !== undefined) {
        it.skip(`${name} [skipped: ${planned.skip}]`, () => {});
        continue;
      }
      // Tests share one backend; sequential `it`s (vitest's default within a file) keep fault tests alone.
      it(
        name,
        async () => {
          const result = await runPlanned(target, capabilities, prefix, planned);
          if (result.status === 'failed') throw new Error(result.error);
        },
        planned.timeoutMs + 15_000,
      );
    }
  });
}
