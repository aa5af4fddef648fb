import { isDeepStrictEqual, inspect } from 'node:util';
import { isDurableSessionError, type DurableSessionError, type DurableSessionErrorCode, type SessionEvent } from '@durable-sessions/core';
import { ConformanceError } from './helpers.js';

/** Fails with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceError(message);
}

function show(value: unknown): string {
  return inspect(value, { depth: 6, maxArrayLength: 20, maxStringLength: 200, breakLength: 120 });
}

/** Fails unless `actual` deep-equals `expected` (strictly: types, prototypes, Uint8Array contents). */
export function checkEqual<T>(actual: unknown, expected: T, what: string): asserts actual is T {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new ConformanceError(`${what}: expected ${show(expected)}, got ${show(actual)}.`);
  }
}

/**
 * Fails unless `actual` holds exactly the ids of `expected`, reporting the missing, the extra and the duplicated
 * ones (order ignored).
 */
export function checkSameIds(actual: readonly string[], expected: readonly string[], what: string): void {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of actual) seen.set(id, (seen.get(id) ?? 0) + 1);
  const missing = expected.filter((id) => !seen.has(id));
  const extra = [...seen.keys()].filter((id) => !want.has(id));
  const duplicated = [...seen.entries()].filter(([, count]) => count > 1).map(([id, count]) => `${id}×${count}`);
  if (missing.length || extra.length || duplicated.length) {
    throw new ConformanceError(
      `${what}: ${actual.length} received, ${expected.length} expected; missing ${missing.length} ${show(missing)}, ` +
        `extra ${extra.length} ${show(extra)}, duplicated ${duplicated.length} ${show(duplicated)}.`,
    );
  }
}

/** Fails unless `actual` is exactly `expected` in order; reports set differences and the first divergence. */
export function checkSequence(actual: readonly string[], expected: readonly string[], what: string): void {
  if (actual.length === expected.length && actual.every((id, i) => id === expected[i])) return;
  checkSameIds(actual, expected, what);
  const at = actual.findIndex((id, i) => id !== expected[i]);
  throw new ConformanceError(
    `${what}: same ids, wrong order; first divergence at index ${at}: expected ${show(expected.slice(at, at + 5))}, got ${show(actual.slice(at, at + 5))}.`,
  );
}

/** Fails unless offsets are strictly increasing as plain strings. */
export function checkIncreasing(offsets: readonly string[], what: string): void {
  for (let i = 1; i < offsets.length; i++) {
    if (!(offsets[i - 1]! < offsets[i]!)) {
      throw new ConformanceError(`${what}: offset ${i} (${offsets[i]}) is not greater than offset ${i - 1} (${offsets[i - 1]}).`);
    }
  }
}

/** Runs `operation` (a promise or a function, sync or async) and fails unless it throws a DurableSessionError with `code`. */
export async function expectCode(
  operation: Promise<unknown> | (() => unknown),
  code: DurableSessionErrorCode,
  what: string,
): Promise<DurableSessionError> {
  let result: unknown;
  try {
    result = typeof operation === 'function' ? await operation() : await operation;
  } catch (err) {
    if (isDurableSessionError(err)) {
      if (err.code !== code) throw new ConformanceError(`${what}: expected error ${code}, got ${err.code} (${err.message}).`);
      return err;
    }
    throw new ConformanceError(`${what}: expected a DurableSessionError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : show(err)}.`);
  }
  throw new ConformanceError(`${what}: expected error ${code}, but it succeeded with ${show(result)}.`);
}

/** The test key (`data.k`) of events made by {@link ev}; the type for `$end`/`$ack` events. */
export function keyOf(event: SessionEvent): string {
  const data = event.data as { k?: unknown } | null;
  return data !== null && typeof data === 'object' && typeof data.k === 'string' ? data.k : event.type;
}

/** Keys of events. */
export function keys(events: readonly SessionEvent[]): string[] {
  return events.map(keyOf);
}

/** A test event carrying key `k`. */
export function ev(k: string, type = 'token'): { type: string; data: { k: string } } {
  return { type, data: { k } };
}

/** `count` keys `prefix0 … prefixN-1`. */
export function range(prefix: string, count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${start + i}`);
}
