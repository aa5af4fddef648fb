import { DurableSessionError, type Backend, type BackendConfig, type BackendFactory } from '@durable-sessions/core';
import type { Kafka } from 'kafkajs';
import { kafkaBackend } from './backend.js';
import { NAME } from './errors.js';
import { patchKafkajsReconnect } from './kafkajs-patch.js';
import type { KafkaOptions, ResolvedOptions } from './options.js';

export type { KafkaOptions, KafkaTopics } from './options.js';

const DEFAULT_PARTITIONS = 8;

/**
 * The Kafka backend (kafkajs). Sessions share three topics (events, control, presence) keyed by session, so the
 * topic count does not grow with sessions; one consumer group per backend instance reads them and is deleted on
 * close. See docs/adapters/kafka.md for the topic layout, its costs and limits.
 */
export function kafka(options: KafkaOptions = {}): Backend {
  const resolved = resolveOptions(options);
  const client = async (): Promise<Kafka> => {
    if (options.patchKafkajs !== false) await patchKafkajsReconnect();
    if (options.kafka) return options.kafka;
    // kafkajs loads on first use, so importing this package (e.g. for its types) stays cheap.
    const { Kafka: KafkaClient, logLevel } = await import('kafkajs').catch((err: unknown) => {
      throw new DurableSessionError('CONFIG_INVALID', 'The kafka backend needs the kafkajs package: npm install kafkajs', { backend: NAME, cause: err });
    });
    return new KafkaClient({
      clientId: resolved.clientId,
      brokers: options.brokers ?? ['127.0.0.1:9092'],
      logLevel: options.logLevel ?? logLevel.ERROR,
      ...options.kafkaConfig,
    });
  };
  return kafkaBackend(client, resolved);
}

/**
 * Registry entry point: `kafka://host:port[,host:port…]` (the bootstrap brokers), plus any {@link KafkaOptions}.
 * A `clientId` from the store options names the kafkajs client.
 */
export const createBackend: BackendFactory = (config: BackendConfig) => {
  const { url, ...rest } = config;
  const options = { ...rest } as KafkaOptions;
  if (url !== undefined) options.brokers = parseKafkaUrl(url);
  return kafka(options);
};

/** The brokers of a `kafka://host:port[,host:port]` URL. */
export function parseKafkaUrl(url: string): string[] {
  const match = /^kafka:\/\/([^/?#]+)\/?$/i.exec(url);
  const brokers = match?.[1]?.split(',').map((b) => b.trim()) ?? [];
  if (brokers.length === 0 || brokers.some((b) => !/^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i.test(b))) {
    throw new DurableSessionError('CONFIG_INVALID', `Malformed Kafka URL ${JSON.stringify(url)}: use kafka://host:port[,host:port].`, { backend: NAME });
  }
  return brokers;
}

function resolveOptions(options: KafkaOptions): ResolvedOptions {
  const { retention = {} } = options;
  if (retention.maxEvents !== undefined) {
    throw new DurableSessionError('CONFIG_INVALID', 'Kafka cannot keep only the newest N events of a session: retention.maxEvents is not supported (use maxAgeMs).', {
      backend: NAME,
    });
  }
  if (retention.maxAgeMs !== undefined && !(Number.isInteger(retention.maxAgeMs) && retention.maxAgeMs > 0)) {
    throw new DurableSessionError('CONFIG_INVALID', 'retention.maxAgeMs must be a positive integer.', { backend: NAME });
  }
  if (options.kafka === undefined && options.brokers !== undefined && (!Array.isArray(options.brokers) || options.brokers.length === 0)) {
    throw new DurableSessionError('CONFIG_INVALID', 'brokers must be a non-empty list of host:port.', { backend: NAME });
  }
  const topics = {
    events: options.topics?.events ?? 'ds.events',
    control: options.topics?.control ?? 'ds.control',
    presence: options.topics?.presence ?? 'ds.presence',
    wake: options.topics?.wake ?? 'ds.wake',
  };
  for (const [role, name] of Object.entries(topics)) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) {
      throw new DurableSessionError('CONFIG_INVALID', `topics.${role} ${JSON.stringify(name)} is not a valid Kafka topic name.`, { backend: NAME });
    }
  }
  if (new Set(Object.values(topics)).size !== 4) {
    throw new DurableSessionError('CONFIG_INVALID', 'The events, control, presence and wake topics must be distinct.', { backend: NAME });
  }
  const maxPayloadBytes = positiveInt(options.maxPayloadBytes, 1024 * 1024, 'maxPayloadBytes');
  if (maxPayloadBytes > 8 * 1024 * 1024) {
    throw new DurableSessionError('CONFIG_INVALID', 'maxPayloadBytes cannot exceed 8 MiB (the topics allow 16 MiB per batch).', { backend: NAME });
  }
  return {
    clientId: options.clientId ?? 'durable-sessions',
    topics,
    partitions: positiveInt(options.partitions, DEFAULT_PARTITIONS, 'partitions'),
    replicationFactor: positiveInt(options.replicationFactor, 1, 'replicationFactor'),
    createTopics: options.createTopics ?? true,
    retentionMs: retention.maxAgeMs ?? -1,
    presenceRetentionMs: positiveInt(options.presenceRetentionMs, 86_400_000, 'presenceRetentionMs'),
    maxPayloadBytes,
    maxBatchSize: positiveInt(options.maxBatchSize, 1_000, 'maxBatchSize'),
    fetchWaitMs: positiveInt(options.fetchWaitMs, 500, 'fetchWaitMs'),
    operationTimeoutMs: positiveInt(options.operationTimeoutMs, 15_000, 'operationTimeoutMs'),
  };
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new DurableSessionError('CONFIG_INVALID', `${name} must be a positive integer.`, { backend: NAME });
  }
  return value;
}
