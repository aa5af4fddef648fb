import { randomUUID } from 'node:crypto';
import {
  checkProducer,
  DurableSessionError,
  type Backend,
  type BackendAppendRequest,
  type BackendAppendResult,
  type BackendEntry,
  type BackendLogInfo,
  type BackendPresence,
  type Capabilities,
  type LogRef,
  type PresenceRef,
  type TailListener,
} from '@durable-sessions/core';
import type { Admin, IHeaders, Kafka, Producer } from 'kafkajs';
import { kafkaError, NAME } from './errors.js';
import { Feed, type FeedRecord, type Party } from './feed.js';
import { decodeOffset, encodeOffset } from './offsets.js';
import type { ResolvedOptions } from './options.js';
import { partitionFor } from './partitioner.js';
import { ensureTopics, settle } from './topics.js';
import { encodePresence, END_HEADER, LogView, PRODUCER_HEADER, PresenceView } from './views.js';

/** Logs whose read-ahead is kept, and records kept per log. */
const READ_AHEAD_LOGS = 64;
const READ_AHEAD_RECORDS = 10_000;

/** Records of one log fetched past a page's limit: `entries` follow `after` and are complete below Kafka offset `end`. */
interface ReadAhead {
  after: string;
  entries: BackendEntry[];
  end: number;
}

/** Everything the backend needs once connected. */
interface Connected {
  admin: Admin;
  producer: Producer;
  feed: Feed;
  partitions: Map<string, number>;
}

/** What the backend guarantees with these options. */
export function kafkaCapabilities(options: ResolvedOptions): Capabilities {
  return {
    durable: true,
    idempotentAppend: true,
    atomicBatch: true,
    // The end and producer checks read the log, then write: a writer in another process can slip in between.
    atomicEnd: false,
    presence: 'emulated',
    maxPayloadBytes: options.maxPayloadBytes,
    maxBatchSize: options.maxBatchSize,
    // Topic retention is shared, segment-granular and checked every few minutes: not a per-session guarantee.
    retention: { maxAge: false, maxEvents: false },
    detectsTrimmedOffsets: false,
  };
}

/**
 * The backend over kafkajs. `client` is called on first use (it loads kafkajs or returns the user's instance),
 * so building a backend does no I/O.
 */
export function kafkaBackend(client: () => Promise<Kafka>, options: ResolvedOptions): Backend {
  const capabilities = kafkaCapabilities(options);
  let connecting: Promise<Connected> | undefined;
  let closed = false;
  const views = new Map<string, Promise<LogView | PresenceView>>();
  const locks = new Map<string, Promise<unknown>>();
  const tails = new Set<{ fail(err: unknown): void }>();

  const assertOpen = () => {
    if (closed) throw new DurableSessionError('CLOSED', 'The Kafka backend is closed.', { backend: NAME });
  };

  const connect = (): Promise<Connected> => {
    assertOpen();
    connecting ??= (async () => {
      const kafka = await client();
      const admin = kafka.admin();
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Every message names its partition (murmur2 of the session key, computed here); kafkajs leaves honouring
        // it to the partitioner.
        createPartitioner: () => ({ message }) => message.partition ?? 0,
        retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
      });
      try {
        await admin.connect();
        const partitions = await ensureTopics(admin, options);
        await producer.connect();
        const groupId = `${options.clientId}-${randomUUID()}`;
        const wakeTopic = options.topics.wake;
        const wakePartitions = partitions.get(wakeTopic) ?? options.partitions;
        const wakePartition = partitionFor(groupId, wakePartitions);
        const feed = new Feed(kafka, admin, {
          groupId,
          topics: [options.topics.events, options.topics.control, options.topics.presence, wakeTopic],
          fetchWaitMs: options.fetchWaitMs,
          wakeTopic,
          wakePartition,
          wakePartitions,
          wake: async () => {
            if (!closed) await producer.send({ topic: wakeTopic, messages: [{ value: '', partition: wakePartition }] });
          },
          lowOf: async (topic, partition) => (await offsetsOf(admin, topic, partition)).low,
        });
        await feed.whenReady();
        return { admin, producer, feed, partitions };
      } catch (err) {
        await producer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        throw kafkaError(err, 'Connecting');
      }
    })();
    // A failed connect is retried by the next operation instead of being cached forever.
    connecting.catch(() => (connecting = undefined));
    return connecting;
  };

  const topicOf = (log: LogRef) => (log.kind === 'events' ? options.topics.events : options.topics.control);

  const partitionOf = (c: Connected, topic: string, key: string) => partitionFor(key, c.partitions.get(topic) ?? options.partitions);

  /** The materialized view of a partition, reading it from its first retained record once, then live. */
  const viewOf = <V extends LogView | PresenceView>(c: Connected, topic: string, partition: number, make: (start: number) => V): Promise<V> => {
    const id = `${topic}\u0000${partition}`;
    let view = views.get(id) as Promise<V> | undefined;
    if (!view) {
      view = (async () => {
        const { low, high } = await offsetsOf(c.admin, topic, partition);
        const created = make(low);
        c.feed.add(topic, partition, created);
        await created.waitFor(high, options.operationTimeoutMs);
        return created;
      })();
      views.set(id, view);
      view.catch(() => views.delete(id));
    }
    return view;
  };

  /** A view that has applied every record written before this call (read-your-writes, also across processes). */
  const caughtUp = async <V extends LogView | PresenceView>(c: Connected, topic: string, partition: number, make: (start: number) => V): Promise<V> => {
    const view = await viewOf(c, topic, partition, make);
    const { high } = await offsetsOf(c.admin, topic, partition);
    await view.waitFor(high, options.operationTimeoutMs);
    return view;
  };

  const logState = async (c: Connected, log: LogRef) => {
    const topic = topicOf(log);
    const partition = partitionOf(c, topic, log.key);
    const view = await caughtUp(c, topic, partition, (start) => new LogView(partition, start));
    return { topic, partition, state: view.state(log.key) };
  };

  /** Appends to one log run one at a time in this process, so check-then-write is atomic here. */
  const serialized = <T>(id: string, work: () => Promise<T>): Promise<T> => {
    const previous = locks.get(id) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => {});
    locks.set(id, tail);
    void tail.then(() => {
      if (locks.get(id) === tail) locks.delete(id);
    });
    return run;
  };

  const append = async (log: LogRef, request: BackendAppendRequest): Promise<BackendAppendResult> => {
    const c = await connect();
    return serialized(`${log.kind}\u0000${log.key}`, async () => {
      assertOpen();
      const { topic, partition, state } = await logState(c, log).catch((err: unknown) => Promise.reject(kafkaError(err, 'Reading session state')));
      if (state.ended) throw new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend: NAME });
      const { producer } = request;
      if (producer) {
        const verdict = checkProducer(state.producers.get(producer.id), producer);
        if (verdict.action === 'duplicate') return { offsets: verdict.offsets, duplicate: true };
      }
      const stamp = producer ? `${producer.epoch}.${producer.seq}.${producer.id}` : undefined;
      const last = request.records.length - 1;
      const messages = request.records.map((value, i) => {
        const headers: IHeaders = {};
        if (stamp !== undefined) headers[PRODUCER_HEADER] = stamp;
        if (request.end && i === last) headers[END_HEADER] = '1';
        return { key: log.key, value, partition, headers };
      });
      let metadata;
      try {
        // One send to one partition is one record batch: Kafka appends it whole or not at all.
        metadata = await settle(() => c.producer.send({ topic, messages, acks: -1 }), 5);
      } catch (err) {
        throw kafkaError(err, 'Appending');
      }
      const base = Number(metadata[0]?.baseOffset ?? metadata[0]?.offset);
      if (!Number.isSafeInteger(base)) throw new DurableSessionError('INTERNAL', 'Kafka returned no offset for the append.', { backend: NAME });
      return { offsets: request.records.map((_, i) => encodeOffset(partition, base + i)) };
    });
  };

  /**
   * Records a page read fetched beyond its limit, so the next page of the same replay is served without another
   * seek and fetch (Kafka returns up to a megabyte per partition per fetch; pages are usually far smaller).
   */
  const readAhead = new Map<string, ReadAhead>();
  const remember = (id: string, entry: ReadAhead) => {
    readAhead.delete(id);
    readAhead.set(id, entry);
    if (readAhead.size > READ_AHEAD_LOGS) readAhead.delete(readAhead.keys().next().value!);
  };

  /** Reads records of one session from a partition, through the shared consumer, between two Kafka offsets. */
  const collect = (c: Connected, topic: string, partition: number, key: string, from: number, until: number, limit: number): Promise<BackendEntry[]> =>
    new Promise((resolve, reject) => {
      const out: BackendEntry[] = [];
      let done = false;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        c.feed.remove(topic, partition, party);
        if (err) reject(err);
        else resolve(out);
      };
      const party: Party = {
        next: from,
        consume(records: readonly FeedRecord[], end: number) {
          if (done) return;
          let extra: BackendEntry[] | undefined;
          let complete = Math.min(end, until);
          for (const record of records) {
            if (record.offset >= until) break;
            if (record.key !== key || record.value === null) continue;
            const entry = { offset: encodeOffset(partition, record.offset), payload: record.value };
            if (out.length < limit) out.push(entry);
            else if ((extra ??= []).length < READ_AHEAD_RECORDS) extra.push(entry);
            else {
              complete = record.offset;
              break;
            }
          }
          if (out.length >= limit) {
            if (extra || complete > decodeOffset(out[out.length - 1]!.offset, partition) + 1) {
              remember(`${topic}\u0000${key}`, { after: out[out.length - 1]!.offset, entries: extra ?? [], end: complete });
            }
            return finish();
          }
          if (party.next >= until) finish();
        },
      };
      const timer = setTimeout(
        () => finish(new DurableSessionError('TIMEOUT', `Reading partition ${partition} of ${topic} did not finish within ${options.operationTimeoutMs} ms.`, { backend: NAME })),
        options.operationTimeoutMs,
      );
      c.feed.add(topic, partition, party);
    });

  const read = async (log: LogRef, after: string | null, limit: number): Promise<BackendEntry[]> => {
    const c = await connect();
    const topic = topicOf(log);
    const partition = partitionOf(c, topic, log.key);
    const start = after === null ? 0 : decodeOffset(after, partition) + 1;
    try {
      const id = `${topic}\u0000${log.key}`;
      const cached = after === null ? undefined : readAhead.get(id);
      let head: BackendEntry[] = [];
      let from = start;
      if (cached && cached.after === after) {
        readAhead.delete(id);
        head = cached.entries.slice(0, limit);
        if (head.length === limit) {
          if (cached.entries.length > limit || cached.end > decodeOffset(head[head.length - 1]!.offset, partition) + 1) {
            remember(id, { after: head[head.length - 1]!.offset, entries: cached.entries.slice(limit), end: cached.end });
          }
          return head;
        }
        from = cached.end;
      }
      const { low, high } = await offsetsOf(c.admin, topic, partition);
      // Offsets below `low` were deleted by retention; Kafka cannot say whether they held this session's records.
      from = Math.max(from, low);
      if (from >= high) return head;
      return head.concat(await collect(c, topic, partition, log.key, from, high, limit - head.length));
    } catch (err) {
      throw kafkaError(err, 'Reading');
    }
  };

  const info = async (log: LogRef): Promise<BackendLogInfo> => {
    const c = await connect();
    try {
      const { partition, state } = await logState(c, log);
      return { last: state.last === null ? null : encodeOffset(partition, state.last), ended: state.ended, trimmedThrough: null };
    } catch (err) {
      throw kafkaError(err, 'Reading session state');
    }
  };

  const tail = (log: LogRef, after: string | null, listener: TailListener): (() => void) => {
    let active = true;
    let attached: { c: Connected; topic: string; partition: number; party: Party } | undefined;
    const handle = {
      fail(err: unknown) {
        if (!active) return;
        release();
        listener.error(err);
      },
    };
    const release = () => {
      active = false;
      tails.delete(handle);
      if (attached) attached.c.feed.remove(attached.topic, attached.partition, attached.party);
    };
    tails.add(handle);
    void (async () => {
      try {
        const c = await connect();
        const topic = topicOf(log);
        const partition = partitionOf(c, topic, log.key);
        const next = after === null ? (await offsetsOf(c.admin, topic, partition)).low : decodeOffset(after, partition) + 1;
        if (!active) return;
        const party: Party = {
          next,
          consume(records: readonly FeedRecord[]) {
            if (!active) return;
            let entries: BackendEntry[] | undefined;
            for (const record of records) {
              if (record.key !== log.key || record.value === null) continue;
              (entries ??= []).push({ offset: encodeOffset(partition, record.offset), payload: record.value });
            }
            if (entries) listener.next(entries);
          },
        };
        attached = { c, topic, partition, party };
        c.feed.add(topic, partition, party);
      } catch (err) {
        handle.fail(kafkaError(err, 'Following'));
      }
    })();
    return release;
  };

  const presence: BackendPresence = {
    async put(ref: PresenceRef, entry) {
      const c = await connect();
      const topic = options.topics.presence;
      try {
        await settle(
          () =>
            c.producer.send({
              topic,
              messages: [{ key: `${ref.key}/${entry.connectionId}`, value: encodePresence(entry), partition: partitionOf(c, topic, ref.key) }],
            }),
          5,
        );
      } catch (err) {
        throw kafkaError(err, 'Writing presence');
      }
    },
    async remove(ref: PresenceRef, connectionId: string) {
      const c = await connect();
      const topic = options.topics.presence;
      try {
        await settle(
          () => c.producer.send({ topic, messages: [{ key: `${ref.key}/${connectionId}`, value: null, partition: partitionOf(c, topic, ref.key) }] }),
          5,
        );
      } catch (err) {
        throw kafkaError(err, 'Removing presence');
      }
    },
    async list(ref: PresenceRef) {
      const c = await connect();
      const topic = options.topics.presence;
      try {
        const view = await caughtUp(c, topic, partitionOf(c, topic, ref.key), (start) => new PresenceView(start));
        return view.members(ref.key);
      } catch (err) {
        throw kafkaError(err, 'Listing presence');
      }
    },
    watch(ref: PresenceRef, onChange: () => void) {
      let stop: (() => void) | undefined;
      let active = true;
      void connect()
        .then((c) => {
          const topic = options.topics.presence;
          return viewOf(c, topic, partitionOf(c, topic, ref.key), (start) => new PresenceView(start));
        })
        .then((view) => {
          if (active) stop = view.watch(ref.key, onChange);
        })
        // The core re-lists periodically; a watch is only a wake-up, so a failed one costs latency, not correctness.
        .catch(() => {});
      return () => {
        active = false;
        stop?.();
      };
    },
  };

  return {
    name: NAME,
    capabilities,
    presence,
    append,
    read,
    info,
    tail,
    async close() {
      if (closed) return;
      closed = true;
      const err = new DurableSessionError('CLOSED', 'The Kafka backend was closed.', { backend: NAME });
      for (const handle of [...tails]) handle.fail(err);
      const pending = connecting;
      connecting = undefined;
      if (!pending) return;
      const c = await pending.catch(() => undefined);
      if (!c) return;
      await c.feed.close();
      await c.producer.disconnect().catch(() => {});
      await c.admin.disconnect().catch(() => {});
    },
  };
}

/** Earliest retained and next (high watermark) offsets of a partition. */
async function offsetsOf(admin: Admin, topic: string, partition: number): Promise<{ low: number; high: number }> {
  const offsets = await settle(() => admin.fetchTopicOffsets(topic));
  const entry = offsets.find((o) => o.partition === partition);
  if (!entry) throw new DurableSessionError('BACKEND_UNAVAILABLE', `Partition ${partition} of ${topic} is unknown to the broker.`, { backend: NAME });
  return { low: Number(entry.low), high: Number(entry.high) };
}
