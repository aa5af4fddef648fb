import { DurableSessionError } from '@durable-sessions/core';
import type { Admin, ClusterMetadata, Consumer, Producer } from '@platformatic/kafka';

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;
import { NAME } from '../errors.js';
import { oneAtATimePerKey } from '../one-at-a-time.js';
import type { PlatformaticConnection } from '../options.js';
import { errorText, settle } from '../topics.js';
import { PlatformaticFeed } from './platformatic-feed.js';
import type { Feed, FeedSettings, KafkaClient, OutgoingRecord, PartitionOffsets, TopicSpec } from './types.js';

/** What the adapter hands to {@link platformaticClient}. */
export interface PlatformaticClientOptions {
  clientId: string;
  brokers: string[];
  connection: PlatformaticConnection;
}

/** The pieces of @platformatic/kafka a feed uses: raw fetches and cluster metadata. */
export interface PlatformaticReader {
  metadata(topics: string[], force: boolean): Promise<ClusterMetadata>;
  fetch(node: number, request: Parameters<Consumer['fetch']>[0]['topics'], maxWaitMs: number): Promise<FetchResponse>;
  /** A fetch that does not wait for data, on a second connection (so it never queues behind a long-poll). */
  fetchNow(node: number, request: Parameters<Consumer['fetch']>[0]['topics']): Promise<FetchResponse>;
  produceWake(topic: string, partition: number): Promise<void>;
  offsets(topic: string, partition: number): Promise<PartitionOffsets>;
}

/**
 * The adapter's client on @platformatic/kafka: an idempotent producer (acks=all), an admin client, and a consumer
 * used only for raw `fetch` requests — it never joins a group, so reading leaves nothing on the broker.
 */
export async function platformaticClient(options: PlatformaticClientOptions): Promise<KafkaClient> {
  const lib = await import('@platformatic/kafka').catch((err: unknown) => {
    throw new DurableSessionError('CONFIG_INVALID', 'The kafka backend with client "platformatic" needs the @platformatic/kafka package: npm install @platformatic/kafka', {
      backend: NAME,
      cause: err,
    });
  });
  // maxInflights 1: with two requests in flight on one connection, @platformatic/kafka 1.x answered both after
  // ~45 ms instead of ~3 ms each (measured against a local broker for ListOffsets, Metadata and Fetch; its idempotent
  // producer already sends one at a time). Queued one by one, the same two take ~5 ms.
  const base = { clientId: options.clientId, bootstrapBrokers: options.brokers, retries: 8, retryDelay: 200, maxInflights: 1, ...options.connection };
  const producer: Producer = new lib.Producer({ ...base, idempotent: true, acks: lib.ProduceAcks.ALL, autocreateTopics: false });
  const admin: Admin = new lib.Admin(base);
  // A group id is required by the constructor; it is never joined (only `fetch` is used).
  const consumer: Consumer = new lib.Consumer({ ...base, groupId: `${options.clientId}-unused`, autocreateTopics: false });
  const sideConsumer: Consumer = new lib.Consumer({ ...base, groupId: `${options.clientId}-unused`, autocreateTopics: false });
  let closed = false;

  const offsets = async (topic: string, partition: number): Promise<PartitionOffsets> => {
    const ask = (timestamp: bigint) =>
      settle(() => admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }] }), 5).then((topics) => {
        const found = topics.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === partition);
        if (!found) throw new DurableSessionError('BACKEND_UNAVAILABLE', `Partition ${partition} of ${topic} is unknown to the broker.`, { backend: NAME });
        return Number(found.offset);
      });
    // -2 = earliest, -1 = latest; one ListOffsets request each (a request may name a partition only once), in parallel.
    const [low, high] = await Promise.all([ask(-2n), ask(-1n)]);
    return { low, high };
  };

  /**
   * @platformatic/kafka 1.x assigns an idempotent batch its sequence number from a counter it advances only when
   * the response arrives, so two concurrent sends to one partition carry the same sequence and the broker takes
   * the second for a resend of the first (or refuses it as out of order). Sends to one partition therefore run
   * one at a time, like kafkajs' `maxInFlightRequests: 1`.
   */
  const lanes = oneAtATimePerKey();
  const oneAtATime = <T>(topic: string, partition: number, work: () => Promise<T>): Promise<T> => lanes(`${topic}\u0000${partition}`, work);

  const produce = async (topic: string, partition: number, records: OutgoingRecord[]): Promise<number> => {
    // An append's records share one key: encode it once (the producer only reads the buffer).
    let key: Buffer | undefined;
    let keyText: string | undefined;
    const messages = records.map((r) => {
      if (r.key !== keyText) key = Buffer.from((keyText = r.key), 'utf8');
      return {
        topic,
        partition,
        key,
        value: r.value === null ? undefined : Buffer.from(r.value, 'utf8'),
        ...(r.headers ? { headers: new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'utf8')])) } : {}),
      };
    });
    const result = await oneAtATime(topic, partition, () => settle(() => producer.send({ messages }), 5));
    const base = Number(result.offsets?.find((o) => o.topic === topic && o.partition === partition)?.offset);
    if (!Number.isSafeInteger(base)) throw new DurableSessionError('INTERNAL', 'Kafka returned no offset for the produce request.', { backend: NAME });
    return base;
  };

  const metadata = (topics: string[], force: boolean) => admin.metadata({ topics, forceUpdate: force });

  const reader: PlatformaticReader = {
    metadata,
    fetch: (node, topics, maxWaitMs) => consumer.fetch({ node, topics, maxWaitTime: maxWaitMs, minBytes: 1, maxBytes: 32 * 1024 * 1024 }),
    fetchNow: (node, topics) => sideConsumer.fetch({ node, topics, maxWaitTime: 0, minBytes: 0, maxBytes: 32 * 1024 * 1024 }),
    async produceWake(topic, partition) {
      if (!closed) await oneAtATime(topic, partition, () => producer.send({ messages: [{ topic, partition, value: Buffer.alloc(0) }] }));
    },
    offsets,
  };

  return {
    kind: 'platformatic',
    produce,
    offsets,
    async ensureTopics(specs: TopicSpec[], create: boolean): Promise<Map<string, number>> {
      const names = specs.map((s) => s.topic);
      if (create) {
        const existing = new Set(await settle(() => admin.listTopics()));
        for (const spec of specs.filter((s) => !existing.has(s.topic))) {
          await settle(() =>
            admin.createTopics({ topics: [spec.topic], partitions: spec.numPartitions, replicas: spec.replicationFactor, configs: spec.configEntries }),
          ).catch((err: unknown) => {
            // Another process created it first: fine.
            if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(errorText(err))) throw err;
          });
        }
      }
      // Topics are usable once every partition has a leader (fresh ones show LEADER_NOT_AVAILABLE for a while).
      const meta = await settle(async () => {
        const result = await metadata(names, true);
        for (const name of names) {
          const topic = result.topics.get(name);
          if (!topic || topic.partitions.length === 0 || topic.partitions.some((p) => p.leader < 0)) {
            throw Object.assign(new Error(`Topic ${name} has no leader yet`), { type: 'LEADER_NOT_AVAILABLE' });
          }
        }
        return result;
      });
      return new Map(names.map((n) => [n, meta.topics.get(n)!.partitions.length]));
    },
    openFeed(settings: FeedSettings, lowOf): Feed {
      return new PlatformaticFeed(reader, settings, lowOf);
    },
    async close() {
      closed = true;
      await Promise.allSettled([producer.close(), admin.close(), consumer.close(true), sideConsumer.close(true)]);
    },
  };
}
