import { randomUUID } from 'node:crypto';
import { DurableSessionError } from '@durable-sessions/core';
import type { Admin, IHeaders, Kafka, Producer } from 'kafkajs';
import { NAME } from '../errors.js';
import { partitionFor } from '../partitioner.js';
import { settle } from '../topics.js';
import { KafkajsFeed } from './kafkajs-feed.js';
import type { Feed, FeedSettings, KafkaClient, OutgoingRecord, PartitionOffsets, TopicSpec } from './types.js';

/**
 * The adapter's client on kafkajs 2.2.4: one admin, one idempotent producer (`maxInFlightRequests: 1`, so kafkajs'
 * own resends are de-duplicated by the broker) and a feed that is one consumer group per backend (kafkajs cannot
 * read a partition without a group).
 */
export async function kafkajsClient(kafka: Kafka): Promise<KafkaClient> {
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Every message names its partition (murmur2 of the session key, computed by the adapter); kafkajs leaves
    // honouring it to the partitioner.
    createPartitioner: () => ({ message }) => message.partition ?? 0,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
  try {
    await admin.connect();
    await producer.connect();
  } catch (err) {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    throw err;
  }
  let closed = false;

  const send = async (topic: string, partition: number, records: OutgoingRecord[]): Promise<number> => {
    const messages = records.map((r) => ({ key: r.key, value: r.value, partition, ...(r.headers ? { headers: r.headers as IHeaders } : {}) }));
    const metadata = await settle(() => producer.send({ topic, messages, acks: -1 }), 5);
    const base = Number(metadata[0]?.baseOffset ?? metadata[0]?.offset);
    if (!Number.isSafeInteger(base)) throw new DurableSessionError('INTERNAL', 'Kafka returned no offset for the produce request.', { backend: NAME });
    return base;
  };

  return {
    kind: 'kafkajs',
    produce: send,
    async offsets(topic: string, partition: number): Promise<PartitionOffsets> {
      const offsets = await settle(() => admin.fetchTopicOffsets(topic));
      const entry = offsets.find((o) => o.partition === partition);
      if (!entry) throw new DurableSessionError('BACKEND_UNAVAILABLE', `Partition ${partition} of ${topic} is unknown to the broker.`, { backend: NAME });
      return { low: Number(entry.low), high: Number(entry.high) };
    },
    async ensureTopics(specs: TopicSpec[], create: boolean): Promise<Map<string, number>> {
      const names = specs.map((c) => c.topic);
      if (create) {
        const existing = new Set(await settle(() => admin.listTopics()));
        const missing = specs.filter((c) => !existing.has(c.topic));
        if (missing.length > 0) {
          await settle(() => admin.createTopics({ topics: missing, waitForLeaders: true })).catch((err: unknown) => {
            // Another process created it first: fine.
            if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(`${(err as { type?: string }).type} ${String(err)}`)) throw err;
          });
        }
      }
      const metadata = await settle(async () => {
        const result = await admin.fetchTopicMetadata({ topics: names });
        for (const topic of result.topics) {
          if (topic.partitions.length === 0 || topic.partitions.some((p) => p.leader < 0)) {
            throw Object.assign(new Error(`Topic ${topic.name} has no leader yet`), { type: 'LEADER_NOT_AVAILABLE' });
          }
        }
        return result;
      });
      return new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    },
    openFeed(settings: FeedSettings, lowOf): Feed {
      const groupId = `${settings.clientId}-${randomUUID()}`;
      const wakePartition = partitionFor(groupId, settings.wakePartitions);
      return new KafkajsFeed(kafka, admin, {
        groupId,
        topics: settings.topics,
        fetchWaitMs: settings.fetchWaitMs,
        wakeTopic: settings.wakeTopic,
        wakePartition,
        wakePartitions: settings.wakePartitions,
        wake: async () => {
          if (!closed) await producer.send({ topic: settings.wakeTopic, messages: [{ value: '', partition: wakePartition }] });
        },
        lowOf,
      });
    },
    async close() {
      closed = true;
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}

