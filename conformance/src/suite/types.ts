import type { Capabilities, DurableSession, SessionStore, StoreOptions } from '@durable-sessions/core';
import type { ConformanceTarget } from '../target.js';
import type { ClauseId } from './clauses.js';

/** What a test's requirement check sees before the test runs. */
export interface RequirementEnv {
  /** The target under test. */
  readonly target: ConformanceTarget;
  /** The capabilities the target's backend declares. */
  readonly capabilities: Capabilities;
}

/**
 * A requirement: returns why the test cannot run on this target (shown as the skip reason), or undefined when it
 * can. Skips must state a true reason (`backend declares presence: 'none'`, `no restart hook`).
 */
export type Requirement = (env: RequirementEnv) => string | undefined;

/** A store crash simulation, from {@link TestContext.connectCrashable}. */
export interface CrashableStore {
  /** A store whose backend connection can be cut as if its process died. */
  readonly store: SessionStore;
  /** Cuts the store off: its backend connection closes and every later call fails; nothing is said to anyone (no leave). */
  crash(): Promise<void>;
}

/** What a running test gets: stores, unique session ids, scaled timeouts and condition waits. */
export interface TestContext {
  /** The target under test. */
  readonly target: ConformanceTarget;
  /** The capabilities the backend declares. */
  readonly capabilities: Capabilities;
  /** Aborted when the test times out or ends; pass it to long waits. */
  readonly signal: AbortSignal;
  /** Scales a base duration in milliseconds by the target's time scale. */
  ms(base: number): number;
  /** A fresh store from the target, closed by the suite after the test. */
  connect(options?: StoreOptions): Promise<SessionStore>;
  /**
   * A store whose process can "crash" (see {@link CrashableStore}); needs `target.backend`. Closed after the test.
   */
  connectCrashable(options?: StoreOptions): Promise<CrashableStore>;
  /** A session id unique to this run and test; `suffix` is appended verbatim (hostile ids go there). */
  sessionId(suffix?: string): string;
  /** `store.session(ctx.sessionId(suffix))`. */
  session(store: SessionStore, suffix?: string): DurableSession;
  /** Records a session id (one not made by {@link sessionId}) for the failure report. */
  note(sessionId: string): void;
  /** Polls `condition` until it holds, failing with `what` after `timeoutMs` (scaled; default 10 s). */
  waitFor(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs?: number): Promise<void>;
  /** Runs `cleanup` after the test, before the stores close. */
  defer(cleanup: () => unknown): void;
}

/** One conformance test, as data. */
export interface ConformanceTest {
  /** Stable id, `area.what` (`offsets.strictly-increasing`); used by `target.skip` and filters. */
  readonly id: string;
  /** A sentence saying what must hold. */
  readonly title: string;
  /** The contract clauses it checks. */
  readonly clauses: readonly ClauseId[];
  /** Labels: `fault` (run last, serially), `peers-N` (a failure users of peer products report), `slow`. */
  readonly tags?: readonly string[];
  /** Why the test cannot run on a target, or undefined. */
  readonly requires?: Requirement;
  /** Base timeout in ms before scaling. @default 20000 */
  readonly timeoutMs?: number;
  /** The test body; throws to fail. */
  run(ctx: TestContext): Promise<void>;
}
