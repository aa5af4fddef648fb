/**
 * The fault tests need a server to restart, which the memory backend lacks. Here a wrapper plays one: `restart`
 * refuses every call for a moment and fails live tails, `dropConnections` fails live tails and loses the replies
 * of the next appends (stored, but unacknowledged: the case idempotent retries exist for). The fault tests must pass
 * against it, and must fail when the writer is not allowed to retry.
 */
import { connect, DurableSessionError, type Backend, type StoreOptions, type TailListener } from '@durable-sessions/core';
import { memory } from '@durable-sessions/memory';
import { describe, expect, it } from 'vitest';
import { runConformance, type ConformanceTarget } from '../src/index.js';

function flakyServer(options: { dedupe?: boolean } = {}) {
  const inner = memory();
  let down = false;
  let lostReplies = 0;
  const tails = new Set<{ stop: () => void; listener: TailListener }>();
  const unavailable = () => new DurableSessionError('BACKEND_UNAVAILABLE', 'connection lost (simulated)', { backend: 'flaky-memory' });
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    if (down) throw unavailable();
    return call();
  };
  const cutTails = () => {
    for (const tail of [...tails]) {
      tails.delete(tail);
      tail.stop();
      queueMicrotask(() => tail.listener.error(unavailable()));
    }
  };
  const backend: Backend = {
    name: 'flaky-memory',
    capabilities: { ...inner.capabilities, durable: true },
    presence: inner.presence!,
    append: (log, request) =>
      guard(async () => {
        const result = await inner.append(log, options.dedupe === false ? { ...request, producer: undefined } : request);
        if (lostReplies > 0) {
          lostReplies--;
          throw unavailable();
        }
        return result;
      }),
    read: (log, after, limit) => guard(() => inner.read(log, after, limit)),
    info: (log) => guard(() => inner.info(log)),
    tail: (log, after, listener) => {
      if (down) {
        queueMicrotask(() => listener.error(unavailable()));
        return () => {};
      }
      const entry = { stop: inner.tail(log, after, listener), listener };
      tails.add(entry);
      return () => {
        tails.delete(entry);
        entry.stop();
      };
    },
    close: async () => {},
  };
  return {
    backend,
    async restart() {
      down = true;
      cutTails();
      await new Promise((resolve) => setTimeout(resolve, 300));
      down = false;
    },
    async dropConnections() {
      cutTails();
      lostReplies = 3;
    },
  };
}

function flakyTarget(server = flakyServer(), storeDefaults: StoreOptions = {}): ConformanceTarget {
  return {
    name: 'flaky-memory',
    connect: (options = {}) => connect({ ...storeDefaults, ...options, backend: server.backend }),
    faults: { restart: () => server.restart(), dropConnections: () => server.dropConnections() },
  };
}

describe('the fault tests', () => {
  it('pass against a backend that restarts and drops connections correctly', async () => {
    const report = await runConformance(flakyTarget(), { filter: (t) => (t.tags ?? []).includes('fault') });
    expect(report.results.map((r) => `${r.id}: ${r.status}${r.error ? ` ${r.error}` : ''}`)).toEqual(report.results.map((r) => `${r.id}: passed`));
    expect(report.results.length).toBeGreaterThanOrEqual(4);
  });

  it('fail when retried appends are stored twice (no producer de-duplication)', async () => {
    const report = await runConformance(flakyTarget(flakyServer({ dedupe: false })), { filter: 'faults.writer-retries-exactly-once' });
    expect(report.results[0]?.status).toBe('failed');
    expect(report.results[0]?.error).toMatch(/duplicated [1-9]/);
  });
});
