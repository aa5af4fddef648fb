import { DurableSessionError } from '@durable-sessions/core';
import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';
import type { RedisClientLike } from './tcp-transport.js';

/** Where the raw replay delivers each entry: a module-level store, so the per-entry work cannot be optimised away. */
let delivered: unknown;
function sink(value: unknown): void {
  delivered = value;
}

/** Entries per XRANGE page while replaying: the CLI's store side pages with the same size. */
const PAGE = 1_000;
const LOG_NAME = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The raw-client baseline for `durable-sessions bench redis://…`: node-redis alone, doing what an application would
 * do without Durable Sessions — XADD (sequential, or pipelined per batch), XRANGE paging, and one XREAD BLOCK
 * follower on its own connection. Keys live under `dsbench:` so they never collide with the store side.
 */
export const createBaseline: BaselineFactory = async (url: string): Promise<RawBaseline> => {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new DurableSessionError('CONFIG_INVALID', `The redis baseline needs a redis:// or rediss:// URL (the REST transport has no raw baseline), got ${JSON.stringify(url)}.`, { backend: 'redis' });
  }
  // DS_BENCH_RAW_PARSE=1: the raw replay also JSON.parses every payload, as an application must before it can use
  // an event. The plain pager (the default) only hands each entry's fields to a callback.
  const parse = process.env.DS_BENCH_RAW_PARSE === '1';
  const consume = parse ? (fields: string[]) => void sink(JSON.parse(fields[1]!)) : sink;
  const { createClient } = await import('redis');
  const client = createClient({ url, RESP: 2 }) as unknown as RedisClientLike;
  client.on('error', () => {});
  await client.connect();
  const followers = new Set<RedisClientLike>();
  // Ids of what this baseline appended, so "skip N" is one lookup instead of reading N entries.
  const ids = new Map<string, string[]>();
  const key = (log: string): string => {
    if (!LOG_NAME.test(log)) throw new DurableSessionError('INVALID_SESSION_ID', `Baseline log names must match ${LOG_NAME}.`, { backend: 'redis' });
    return `dsbench:${log}`;
  };
  const remember = (log: string, added: unknown[]) => {
    let list = ids.get(log);
    if (!list) ids.set(log, (list = []));
    for (const id of added) list.push(String(id));
  };

  return {
    name: `raw node-redis: XADD / pipelined XADD / XRANGE paging${parse ? ' + JSON.parse' : ''} / XREAD BLOCK`,
    async appendEach(log, payloads) {
      const k = key(log);
      const added: unknown[] = [];
      for (const payload of payloads) added.push(await client.sendCommand(['XADD', k, '*', 'd', payload]));
      remember(log, added);
    },
    async appendBatches(log, payloads, batchSize) {
      const k = key(log);
      for (let i = 0; i < payloads.length; i += batchSize) {
        // Commands issued in one tick leave in one write: node-redis pipelines them.
        const batch = payloads.slice(i, i + batchSize).map((payload) => client.sendCommand(['XADD', k, '*', 'd', payload]));
        remember(log, await Promise.all(batch));
      }
    },
    async replay(log, skip) {
      const k = key(log);
      let after: string | undefined;
      if (skip > 0) {
        after = ids.get(log)?.[skip - 1];
        if (after === undefined) {
          const head = (await client.sendCommand(['XRANGE', k, '-', '+', 'COUNT', String(skip)])) as Array<[string, unknown]>;
          after = head[head.length - 1]?.[0];
        }
      }
      let count = 0;
      for (;;) {
        const page = (await client.sendCommand(['XRANGE', k, after === undefined ? '-' : `(${after}`, '+', 'COUNT', String(PAGE)])) as Array<[string, string[]]>;
        for (let i = 0; i < page.length; i++) consume(page[i]![1]);
        count += page.length;
        if (page.length < PAGE) return count;
        after = page[page.length - 1]![0];
      }
    },
    async follow(log, onPayload) {
      const k = key(log);
      const last = (await client.sendCommand(['XREVRANGE', k, '+', '-', 'COUNT', '1'])) as Array<[string, unknown]>;
      let cursor = last[0]?.[0] ?? '0-0';
      const conn = client.duplicate();
      conn.on('error', () => {});
      await conn.connect();
      followers.add(conn);
      let stopped = false;
      let failure: unknown;
      const loop = (async () => {
        while (!stopped) {
          try {
            const reply = (await conn.sendCommand(['XREAD', 'COUNT', String(PAGE), 'BLOCK', '0', 'STREAMS', k, cursor])) as Array<[string, Array<[string, string[]]>]> | null;
            for (const [, entries] of reply ?? []) {
              for (const [id, fields] of entries) {
                cursor = id;
                onPayload(fields[1]!);
              }
            }
          } catch (err) {
            if (!stopped) failure = err;
            return;
          }
        }
      })();
      return async () => {
        stopped = true;
        followers.delete(conn);
        conn.destroy();
        await loop;
        if (failure !== undefined) throw failure;
      };
    },
    async close() {
      for (const conn of followers) conn.destroy();
      followers.clear();
      await client.close();
    },
  };
};
