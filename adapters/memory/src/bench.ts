import { DurableSessionError, type Backend, type LogRef } from '@durable-sessions/core';
import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';
import { memory } from './index.js';

/** Records per read while replaying; the CLI's store side replays with the same page size. */
const PAGE = 1_000;
/**
 * Width of the memory log's zero-padded offsets (see memory-log.ts): the baseline is part of this adapter, so it
 * may turn "skip N events" into "read after offset N" the way the raw backend numbers its records.
 */
const OFFSET_WIDTH = 16;
const LOG_NAME = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The raw-client baseline of the embedded backend for `durable-sessions bench memory:`: the `memory()` backend's
 * own `append`/`read`/`tail` called directly, with none of the core (validation, encoding, offset tagging,
 * replay-then-live) in between. It uses its own private instance, whatever the URL names.
 */
export const createBaseline: BaselineFactory = async (url: string): Promise<RawBaseline> => {
  if (!/^memory:/i.test(url)) {
    throw new DurableSessionError('CONFIG_INVALID', `The memory baseline needs a memory: URL, got ${JSON.stringify(url)}.`, { backend: 'memory' });
  }
  const backend: Backend = memory();
  const ref = (log: string): LogRef => {
    if (!LOG_NAME.test(log)) {
      throw new DurableSessionError('INVALID_SESSION_ID', `Baseline log names must match ${LOG_NAME}.`, { backend: 'memory' });
    }
    return { sessionId: log, key: log, kind: 'events' };
  };

  return {
    name: 'raw memory() backend: append/read/tail',
    async appendEach(log, payloads) {
      const target = ref(log);
      for (const payload of payloads) await backend.append(target, { records: [payload] });
    },
    async appendBatches(log, payloads, batchSize) {
      const target = ref(log);
      for (let i = 0; i < payloads.length; i += batchSize) {
        await backend.append(target, { records: payloads.slice(i, i + batchSize) });
      }
    },
    async replay(log, skip) {
      const target = ref(log);
      let after: string | null = skip > 0 ? String(skip).padStart(OFFSET_WIDTH, '0') : null;
      let count = 0;
      for (;;) {
        const page = await backend.read(target, after, PAGE);
        count += page.length;
        if (page.length < PAGE) return count;
        after = page[page.length - 1]!.offset;
      }
    },
    async follow(log, onPayload) {
      const target = ref(log);
      const { last } = await backend.info(target);
      let failure: unknown;
      const stop = backend.tail(target, last, {
        next(entries) {
          for (const entry of entries) onPayload(entry.payload);
        },
        error(err) {
          failure = err;
        },
      });
      return async () => {
        stop();
        if (failure !== undefined) throw failure;
      };
    },
    close: () => backend.close(),
  };
};
