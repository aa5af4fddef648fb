import type { Observable } from 'rxjs';

/** The failure of a conformance assertion or wait. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

/** Polls `condition` every 20 ms until it holds; rejects after `timeoutMs` saying what was awaited. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new ConformanceError(`Timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${cause}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Anything the suite can collect from: an Observable (subscribe) or an async iterator (events). */
export type Source<T> = Observable<T> | AsyncIterable<T>;

function isObservable<T>(source: Source<T>): source is Observable<T> {
  return typeof (source as Observable<T>).subscribe === 'function';
}

/**
 * Collects the first `n` items of a source (or every item until it completes, with `n = Infinity`), then stops it.
 * Rejects when the source fails, or after `timeoutMs` saying how many items had arrived. With `n` finite, a source
 * that completes early resolves with what it delivered (so tests can assert on completion too).
 */
export function collect<T>(source: Source<T>, n: number, timeoutMs: number): Promise<T[]> {
  return later(collectInto(source, n, timeoutMs));
}

/**
 * Marks a promise as handled without changing it: a test that fails before awaiting a promise it started must not
 * crash the process with an unhandled rejection. Awaiting the result still throws.
 */
export function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function collectInto<T>(source: Source<T>, n: number, timeoutMs: number): Promise<T[]> {
  const items: T[] = [];
  if (isObservable(source)) {
    return new Promise<T[]>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => finish(new ConformanceError(`Timed out after ${timeoutMs} ms: collected ${items.length} of ${n} items.`)), timeoutMs);
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        queueMicrotask(() => subscription?.unsubscribe());
        if (err !== undefined) reject(err);
        else resolve(items);
      };
      let subscription: { unsubscribe(): void } | undefined;
      subscription = source.subscribe({
        next(item) {
          if (done) return;
          items.push(item);
          if (items.length >= n) finish();
        },
        error: (err: unknown) => finish(err),
        complete: () => finish(),
      });
      if (done) subscription.unsubscribe();
    });
  }
  const iterator = source[Symbol.asyncIterator]();
  return new Promise<T[]>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      void iterator.return?.();
      reject(new ConformanceError(`Timed out after ${timeoutMs} ms: collected ${items.length} of ${n} items.`));
    }, timeoutMs);
    void (async () => {
      try {
        while (!done && items.length < n) {
          const step = await iterator.next();
          if (step.done || done) break;
          items.push(step.value);
        }
        if (!done) await iterator.return?.();
        if (!done) resolve(items);
      } catch (err) {
        if (!done) reject(err);
      } finally {
        done = true;
        clearTimeout(timer);
      }
    })();
  });
}

/** A live subscription that records what it receives, for tests that act while it runs. */
export interface Recorder<T> {
  /** Items received so far. */
  readonly items: T[];
  /** Whether the source completed. */
  readonly completed: boolean;
  /** The error the source failed with, if it did. */
  readonly error: unknown;
  /** Waits until at least `n` items arrived (rejects early if the source fails or completes short). */
  untilCount(n: number, timeoutMs: number): Promise<T[]>;
  /** Waits until the source completes; rejects if it fails. */
  untilComplete(timeoutMs: number): Promise<T[]>;
  /** Waits until the source fails, resolving with the error. */
  untilError(timeoutMs: number): Promise<unknown>;
  /** Stops the subscription. */
  stop(): void;
}

/** Subscribes to `source` and records everything it delivers. */
export function record<T>(source: Observable<T>): Recorder<T> {
  const items: T[] = [];
  let completed = false;
  let error: unknown;
  let failed = false;
  const subscription = source.subscribe({
    next: (item) => void items.push(item),
    error: (err: unknown) => {
      failed = true;
      error = err;
    },
    complete: () => void (completed = true),
  });
  const recorder: Recorder<T> = {
    items,
    get completed() {
      return completed;
    },
    get error() {
      return error;
    },
    async untilCount(n, timeoutMs) {
      await waitFor(
        () => {
          if (failed) throw error;
          if (items.length < n && completed) throw new ConformanceError(`The subscription completed after ${items.length} of ${n} items.`);
          return items.length >= n;
        },
        timeoutMs,
        () => `${n} items (have ${items.length})`,
      ).catch((err: unknown) => Promise.reject(failed ? error : err));
      return items;
    },
    async untilComplete(timeoutMs) {
      await waitFor(() => completed || failed, timeoutMs, () => `completion (have ${items.length} items)`);
      if (failed) throw error;
      return items;
    },
    async untilError(timeoutMs) {
      await waitFor(() => completed || failed, timeoutMs, 'an error');
      if (!failed) throw new ConformanceError(`Expected the subscription to fail; it completed after ${items.length} items.`);
      return error;
    },
    stop: () => subscription.unsubscribe(),
  };
  return recorder;
}
