import type { Admin, ITopicConfig } from 'kafkajs';
import { DurableSessionError } from '@durable-sessions/core';
import { kafkaError, NAME } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** Errors a freshly created topic shows until its leader is elected and metadata has propagated. */
const SETTLING = /UNKNOWN_TOPIC_OR_PARTITION|LEADER_NOT_AVAILABLE|NOT_LEADER|This server does not host this topic-partition|There is no leader/i;

/** Retries `operation` while a new topic settles; bounded, with a short backoff. */
export async function settle<T>(operation: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      const text = `${(err as { type?: string }).type ?? ''} ${err instanceof Error ? err.message : String(err)}`;
      if (attempt >= attempts || !SETTLING.test(text)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * attempt)));
    }
  }
}

/** The configuration of the adapter's topics, as it creates them. */
export function topicConfigs(options: ResolvedOptions): ITopicConfig[] {
  const log = (topic: string): ITopicConfig => ({
    topic,
    numPartitions: options.partitions,
    replicationFactor: options.replicationFactor,
    configEntries: [
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'retention.ms', value: String(options.retentionMs) },
      { name: 'retention.bytes', value: '-1' },
      // Retention by age must count from the append, not from a producer's clock.
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
      { name: 'max.message.bytes', value: String(16 * 1024 * 1024) },
    ],
  });
  return [
    log(options.topics.events),
    log(options.topics.control),
    {
      topic: options.topics.presence,
      numPartitions: options.partitions,
      replicationFactor: options.replicationFactor,
      configEntries: [
        // Compaction keeps the newest record per member; delete removes crashed members that never sent a tombstone.
        { name: 'cleanup.policy', value: 'compact,delete' },
        { name: 'retention.ms', value: String(options.presenceRetentionMs) },
        { name: 'segment.ms', value: String(10 * 60_000) },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
        { name: 'delete.retention.ms', value: String(60_000) },
        { name: 'message.timestamp.type', value: 'LogAppendTime' },
      ],
    },
    {
      topic: options.topics.wake,
      numPartitions: options.partitions,
      replicationFactor: options.replicationFactor,
      // Wake-up records matter only while a fetch is in flight: keep them a minute.
      configEntries: [
        { name: 'cleanup.policy', value: 'delete' },
        { name: 'retention.ms', value: '60000' },
        { name: 'segment.ms', value: '60000' },
      ],
    },
  ];
}

/**
 * Creates the topics that are missing (explicitly: the broker should run with auto.create.topics.enable=false) and
 * returns the actual partition count of each, which may differ from the option for topics that already existed.
 */
export async function ensureTopics(admin: Admin, options: ResolvedOptions): Promise<Map<string, number>> {
  const configs = topicConfigs(options);
  const names = configs.map((c) => c.topic);
  try {
    if (options.createTopics) {
      const existing = new Set(await settle(() => admin.listTopics()));
      const missing = configs.filter((c) => !existing.has(c.topic));
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
  } catch (err) {
    if (/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic/i.test(`${(err as { type?: string }).type} ${String(err)}`)) {
      throw new DurableSessionError('CONFIG_INVALID', `Kafka topics ${names.join(', ')} do not exist and createTopics is off.`, { backend: NAME, cause: err });
    }
    throw kafkaError(err, 'Preparing topics');
  }
}
