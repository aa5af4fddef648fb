import {
  DurableSessionError,
  type Backend,
  type BackendEntry,
  type Capabilities,
  type LogRef,
} from '@durable-sessions/core';
import { idToOffset, logKeys, offsetToId } from './keys.js';
import { NotifyTailHub } from './notify-tail.js';
import { Notifications } from './notifications.js';
import { checkRetention, positiveInt, resolveTarget, type RedisOptions } from './options.js';
import { RedisPresence } from './presence.js';
import { APPEND, INFO, READ } from './scripts.js';
import { toEntries, toPage } from './tail-common.js';
import { BUFFER_REPLIES, TcpTransport } from './tcp-transport.js';
import type { Transport } from './transport.js';
import { UpstashTransport } from './upstash-transport.js';
import { XreadHub } from './xread-tail.js';

const NAME = 'redis';

/**
 * The Redis backend: each session log is a Redis Stream, every write is one Lua script (producer check, XADDs,
 * end flag, retention, wake-up notification, atomically), and live tails share a few connections. Works over TCP
 * (node-redis: self-hosted Redis, managed Redis, Upstash's TCP endpoint) and over REST (@upstash/redis).
 */
export function redis(options: RedisOptions = {}): Backend {
  const target = resolveTarget(options);
  const retention = checkRetention(options.retention);
  const prefix = options.keyPrefix ?? 'ds';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new DurableSessionError('CONFIG_INVALID', 'keyPrefix must be 1–64 characters of [A-Za-z0-9_.-].', { backend: NAME });
  }
  const capabilities: Capabilities = {
    durable: true,
    idempotentAppend: true,
    atomicBatch: true,
    atomicEnd: true,
    presence: 'emulated',
    maxPayloadBytes: positiveInt(options.maxPayloadBytes, 1024 * 1024, 'maxPayloadBytes'),
    maxBatchSize: positiveInt(options.maxBatchSize, 1_000, 'maxBatchSize'),
    retention: { maxAge: true, maxEvents: true },
    detectsTrimmedOffsets: true,
  };
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
  const maxEvents = String(retention.maxEvents ?? 0);
  const maxAge = String(retention.maxAgeMs ?? 0);

  let transport: Transport;
  let tcp: TcpTransport | undefined;
  if (target.transport === 'tcp') {
    transport = tcp = new TcpTransport({
      name: NAME,
      ...('url' in target && target.url ? { url: target.url } : {}),
      ...('cluster' in target && target.cluster !== true ? { cluster: target.cluster } : {}),
      ...(target.client ? { client: target.client } : {}),
      ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}),
      connectTimeoutMs,
    });
  } else {
    transport = new UpstashTransport({
      name: NAME,
      url: target.url!,
      token: target.token!,
      ...(target.client ? { client: target.client } : {}),
      ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}),
    });
  }
  // Connect now rather than on the first operation: `connect()` callers expect a ready store, and the first append
  // should not pay the TCP and handshake round trips. Failures surface (typed) on the first operation instead.
  tcp?.connection().catch(() => {});
  const notifications = new Notifications(transport);
  let closed = false;

  const call = async <T>(operation: () => Promise<T>): Promise<T> => {
    if (closed) throw new DurableSessionError('CLOSED', 'The redis backend is closed.', { backend: NAME });
    try {
      return await operation();
    } catch (err) {
      throw transport.mapError(err);
    }
  };

  const read = async (log: LogRef, after: string | null, limit: number): Promise<BackendEntry[]> => {
    const keys = logKeys(log, prefix);
    const from = after === null ? '' : offsetToId(after);
    if (tcp && maxAge === '0') return readPipelined(tcp, keys.stream, keys.meta, after, from, limit);
    const reply = await call(() => transport.evalScript(READ, [keys.stream, keys.meta], [from, String(limit), maxAge]));
    return toEntries(reply);
  };

  /**
   * The TCP read path without Lua: a script copies every entry into Lua tables and back, which made replay 2–4×
   * slower than raw XRANGE. XRANGE and the watermark are pipelined instead (one round trip, not atomic), and the
   * watermark is judged against the page itself: entries trimmed after the XRANGE ran are in the page, so only a
   * page that starts beyond the watermark (or is empty) proves that entries after `after` are gone. Retention by age
   * trims on read, so that case keeps the script.
   */
  const readPipelined = async (transportTcp: TcpTransport, stream: string, meta: string, after: string | null, from: string, limit: number) => {
    const [page, mark] = await call(() =>
      transportTcp.pipeline([
        ['XRANGE', stream, from === '' ? '-' : `(${from}`, '+', 'COUNT', String(limit)],
        ['HGET', meta, 't'],
      ], stream, [BUFFER_REPLIES]),
    );
    const entries = toPage(page);
    if (after !== null && mark) {
      const trimmedThrough = idToOffset(String(mark));
      if (after < trimmedThrough && (entries.length === 0 || entries[0]!.offset > trimmedThrough)) {
        throw new DurableSessionError('OFFSET_TRIMMED', 'Events after this offset were removed by retention.', { backend: NAME });
      }
    }
    return entries;
  };

  // A cluster refuses XREAD over keys of different slots (CROSSSLOT), even on one node, so the XREAD multiplexer
  // cannot serve it: there tails wake on the notifications the append script publishes, as over REST.
  const xread = tcp && !tcp.isCluster
    ? new XreadHub(tcp, {
        connections: positiveInt(options.tailConnections, 1, 'tailConnections'),
        blockMs: positiveInt(options.tailBlockMs, 2_000, 'tailBlockMs'),
        checkTrim: retention.maxEvents !== undefined || retention.maxAgeMs !== undefined,
        prefix,
        name: NAME,
      })
    : undefined;
  const notifyTails = xread ? undefined : new NotifyTailHub(notifications, read, prefix, NAME);

  return {
    name: NAME,
    capabilities,
    presence: new RedisPresence(transport, notifications, prefix, call),
    async append(log, request) {
      const keys = logKeys(log, prefix);
      const { producer } = request;
      const args = [
        request.end ? '1' : '0',
        producer ? producer.id : '',
        producer ? String(producer.epoch) : '0',
        producer ? String(producer.seq) : '0',
        maxEvents,
        maxAge,
        keys.channel,
        keys.message,
        ...request.records,
      ];
      const reply = (await call(() => transport.evalScript(APPEND, [keys.stream, keys.meta], args))) as unknown[];
      const offsets = reply.slice(1).map((id) => idToOffset(String(id)));
      return String(reply[0]) === 'D' ? { offsets, duplicate: true } : { offsets };
    },
    read,
    async info(log) {
      const keys = logKeys(log, prefix);
      const [last, ended, trimmed] = (await call(() => transport.evalScript(INFO, [keys.stream, keys.meta], [maxAge]))) as [unknown, unknown, unknown];
      return {
        last: last ? idToOffset(String(last)) : null,
        ended: Number(ended) === 1,
        trimmedThrough: trimmed ? idToOffset(String(trimmed)) : null,
      };
    },
    tail(log, after, listener) {
      if (closed) {
        queueMicrotask(() => listener.error(new DurableSessionError('CLOSED', 'The redis backend is closed.', { backend: NAME })));
        return () => {};
      }
      return xread ? xread.tail(log, after, listener) : notifyTails!.tail(log, after, listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      const err = new DurableSessionError('CLOSED', 'The redis backend was closed.', { backend: NAME });
      notifyTails?.closeAll(err);
      await xread?.close(err);
      await transport.close();
    },
  };
}
