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
import type { Feed, KafkaClient, OutgoingRecord } from './client/types.js';
import { kafkaError, NAME } from './errors.js';
import { oneAtATimePerKey } from './one-at-a-time.js';
import type { FeedRecord, Party } from './feed.js';
import { decodeOffset, encodeOffset, encodeOffsets } from './offsets.js';
import type { ResolvedOptions } from './options.js';
import { partitionFor } from './partitioner.js';
import { errorText, topicConfigs } from './topics.js';
import { COUNT_HEADER, encodePresence, END_HEADER, LogView, PRODUCER_HEADER, PresenceView, type LogState, type Verdict } from './views.js';

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
  client: KafkaClient;
  feed: Feed;
  partitions: Map<string, number>;
}

/** What the backend guarantees with these options. */
export function kafkaCapabilities(options: ResolvedOptions): Capabilities {
  return {
    durable: true,
    idempotentAppend: true,
    atomicBatch: true,
    // Appends are judged in log order by every reader (views.ts): nothing after `$end` is ever accepted.
    atomicEnd: true,
    presence: 'emulated',
    maxPayloadBytes: options.maxPayloadBytes,
    maxBatchSize: options.maxBatchSize,
    // Topic retention is shared, segment-granular and checked every few minutes: not a per-session guarantee.
    retention: { maxAge: false, maxEvents: false },
    detectsTrimmedOffsets: false,
  };
}

/**
 * The backend over a {@link KafkaClient}. `client` is called on first use (it loads the client library), so
 * building a backend does no I/O.
 */
export function kafkaBackend(client: () => Promise<KafkaClient>, options: ResolvedOptions): Backend {
  const capabilities = kafkaCapabilities(options);
  let connecting: Promise<Connected> | undefined;
  let closed = false;
  const views = new Map<string, Promise<LogView | PresenceView>>();
  const tails = new Set<{ fail(err: unknown): void }>();

  const assertOpen = () => {
    if (closed) throw new DurableSessionError('CLOSED', 'The Kafka backend is closed.', { backend: NAME });
  };

  const connect = (): Promise<Connected> => {
    assertOpen();
    connecting ??= (async () => {
      let kafka: KafkaClient | undefined;
      try {
        kafka = await client();
        const partitions = await kafka.ensureTopics(topicConfigs(options), options.createTopics).catch((err: unknown) => {
          if (/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic|unknown topic/i.test(errorText(err))) {
            const names = Object.values(options.topics).join(', ');
            throw new DurableSessionError('CONFIG_INVALID', `Kafka topics ${names} do not exist and createTopics is off.`, { backend: NAME, cause: err });
          }
          throw err;
        });
        const wakeTopic = options.topics.wake;
        const c = kafka;
        const feed = kafka.openFeed(
          {
            clientId: options.clientId,
            topics: [options.topics.events, options.topics.control, options.topics.presence, wakeTopic],
            fetchWaitMs: options.fetchWaitMs,
            wakeTopic,
            wakePartitions: partitions.get(wakeTopic) ?? options.partitions,
          },
          async (topic, partition) => (await c.offsets(topic, partition)).low,
        );
        await feed.whenReady().catch(async (err: unknown) => {
          await feed.close().catch(() => {});
          throw err;
        });
        return { client: kafka, feed, partitions };
      } catch (err) {
        await kafka?.close().catch(() => {});
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
        const { low, high } = await c.client.offsets(topic, partition);
        const created = make(low);
        created.onDemand = () => c.feed.demand(topic, partition);
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
    const { high } = await c.client.offsets(topic, partition);
    await view.waitFor(high, options.operationTimeoutMs);
    return view;
  };

  const logView = (c: Connected, topic: string, partition: number, fresh: boolean) =>
    (fresh ? caughtUp : viewOf)(c, topic, partition, (start) => new LogView(partition, start));

  const logState = async (c: Connected, log: LogRef) => {
    const topic = topicOf(log);
    const partition = partitionOf(c, topic, log.key);
    const view = await logView(c, topic, partition, true);
    return { topic, partition, state: view.state(log.key) };
  };

  /** Appends to one log run one at a time in this process, so check-then-write is atomic here. */
  const serialized = oneAtATimePerKey();

  /**
   * Appends without asking the broker first: the cached view only serves to fail fast (an end, a fenced epoch and a
   * stored call are final). The log then judges the append in order (views.ts), and the writer answers with that
   * judgement. When nothing else was written to the partition since the view's position, this process knows the
   * judgement at once (it applies its own records to the view); otherwise it waits for its view to read up to them.
   */
  const append = async (log: LogRef, request: BackendAppendRequest): Promise<BackendAppendResult> => {
    const c = await connect();
    return serialized(`${log.kind}\u0000${log.key}`, async () => {
      assertOpen();
      const topic = topicOf(log);
      const partition = partitionOf(c, topic, log.key);
      const view = await logView(c, topic, partition, false).catch((err: unknown) => Promise.reject(kafkaError(err, 'Reading session state')));
      const early = precheck(view.state(log.key), request);
      if (early === 'stale-gap') {
        // A gap may only mean this process has not read another process's appends yet: catch up, then decide.
        await view.waitFor((await c.client.offsets(topic, partition).catch((err: unknown) => Promise.reject(kafkaError(err, 'Reading session state')))).high, options.operationTimeoutMs);
        const again = precheck(view.state(log.key), request);
        if (again !== 'ok' && again !== 'stale-gap') return again;
        if (again === 'stale-gap') checkProducer(view.state(log.key).producers.get(request.producer!.id), request.producer!);
      } else if (early !== 'ok') {
        return early;
      }
      const { producer } = request;
      const stamp = producer ? `${producer.epoch}.${producer.seq}.${producer.id}` : undefined;
      // The view judges an append by its first record (count and producer stamp), so the records after it carry no
      // headers unless one ends the session: a header costs bytes and buffers per record on every write and read.
      const records: OutgoingRecord[] = request.records.map((value) => ({ key: log.key, value }));
      records[0]!.headers = { [COUNT_HEADER]: String(records.length), ...(stamp !== undefined ? { [PRODUCER_HEADER]: stamp } : {}) };
      if (request.end) (records[records.length - 1]!.headers ??= {})[END_HEADER] = '1';
      let base: number;
      try {
        // One produce request to one partition is one record batch: Kafka appends it whole or not at all.
        base = await c.client.produce(topic, partition, records);
      } catch (err) {
        throw kafkaError(err, 'Appending');
      }
      const { verdict, offsets } = await judged(view, log.key, base, records);
      if (verdict.accepted) return { offsets: offsets ?? encodeOffsets(partition, base, records.length) };
      if ('duplicate' in verdict) return { offsets: verdict.duplicate, duplicate: true };
      throw verdict.error;
    });
  };

  /** The log's verdict on the append this process just wrote at `base`, and its offsets if the view built them. */
  const judged = async (view: LogView, key: string, base: number, records: OutgoingRecord[]): Promise<{ verdict: Verdict; offsets?: string[] | undefined }> => {
    for (;;) {
      // Everything before our records is applied and nothing else sits in between: apply ours now instead of
      // waiting for the consumer to bring them back (it skips them: the view's position moves past them).
      const offsets = view.next === base ? view.applyOwn(base, key, records) : undefined;
      if (view.next > base) {
        const verdict = view.verdict(base);
        if (verdict) return { verdict, offsets };
        throw new DurableSessionError('INTERNAL', `No verdict recorded for the append at offset ${base}.`, { backend: NAME });
      }
      await view.waitFor(base, options.operationTimeoutMs);
    }
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
  const collect = (c: Connected, view: LogView, topic: string, partition: number, key: string, from: number, until: number, limit: number): Promise<BackendEntry[]> =>
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
            if (record.key !== key || record.value === null || view.isRejected(record.offset)) continue;
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
      const { low, high } = await c.client.offsets(topic, partition);
      // The view judges every append below `high` first, so rejected appends can be skipped.
      const view = await logView(c, topic, partition, false);
      await view.waitFor(high, options.operationTimeoutMs);
      // A replay from the start begins at the session's first record (the view knows it), not at the start of the
      // shared partition; a session with no record yet has nothing below `high`.
      if (after === null) from = view.state(log.key).first ?? high;
      // Offsets below `low` were deleted by retention; Kafka cannot say whether they held this session's records.
      from = Math.max(from, low);
      if (from >= high) return head;
      return head.concat(await collect(c, view, topic, partition, log.key, from, high, limit - head.length));
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
        const view = await logView(c, topic, partition, false);
        // From the start: at the session's first record, or (none yet) where the view stands — everything below it
        // is judged and holds nothing of this session.
        const next = after === null ? (view.state(log.key).first ?? view.next) : decodeOffset(after, partition) + 1;
        if (!active) return;
        // Records reach the tail once the view has judged them (usually already: the view reads the same batches).
        let backlog: Promise<void> = Promise.resolve();
        let waiting = 0;
        const deliver = (mine: FeedRecord[]) => {
          if (!active) return;
          const entries = mine.filter((r) => !view.isRejected(r.offset)).map((r) => ({ offset: encodeOffset(partition, r.offset), payload: r.value! }));
          if (entries.length > 0) listener.next(entries);
        };
        const party: Party = {
          next,
          consume(records: readonly FeedRecord[]) {
            if (!active) return;
            const mine = records.filter((r) => r.key === log.key && r.value !== null);
            if (mine.length === 0) return;
            const through = mine[mine.length - 1]!.offset + 1;
            if (waiting === 0 && view.next >= through) return deliver(mine);
            waiting++;
            backlog = backlog
              .then(() => view.whenAt(through))
              .then(() => {
                waiting--;
                deliver(mine);
              });
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
        await c.client.produce(topic, partitionOf(c, topic, ref.key), [{ key: `${ref.key}/${entry.connectionId}`, value: encodePresence(entry) }]);
      } catch (err) {
        throw kafkaError(err, 'Writing presence');
      }
    },
    async remove(ref: PresenceRef, connectionId: string) {
      const c = await connect();
      const topic = options.topics.presence;
      try {
        await c.client.produce(topic, partitionOf(c, topic, ref.key), [{ key: `${ref.key}/${connectionId}`, value: null }]);
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
      await c.feed.close().catch(() => {});
      await c.client.close().catch(() => {});
    },
  };
}

/**
 * What the cached state already says about an append: a final answer (an ended session, a fenced epoch or a stored
 * call stay so), `stale-gap` (a gap this process may see only because it has not read other processes' appends),
 * or `ok` (append; the log judges).
 */
function precheck(state: LogState, request: BackendAppendRequest): 'ok' | 'stale-gap' | BackendAppendResult {
  if (state.ended) throw new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend: NAME });
  const { producer } = request;
  if (!producer) return 'ok';
  try {
    const verdict = checkProducer(state.producers.get(producer.id), producer);
    return verdict.action === 'duplicate' ? { offsets: verdict.offsets, duplicate: true } : 'ok';
  } catch (err) {
    if ((err as DurableSessionError).code === 'SEQUENCE_GAP') return 'stale-gap';
    throw err;
  }
}
