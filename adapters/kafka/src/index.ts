import { DurableSessionError, type Backend, type BackendConfig, type BackendFactory } from '@durable-sessions/core';
import { kafkaBackend } from './backend.js';
import type { ClientKind, KafkaClient } from './client/types.js';
import { NAME } from './errors.js';
import type { KafkaOptions, ResolvedOptions } from './options.js';

export type { KafkaOptions, KafkaTopics } from './options.js';
export type { ClientKind } from './client/types.js';

/** The client library used when `client` is not given (see the measurements in docs/adapters/kafka.md). */
export const DEFAULT_CLIENT: ClientKind = 'platformatic';

const DEFAULT_PARTITIONS = 8;

/**
 * The Kafka backend, on @platformatic/kafka (reads with no consumer group) or kafkajs (one consumer group per
 * backend instance, deleted on close); `client` chooses. Sessions share topics (events, control, presence, wake-ups)
 * keyed by session, so the topic count does not grow with sessions. Appends are judged in log order, so every
 * process agrees on them. See docs/adapters/kafka.md for the topic layout, its costs and limits.
 */
export function kafka(options: KafkaOptions = {}): Backend {
  const resolved = resolveOptions(options);
  const brokers = options.brokers ?? ['127.0.0.1:9092'];
  const kind = clientKind(options);
  const client = async (): Promise<KafkaClient> => {
    if (kind === 'platformatic') {
      // Loaded on first use, so importing this package (e.g. for its types) stays cheap.
      const { platformaticClient } = await import('./client/platformatic-client.js');
      return platformaticClient({ clientId: resolved.clientId, brokers, connection: options.platformaticConfig ?? {} });
    }
    const { kafkajsClient } = await import('./client/kafkajs-client.js');
    const { patchKafkajsReconnect } = await import('./kafkajs-patch.js');
    if (options.patchKafkajs !== false) await patchKafkajsReconnect();
    if (options.kafka) return kafkajsClient(options.kafka);
    const { Kafka: KafkaClass, logLevel } = await import('kafkajs').catch((err: unknown) => {
      throw new DurableSessionError('CONFIG_INVALID', 'The kafka backend with client "kafkajs" needs the kafkajs package: npm install kafkajs', { backend: NAME, cause: err });
    });
    return kafkajsClient(
      new KafkaClass({ clientId: resolved.clientId, brokers, logLevel: options.logLevel ?? logLevel.ERROR, ...options.kafkaConfig }),
    );
  };
  return kafkaBackend(client, resolved);
}

/** The client library an options object selects: `client`, else the kind of instance given, else {@link DEFAULT_CLIENT}. */
function clientKind(options: KafkaOptions): ClientKind {
  const kind = options.client ?? (options.kafka ? 'kafkajs' : options.platformaticConfig ? 'platformatic' : DEFAULT_CLIENT);
  if (kind !== 'kafkajs' && kind !== 'platformatic') {
    throw new DurableSessionError('CONFIG_INVALID', `client must be 'kafkajs' or 'platformatic', got ${JSON.stringify(kind)}.`, { backend: NAME });
  }
  if (kind === 'platformatic' && options.kafka) {
    throw new DurableSessionError('CONFIG_INVALID', "A kafkajs instance (option kafka) cannot be used with client 'platformatic'.", { backend: NAME });
  }
  return kind;
}

/**
 * Registry entry point: `kafka://host:port[,host:port…][?client=kafkajs|platformatic]` (the bootstrap brokers and
 * the client library), plus any {@link KafkaOptions}. A `clientId` from the store options names the client.
 */
export const createBackend: BackendFactory = (config: BackendConfig) => {
  const { url, ...rest } = config;
  const options = { ...rest } as KafkaOptions;
  if (url !== undefined) {
    options.brokers = parseKafkaUrl(url);
    const client = parseKafkaUrlClient(url);
    if (client !== undefined) options.client = client;
  }
  return kafka(options);
};

const URL_PATTERN = /^kafka:\/\/([^/?#]+)\/?(?:\?([^#]*))?$/i;

/** The brokers of a `kafka://host:port[,host:port][?client=…]` URL. */
export function parseKafkaUrl(url: string): string[] {
  const match = URL_PATTERN.exec(url);
  const brokers = match?.[1]?.split(',').map((b) => b.trim()) ?? [];
  if (brokers.length === 0 || brokers.some((b) => !/^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i.test(b))) {
    throw new DurableSessionError('CONFIG_INVALID', `Malformed Kafka URL ${JSON.stringify(url)}: use kafka://host:port[,host:port][?client=kafkajs|platformatic].`, { backend: NAME });
  }
  return brokers;
}

/** The `client` query parameter of a Kafka URL, if any (`kafkajs` or `platformatic`). */
export function parseKafkaUrlClient(url: string): ClientKind | undefined {
  const query = URL_PATTERN.exec(url)?.[2];
  if (!query) return undefined;
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (name !== 'client') throw new DurableSessionError('CONFIG_INVALID', `Unknown Kafka URL parameter ${JSON.stringify(name)} (only client=kafkajs|platformatic).`, { backend: NAME });
  }
  const client = params.get('client');
  if (client === null) return undefined;
  if (client !== 'kafkajs' && client !== 'platformatic') {
    throw new DurableSessionError('CONFIG_INVALID', `client must be kafkajs or platformatic, got ${JSON.stringify(client)}.`, { backend: NAME });
  }
  return client;
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
