import { connect, type Capabilities, type DurableSession, type SessionStore, type StoreOptions } from '@durable-sessions/core';
import type { ConformanceTarget } from '../target.js';
import { crashable } from './crash.js';
import { ConformanceError, waitFor } from './helpers.js';
import type { CrashableStore, TestContext } from './types.js';

/** A random, plain (`[a-z0-9]`) token. */
export function randomToken(length = 8): string {
  let out = '';
  while (out.length < length) out += Math.random().toString(36).slice(2);
  return out.slice(0, length);
}

/** The session-id prefix of a run: the target's, or a random one so concurrent runs never share a session. */
export function runPrefix(target: ConformanceTarget): string {
  return target.sessionPrefix ?? `cf-${randomToken(6)}`;
}

/** Scales a base duration by the target's time scale. */
export function scaled(target: ConformanceTarget, base: number): number {
  return Math.ceil(base * Math.max(0.1, target.timeScale ?? 1));
}

/** A test context plus what the runner needs to finish it. */
export interface ManagedContext extends TestContext {
  /** Session ids the test used, for failure reports. */
  readonly sessions: readonly string[];
  /** Runs deferred cleanups and closes every store the test opened. */
  dispose(): Promise<void>;
  /** Aborts the context's signal. */
  abort(reason?: unknown): void;
}

let counter = 0;

/** Creates the context of one test run. */
export function createContext(target: ConformanceTarget, capabilities: Capabilities, prefix: string, testId: string): ManagedContext {
  const stores: SessionStore[] = [];
  const cleanups: Array<() => unknown> = [];
  const sessions: string[] = [];
  const ac = new AbortController();
  const slug = testId.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40);
  const ms = (base: number) => scaled(target, base);

  const context: ManagedContext = {
    target,
    capabilities,
    signal: ac.signal,
    sessions,
    ms,
    async connect(options?: StoreOptions) {
      const store = await target.connect(options);
      stores.push(store);
      return store;
    },
    async connectCrashable(options?: StoreOptions): Promise<CrashableStore> {
      if (!target.backend) throw new ConformanceError('connectCrashable needs target.backend.');
      const wrapped = crashable(await target.backend(options));
      const store = await connect({ ...(options ?? {}), backend: wrapped.backend });
      stores.push(store);
      return { store, crash: () => wrapped.crash() };
    },
    sessionId(suffix = '') {
      const id = `${prefix}-${slug}-${(++counter).toString(36)}${randomToken(4)}${suffix}`;
      sessions.push(id);
      return id;
    },
    session(store: SessionStore, suffix?: string): DurableSession {
      return store.session(context.sessionId(suffix));
    },
    note(sessionId: string) {
      sessions.push(sessionId);
    },
    waitFor(condition, what, timeoutMs = 10_000) {
      return waitFor(condition, ms(timeoutMs), what);
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    abort(reason) {
      ac.abort(reason);
    },
    async dispose() {
      ac.abort();
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch {
          // Cleanup failures must not hide the test's own result.
        }
      }
      await Promise.allSettled(stores.map((s) => withTimeout(s.close(), ms(10_000))));
    },
  };
  return context;
}

/** Resolves with `promise`, or rejects with a ConformanceError after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ConformanceError(`${what} timed out after ${ms} ms.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
