import type { Capabilities } from '@durable-sessions/core';
import type { ConformanceTarget } from '../target.js';
import { allTests } from '../tests/index.js';
import type { ClauseId } from './clauses.js';
import { createContext, runPrefix, scaled, withTimeout } from './context.js';
import type { ConformanceTest } from './types.js';

/** Which tests to run: an id prefix or tag (`offsets`, `offsets.strictly-increasing`, `peers-12`), a RegExp on the id, or a predicate. */
export type TestFilter = string | RegExp | ((test: ConformanceTest) => boolean);

/** Options of {@link runConformance}. */
export interface RunOptions {
  /** Runs only the matching tests (the others are not reported). */
  filter?: TestFilter | TestFilter[];
  /** Called after each test, for progress output. */
  onResult?: (result: TestResult) => void;
  /** The tests to run. @default every test of the suite */
  tests?: readonly ConformanceTest[];
}

/** The outcome of one test. */
export interface TestResult {
  id: string;
  title: string;
  clauses: readonly ClauseId[];
  tags: readonly string[];
  status: 'passed' | 'failed' | 'skipped';
  /** Why it was skipped. */
  reason?: string;
  /** Why it failed, with the session ids it used. */
  error?: string;
  durationMs: number;
}

/** What {@link runConformance} returns. */
export interface ConformanceReport {
  target: string;
  backend: string;
  capabilities: Capabilities;
  results: TestResult[];
  totals: { passed: number; failed: number; skipped: number };
  durationMs: number;
}

/** A test planned against a target: runnable, or skipped with the reason. */
export interface PlannedTest {
  test: ConformanceTest;
  skip: string | undefined;
  timeoutMs: number;
}

/** Connects once to learn what the backend declares. */
export async function probeCapabilities(target: ConformanceTarget): Promise<{ capabilities: Capabilities; backend: string }> {
  const store = await target.connect();
  try {
    return { capabilities: structuredClone(store.capabilities), backend: store.backend };
  } finally {
    await store.close();
  }
}

function matches(test: ConformanceTest, filter: TestFilter): boolean {
  if (typeof filter === 'function') return filter(test);
  if (filter instanceof RegExp) return filter.test(test.id);
  return test.id === filter || test.id.startsWith(`${filter}.`) || (test.tags ?? []).includes(filter);
}

/**
 * Orders and classifies tests for a target: explicit skips and unmet requirements become skips with their reason,
 * and `fault` tests go last (they disturb the backend, so nothing else may run beside them).
 */
export function planTests(target: ConformanceTarget, capabilities: Capabilities, tests: readonly ConformanceTest[] = allTests, filter?: TestFilter | TestFilter[]): PlannedTest[] {
  const filters = filter === undefined ? [] : Array.isArray(filter) ? filter : [filter];
  const selected = tests.filter((t) => filters.length === 0 || filters.some((f) => matches(t, f)));
  const isFault = (t: ConformanceTest) => (t.tags ?? []).includes('fault');
  const ordered = [...selected.filter((t) => !isFault(t)), ...selected.filter(isFault)];
  return ordered.map((test) => {
    const explicit = target.skip?.[test.id];
    const skip = explicit !== undefined ? `skipped by the target: ${explicit}` : test.requires?.({ target, capabilities });
    return { test, skip, timeoutMs: scaled(target, test.timeoutMs ?? 20_000) };
  });
}

/** Runs one planned test in a fresh context and returns its result. Never throws. */
export async function runPlanned(target: ConformanceTarget, capabilities: Capabilities, prefix: string, planned: PlannedTest): Promise<TestResult> {
  const { test } = planned;
  const base = { id: test.id, title: test.title, clauses: test.clauses, tags: test.tags ?? [] };
  if (planned.skip !== undefined) return { ...base, status: 'skipped', reason: planned.skip, durationMs: 0 };
  const started = Date.now();
  const ctx = createContext(target, capabilities, prefix, test.id);
  let error: string | undefined;
  try {
    await withTimeout(test.run(ctx), planned.timeoutMs, `Test ${test.id}`);
  } catch (err) {
    error = describeFailure(err, ctx.sessions);
  } finally {
    ctx.abort();
    await ctx.dispose();
  }
  const durationMs = Date.now() - started;
  return error === undefined ? { ...base, status: 'passed', durationMs } : { ...base, status: 'failed', error, durationMs };
}

/** A failure message that names the sessions the test used, so they can be inspected on the backend. */
export function describeFailure(err: unknown, sessions: readonly string[]): string {
  const message = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const withCode = typeof code === 'string' && !message.includes(code) ? `${message} [${code}]` : message;
  return sessions.length ? `${withCode}\n  sessions: ${sessions.map((s) => JSON.stringify(s)).join(', ')}` : withCode;
}

/**
 * Runs the suite against a target, one test at a time, each with its own stores (closed afterwards) and a
 * timeout scaled by `target.timeScale`. Used by the CLI (`durable-sessions conformance <url>`); vitest users call
 * `describeConformance` instead.
 */
export async function runConformance(target: ConformanceTarget, options: RunOptions = {}): Promise<ConformanceReport> {
  const started = Date.now();
  const { capabilities, backend } = await probeCapabilities(target);
  const prefix = runPrefix(target);
  const results: TestResult[] = [];
  for (const planned of planTests(target, capabilities, options.tests ?? allTests, options.filter)) {
    const result = await runPlanned(target, capabilities, prefix, planned);
    results.push(result);
    options.onResult?.(result);
  }
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) totals[r.status]++;
  return { target: target.name, backend, capabilities, results, totals, durationMs: Date.now() - started };
}

const MARK = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' } as const;

/**
 * A plain-text pass matrix: one line per test (status, id, clauses, duration, and the reason or error), then the
 * totals as the last line, exactly `N passed, N failed, N skipped`.
 */
export function formatReport(report: ConformanceReport): string {
  const width = Math.max(...report.results.map((r) => r.id.length), 10);
  const clauseWidth = Math.max(...report.results.map((r) => r.clauses.join(',').length), 8);
  const lines = [`Durable Sessions conformance: ${report.target} (backend ${report.backend}), ${report.results.length} tests in ${(report.durationMs / 1000).toFixed(1)} s`];
  for (const r of report.results) {
    const clauses = r.clauses.join(',').padEnd(clauseWidth);
    const time = r.status === 'skipped' ? '' : ` ${r.durationMs} ms`;
    lines.push(`${MARK[r.status]}  ${r.id.padEnd(width)}  ${clauses}${time}`);
    if (r.reason) lines.push(`      skipped: ${r.reason}`);
    if (r.error) lines.push(...r.error.split('\n').map((l) => `      ${l}`));
  }
  const { passed, failed, skipped } = report.totals;
  lines.push(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return lines.join('\n');
}
