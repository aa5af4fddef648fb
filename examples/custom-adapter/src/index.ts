import {
  advanceProducer,
  checkProducer,
  DurableSessionError,
  padNumber,
  type Backend,
  type BackendEntry,
  type Capabilities,
  type ProducerState,
} from '@durable-sessions/core';

/**
 * Stands in for any store that can only be queried, never pushed from (a SQL table, an object store): rows of
 * (log, seq, payload). Written from docs/writing-an-adapter.md alone, to show that the docs suffice.
 */
interface Table {
  rows: Map<string, string[]>;
  ended: Set<string>;
  producers: Map<string, ProducerState>;
}

/** Options of the polling example backend. */
export interface PollingOptions {
  /** How often a tail polls for new rows. @default 5 */
  pollMs?: number;
}

const NAME = 'polling-example';

/** A backend with no push at all: tails poll `read`. Honest capabilities: no presence, no retention. */
export function pollingBackend(options: PollingOptions = {}): Backend {
  const pollMs = options.pollMs ?? 5;
  const table: Table = { rows: new Map(), ended: new Set(), producers: new Map() };
  const timers = new Set<ReturnType<typeof setInterval>>();
  const capabilities: Capabilities = {
    durable: false,
    idempotentAppend: true,
    atomicBatch: true,
    atomicEnd: true,
    presence: 'none',
    maxPayloadBytes: 64 * 1024,
    maxBatchSize: 100,
    retention: { maxAge: false, maxEvents: false },
    detectsTrimmedOffsets: false,
  };
  // Offsets are 1-based row numbers, 12 digits wide so they sort as strings.
  const offsetOf = (index: number) => padNumber(index + 1, 12);
  const rowsAfter = (rows: string[], after: string | null, limit: number): BackendEntry[] => {
    const start = after === null ? 0 : Number(after);
    return rows.slice(start, start + limit).map((payload, i) => ({ offset: offsetOf(start + i), payload }));
  };
  const logId = (log: { kind: string; key: string }) => `${log.kind}/${log.key}`;

  return {
    name: NAME,
    capabilities,
    async append(log, request) {
      const id = logId(log);
      if (table.ended.has(id)) throw new DurableSessionError('SESSION_ENDED', 'The session has ended.', { backend: NAME });
      const producerKey = request.producer ? `${id}/${request.producer.id}` : undefined;
      const state = producerKey ? table.producers.get(producerKey) : undefined;
      if (request.producer) {
        const verdict = checkProducer(state, request.producer);
        if (verdict.action === 'duplicate') return { offsets: verdict.offsets, duplicate: true };
      }
      const rows = table.rows.get(id) ?? [];
      table.rows.set(id, rows);
      const offsets = request.records.map((payload) => offsetOf(rows.push(payload) - 1));
      if (request.producer) table.producers.set(producerKey!, advanceProducer(state, request.producer, offsets));
      if (request.end) table.ended.add(id);
      return { offsets };
    },
    async read(log, after, limit) {
      return rowsAfter(table.rows.get(logId(log)) ?? [], after, limit);
    },
    async info(log) {
      const rows = table.rows.get(logId(log)) ?? [];
      return { last: rows.length ? offsetOf(rows.length - 1) : null, ended: table.ended.has(logId(log)), trimmedThrough: null };
    },
    tail(log, after, listener) {
      let cursor = after;
      const poll = () => {
        const entries = rowsAfter(table.rows.get(logId(log)) ?? [], cursor, 500);
        if (entries.length === 0) return;
        cursor = entries[entries.length - 1]!.offset;
        listener.next(entries);
      };
      const timer = setInterval(poll, pollMs);
      timers.add(timer);
      poll();
      return () => {
        clearInterval(timer);
        timers.delete(timer);
      };
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
    },
  };
}
