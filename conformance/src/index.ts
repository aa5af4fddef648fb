/**
 * The Durable Sessions conformance suite: the contract every backend adapter must keep (docs/contract.md), as
 * data. Run it with `describeConformance` from `@durable-sessions/conformance/vitest`, or with `runConformance`
 * (no test framework; used by `durable-sessions conformance <url>`).
 */
export type { ConformanceTarget, FaultHooks } from './target.js';
export type { RawBaseline, BaselineFactory } from './bench-baseline.js';
export { CLAUSES, type ClauseId } from './suite/clauses.js';
export type { ConformanceTest, CrashableStore, Requirement, RequirementEnv, TestContext } from './suite/types.js';
export { allTests } from './tests/index.js';
export {
  runConformance,
  formatReport,
  planTests,
  probeCapabilities,
  type ConformanceReport,
  type PlannedTest,
  type RunOptions,
  type TestFilter,
  type TestResult,
} from './suite/runner.js';
export { collect, later, record, waitFor, ConformanceError, type Recorder, type Source } from './suite/helpers.js';
export { check, checkEqual, checkIncreasing, checkSameIds, checkSequence, expectCode, ev, keyOf, keys, range } from './suite/assert.js';
export { crashable, type CrashableBackend } from './suite/crash.js';
export { createContext, randomToken, runPrefix, scaled, withTimeout, type ManagedContext } from './suite/context.js';
