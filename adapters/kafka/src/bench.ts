import { randomUUID } from 'node:crypto';
import { DurableSessionError } from '@durable-sessions/core';
import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';
import type { Admin, Consumer, Kafka as KafkaClient, Producer } from 'kafkajs';
import { NAME } from './errors.js';
import { DEFAULT_CLIENT, kafka as kafkaBackend, parseKafkaUrl, parseKafkaUrlClient } from './index.js';
import { patchKafkajsReconnect } from './kafkajs-patch.js';
import { partitionFor } from './partitioner.js';

/** The topic the baseline writes: the adapter's default events topic, so both sides share partitions and settings. */
export const TOPIC = 'ds.events';
export const LOG_NAME = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The raw-client baseline for `durable-sessions bench kafka://…[?client=…]`, on the same client library as the
 * store side: kafkajs (an idempotent producer; consumers in a throw-away group each, seek, filter by key) or
 * @platformatic/kafka (an idempotent producer; raw fetches of the partition with no group, filter by key), writing
 * the same batches to the same topic and partition the adapter would use. Nothing of Durable Sessions runs in between.
 */
export const createBaseline: BaselineFactory = async (url: string): Promise<RawBaseline> => {
  const client = parseKafkaUrlClient(url) ?? DEFAULT_CLIENT;
  const brokers = parseKafkaUrl(url);
  // The adapter creates its topics on first use; let it, so both sides run on identical topic settings.
  const adapter = kafkaBackend({ brokers, client, logLevel: 0 });
  await adapter.info({ sessionId: 'bench', key: 'bench', kind: 'events' });
  await adapter.close();
  if (client === 'platformatic') {
    const { platformaticBaseline } = await import('./bench-platformatic.js');
    return platformaticBaseline(brokers);
  }
  return kafkajsBaseline(brokers);
};

async function kafkajsBaseline(brokers: string[]): Promise<RawBaseline> {
  await patchKafkajsReconnect();
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka: KafkaClient = new Kafka({ clientId: 'durable-sessions-bench', brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: () => ({ message }) => message.partition ?? 0,
  });
  await admin.connect();
  await producer.connect();
  const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
  const partitions = metadata.topics[0]!.partitions.length;
  const partitionOf = (log: string) => {
    if (!LOG_NAME.test(log)) throw new DurableSessionError('INVALID_SESSION_ID', `Baseline log names must match ${LOG_NAME}.`, { backend: NAME });
    return partitionFor(log, partitions);
  };
  const groups = new Set<string>();

  /** A throw-away consumer positioned at `offset` of one partition: kafkajs has no manual assignment. */
  const consumerAt = async (partition: number, offset: number, onBatch: (messages: Array<{ key: Buffer | null; value: Buffer | null; offset: string }>) => void) => {
    const groupId = `durable-sessions-bench-${randomUUID()}`;
    groups.add(groupId);
    const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC] });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition === partition) onBatch(batch.messages);
      },
    });
    await joined;
    consumer.seek({ topic: TOPIC, partition, offset: String(offset) });
    return async () => {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => {});
      groups.delete(groupId);
    };
  };

  const send = (log: string, payloads: string[]) =>
    producer.send({ topic: TOPIC, acks: -1, messages: payloads.map((value) => ({ key: log, value, partition: partitionOf(log) })) });

  return {
    name: 'raw kafkajs idempotent producer + consumer (seek, filter by key)',
    async appendEach(log, payloads) {
      for (const payload of payloads) await send(log, [payload]);
    },
    async appendBatches(log, payloads, batchSize) {
      for (let i = 0; i < payloads.length; i += batchSize) await send(log, payloads.slice(i, i + batchSize));
    },
    async replay(log, skip) {
      const partition = partitionOf(log);
      const offsets = await admin.fetchTopicOffsets(TOPIC);
      const { low, high } = offsets.find((o) => o.partition === partition)!;
      const end = Number(high);
      if (Number(low) >= end) return 0;
      let seen = 0;
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const stop = await consumerAt(partition, Number(low), (messages) => {
        for (const m of messages) {
          if (Number(m.offset) >= end) return done();
          if (m.key?.toString() === log) seen++;
        }
        if (Number(messages[messages.length - 1]?.offset ?? -1) >= end - 1) done();
      });
      await finished;
      await stop();
      return Math.max(0, seen - skip);
    },
    async follow(log, onPayload) {
      const partition = partitionOf(log);
      const offsets = await admin.fetchTopicOffsets(TOPIC);
      const high = Number(offsets.find((o) => o.partition === partition)!.high);
      return consumerAt(partition, high, (messages) => {
        for (const m of messages) if (m.key?.toString() === log && m.value) onPayload(m.value.toString());
      });
    },
    async close() {
      await producer.disconnect().catch(() => {});
      for (const groupId of groups) await admin.deleteGroups([groupId]).catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}
