import type { TopicSpec } from './client/types.js';
import type { ResolvedOptions } from './options.js';

/** Errors a freshly created topic shows until its leader is elected and metadata has propagated. */
const SETTLING = /UNKNOWN_TOPIC_OR_PARTITION|LEADER_NOT_AVAILABLE|NOT_LEADER|This server does not host this topic-partition|There is no leader/i;

/** Retries `operation` while a new topic settles; bounded, with a short backoff. */
export async function settle<T>(operation: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (attempt >= attempts || !SETTLING.test(errorText(err))) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * attempt)));
    }
  }
}

/** An error's text with the broker error ids of either client (kafkajs `type`, @platformatic/kafka `apiId`, nested errors). */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  const walk = (e: unknown, depth: number) => {
    if (!e || depth > 4) return;
    const x = e as { apiId?: unknown; type?: unknown; message?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
    parts.push(typeof x.apiId === 'string' ? x.apiId : '', typeof x.type === 'string' ? x.type : '', typeof x.message === 'string' ? x.message : String(e));
    if (Array.isArray(x.errors)) for (const inner of x.errors) walk(inner, depth + 1);
    walk(x.originalError ?? x.cause, depth + 1);
  };
  walk(err, 0);
  return parts.join(' ');
}

/** The configuration of the adapter's topics, as it creates them. */
export function topicConfigs(options: ResolvedOptions): TopicSpec[] {
  const log = (topic: string): TopicSpec => ({
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
