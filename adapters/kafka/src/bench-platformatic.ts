import { DurableSessionError } from '@durable-sessions/core';
import type { RawBaseline } from '@durable-sessions/conformance';
import { LOG_NAME, TOPIC } from './bench.js';
import { NAME } from './errors.js';
import { oneAtATimePerKey } from './one-at-a-time.js';
import { partitionFor } from './partitioner.js';

/**
 * The raw @platformatic/kafka baseline: an idempotent producer (acks=all) sending the same batches to the same
 * partition the adapter would use, and raw Fetch requests of that partition (no consumer group) filtered by key.
 */
export async function platformaticBaseline(brokers: string[]): Promise<RawBaseline> {
  const { Admin, Consumer, Producer, ProduceAcks } = await import('@platformatic/kafka');
  // The client settings the adapter runs with (client/platformatic-client.ts): one request in flight per connection.
  const base = { clientId: 'durable-sessions-bench', bootstrapBrokers: brokers, maxInflights: 1 };
  const producer = new Producer({ ...base, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false });
  const admin = new Admin(base);
  const consumer = new Consumer({ ...base, groupId: 'durable-sessions-bench-unused', autocreateTopics: false });
  const metadata = await admin.metadata({ topics: [TOPIC] });
  const topic = metadata.topics.get(TOPIC)!;
  const partitionOf = (log: string) => {
    if (!LOG_NAME.test(log)) throw new DurableSessionError('INVALID_SESSION_ID', `Baseline log names must match ${LOG_NAME}.`, { backend: NAME });
    return partitionFor(log, topic.partitionsCount);
  };
  const offsetOf = async (partition: number, timestamp: bigint) => {
    const [listed] = await admin.listOffsets({ topics: [{ name: TOPIC, partitions: [{ partitionIndex: partition, timestamp }] }] });
    return Number(listed!.partitions[0]!.offset);
  };
  /** One Fetch of `partition` from `offset`; calls `each` per record and returns the next offset. */
  const fetchOnce = async (partition: number, offset: number, maxWaitMs: number, each: (key: string | null, value: Buffer | null, offset: number) => void) => {
    const leader = topic.partitions[partition]!.leader;
    const response = await consumer.fetch({
      node: leader,
      maxWaitTime: maxWaitMs,
      minBytes: 1,
      maxBytes: 32 * 1024 * 1024,
      topics: [{ topicId: topic.id, partitions: [{ partition, fetchOffset: BigInt(offset), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1024 * 1024 }] }],
    });
    let next = offset;
    for (const batch of response.responses[0]?.partitions[0]?.records ?? []) {
      const first = Number(batch.firstOffset);
      next = Math.max(next, first + batch.lastOffsetDelta + 1);
      for (const r of batch.records) {
        const at = first + r.offsetDelta;
        if (at >= offset) each(r.key ? r.key.toString() : null, r.value, at);
      }
    }
    return next;
  };
  // @platformatic/kafka 1.x gives concurrent idempotent sends to one partition the same sequence number: the broker
  // refuses one as out of order and the producer fails every send after it. Sends to a partition therefore run one
  // at a time, as the adapter's do (and as kafkajs' idempotent producer requires).
  const lanes = oneAtATimePerKey();
  const send = (log: string, payloads: string[]) => {
    const partition = partitionOf(log);
    const key = Buffer.from(log);
    return lanes(String(partition), () =>
      producer.send({ messages: payloads.map((value) => ({ topic: TOPIC, partition, key, value: Buffer.from(value) })) }),
    );
  };

  return {
    name: 'raw @platformatic/kafka idempotent producer + fetch (no group, filter by key)',
    async appendEach(log, payloads) {
      for (const payload of payloads) await send(log, [payload]);
    },
    async appendBatches(log, payloads, batchSize) {
      for (let i = 0; i < payloads.length; i += batchSize) await send(log, payloads.slice(i, i + batchSize));
    },
    async replay(log, skip) {
      const partition = partitionOf(log);
      const [low, high] = await Promise.all([offsetOf(partition, -2n), offsetOf(partition, -1n)]);
      let seen = 0;
      for (let at = low; at < high; ) {
        at = await fetchOnce(partition, at, 0, (key, _value, offset) => {
          if (offset < high && key === log) seen++;
        });
      }
      return Math.max(0, seen - skip);
    },
    async follow(log, onPayload) {
      const partition = partitionOf(log);
      let at = await offsetOf(partition, -1n);
      let active = true;
      const loop = (async () => {
        while (active) {
          at = await fetchOnce(partition, at, 100, (key, value) => {
            if (active && key === log && value) onPayload(value.toString());
          });
        }
      })();
      return async () => {
        active = false;
        await loop.catch(() => {});
      };
    },
    async close() {
      await Promise.allSettled([producer.close(), admin.close(), consumer.close(true)]);
    },
  };
}
