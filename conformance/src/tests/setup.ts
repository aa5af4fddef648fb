import { check, ev } from '../suite/assert.js';
import { ConformanceError } from '../suite/helpers.js';
import { defineTests } from './util.js';

/** Checks of the target itself, so a mis-wired test file fails with a clear message instead of dozens of odd ones. */
export const setupTests = defineTests([
  {
    id: 'setup.connections-share-data',
    title: 'Stores from two target.connect() calls reach the same data, as two processes on one server do',
    clauses: ['C5'],
    async run(ctx) {
      const a = await ctx.connect();
      const b = await ctx.connect();
      check(a !== b, 'target.connect() returned the same store twice');
      const id = ctx.sessionId();
      const offset = await a.session(id).append(ev('shared'));
      const info = await b.session(id).info();
      if (info.lastOffset !== offset) {
        throw new ConformanceError(
          'A second store does not see what the first appended: target.connect() must reach shared data (for an in-process ' +
            'backend, build one instance and hand every store a view of it, e.g. sharedMemory(name) or { ...backend, close: async () => {} }).',
        );
      }
    },
  },
  {
    id: 'setup.store-options-honoured',
    title: 'target.connect(options) honours clientId and presence timing',
    clauses: ['C18'],
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'conformance-client', presence: { timeoutMs: 1_500, heartbeatMs: 300, pollMs: 100 } });
      check(store.clientId === 'conformance-client', `store.clientId is ${String(store.clientId)}; target.connect must pass options through`);
    },
  },
]);
