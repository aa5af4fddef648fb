/**
 * The suite's own tests: a conformance test that cannot fail proves nothing, so each mutant below breaks one
 * promise of the contract in a copy of the memory adapter, and the tests that guard that promise must fail.
 */
import { connect, type Backend, type RetentionOptions, type StoreOptions } from '@durable-sessions/core';
import { memory } from '@durable-sessions/memory';
import { describe, expect, it } from 'vitest';
import { formatReport, runConformance, type ConformanceTarget } from '../src/index.js';

type Mutation = (backend: Backend) => Backend;

/** A target whose every store shares one (mutated) memory backend per retention setting. */
function target(name: string, mutate: Mutation = (b) => b): ConformanceTarget {
  const servers = new Map<string, Backend>();
  const server = (retention?: RetentionOptions) => {
    const key = JSON.stringify(retention ?? {});
    let backend = servers.get(key);
    if (!backend) servers.set(key, (backend = mutate(memory({ retention }))));
    return { ...backend, close: async () => {} };
  };
  return {
    name,
    // Retention belongs to the backend instance: it goes to the factory, never to connect() beside an instance.
    connect: ({ retention, ...options }: StoreOptions = {}) => connect({ ...options, backend: server(retention) }),
    backend: (options) => server(options?.retention),
    timeScale: 0.5,
  };
}

const mutants: Array<{ name: string; mutate: Mutation; mustFail: string[] }> = [
  {
    name: 'a tail that drops every 4th record',
    mutate: (b) => ({
      ...b,
      tail: (log, after, listener) => {
        let n = 0;
        return b.tail(log, after, { ...listener, next: (entries) => listener.next(entries.filter(() => ++n % 4 !== 0)) });
      },
    }),
    mustFail: ['subscribe.from-now', 'end.live-subscriber-completes'],
  },
  {
    name: 'a read that skips the first record after an offset',
    mutate: (b) => ({ ...b, read: async (log, after, limit) => (await b.read(log, after, limit + 1)).slice(after === null ? 0 : 1, (after === null ? 0 : 1) + limit) }),
    mustFail: ['subscribe.from-offset-strictly-after', 'read.pages-chain-with-next', 'subscribe.small-pages'],
  },
  {
    name: 'an append that ignores producer stamps',
    mutate: (b) => ({ ...b, append: (log, request) => b.append(log, { records: request.records, ...(request.end ? { end: true } : {}) }) }),
    mustFail: ['idempotency.retry-returns-same-offsets', 'idempotency.sequence-gap', 'idempotency.stale-producer'],
  },
  {
    name: 'an append that forgets the end flag',
    mutate: (b) => ({ ...b, append: (log, request) => b.append(log, { records: request.records, ...(request.producer ? { producer: request.producer } : {}) }) }),
    mustFail: ['end.append-after-end-refused', 'end.end-twice-refused', 'end.info-and-read-flags'],
  },
  {
    name: 'presence keyed by nothing (every session shares one set)',
    mutate: (b) => {
      const p = b.presence!;
      const one = { sessionId: 'all', key: 'all' };
      return { ...b, presence: { put: (_r, e) => p.put(one, e), remove: (_r, id) => p.remove(one, id), list: () => p.list(one) } };
    },
    mustFail: ['isolation.control-and-presence'],
  },
  {
    name: 'logs keyed by a case-folded key',
    mutate: (b) => {
      const fold = <T extends { key: string }>(ref: T): T => ({ ...ref, key: ref.key.toLowerCase() });
      return { ...b, append: (l, r) => b.append(fold(l), r), read: (l, a, n) => b.read(fold(l), a, n), info: (l) => b.info(fold(l)), tail: (l, a, li) => b.tail(fold(l), a, li) };
    },
    mustFail: ['isolation.case-sensitive'],
  },
  {
    name: 'a backend that hides trimming (no watermark, no OFFSET_TRIMMED)',
    mutate: (b) => ({
      ...b,
      info: async (log) => ({ ...(await b.info(log)), trimmedThrough: null }),
      read: (log, after, limit) => b.read(log, null, 10_000).then((all) => all.filter((e) => after === null || e.offset > after).slice(0, limit)),
    }),
    mustFail: ['retention.trimmed-offset-fails-loudly'],
  },
  {
    name: 'presence that never expires members',
    mutate: (b) => {
      const p = b.presence!;
      return { ...b, presence: { ...p, watch: p.watch!.bind(p), put: (r, e) => p.put(r, { ...e, expiresAt: e.expiresAt + 3_600_000 }) } };
    },
    mustFail: ['presence.silent-close-times-out', 'presence.crashed-member-times-out'],
  },
];

describe('the conformance suite', () => {
  it('passes on the unmutated memory backend and formats a report ending with the totals', async () => {
    const ids = [...new Set(mutants.flatMap((m) => m.mustFail))];
    const report = await runConformance(target('memory'), { filter: (t) => ids.includes(t.id) });
    const failed = report.results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => `${r.id}: ${r.error}`)).toEqual([]);
    expect(report.totals.passed).toBe(ids.length);
    const text = formatReport(report);
    expect(text.split('\n').pop()).toBe(`${ids.length} passed, 0 failed, 0 skipped`);
  });

  for (const mutant of mutants) {
    it(`catches ${mutant.name}`, async () => {
      const report = await runConformance(target(mutant.name, mutant.mutate), { filter: (t) => mutant.mustFail.includes(t.id) });
      const byId = new Map(report.results.map((r) => [r.id, r]));
      for (const id of mutant.mustFail) expect(byId.get(id)?.status, `${id} should fail against ${mutant.name}`).toBe('failed');
      const error = report.results.find((r) => r.status === 'failed')?.error ?? '';
      expect(error).toContain('sessions:');
    });
  }

  it('reports skips with their reason, and target skips by id', async () => {
    const base = target('memory');
    const report = await runConformance({ ...base, skip: { 'offsets.strictly-increasing': 'known issue #1' } }, { filter: ['offsets.strictly-increasing', 'fault'] });
    const skipped = Object.fromEntries(report.results.map((r) => [r.id, r.reason]));
    expect(skipped['offsets.strictly-increasing']).toBe('skipped by the target: known issue #1');
    expect(skipped['faults.read-after-restart']).toBe('no restart hook');
    expect(formatReport(report).split('\n').pop()).toBe(`0 passed, 0 failed, ${report.results.length} skipped`);
  });
});
