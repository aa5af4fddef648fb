import type { RetentionOptions } from '@durable-sessions/core';
import type { Kafka, KafkaConfig, logLevel } from 'kafkajs';
import type { ClientKind } from './client/types.js';

/**
 * Connection settings of the @platformatic/kafka clients the adapter builds (TLS, SASL, timeouts…), as accepted by
 * its `Producer`/`Consumer`/`Admin` constructors (`clientId` and `bootstrapBrokers` come from the adapter).
 */
export type PlatformaticConnection = Record<string, unknown>;

/** Names of the topics the adapter uses. They are shared by every session. */
export interface KafkaTopics {
  /** Event logs, keyed by session. @default 'ds.events' */
  events?: string;
  /** Control logs (the durable control channel), keyed by session. @default 'ds.control' */
  control?: string;
  /** Presence records, compacted, keyed `<session>/<connectionId>`. @default 'ds.presence' */
  presence?: string;
  /** Tiny wake-up records that end the adapter consumer's idle long-poll after a seek (kept 1 minute). @default 'ds.wake' */
  wake?: string;
}

/** Options of the Kafka backend. */
export interface KafkaOptions {
  /**
   * The client library: `kafkajs` (reads through one consumer group per backend) or `platformatic`
   * (@platformatic/kafka: reads partitions with no consumer group). Install the one you choose.
   * @default 'kafkajs' when `kafka` is given, else the measured default (see docs/adapters/kafka.md)
   */
  client?: ClientKind;
  /** Extra @platformatic/kafka connection settings (tls, sasl, timeouts) when `client` is `platformatic`. @default {} */
  platformaticConfig?: PlatformaticConnection;
  /** Bootstrap brokers (`host:port`). Required unless `kafka` is given. @default ['127.0.0.1:9092'] */
  brokers?: string[];
  /** A kafkajs client of your own (its connection settings, SSL, SASL are used as they are; the adapter never closes it). @default a client built from `brokers` */
  kafka?: Kafka;
  /** Extra kafkajs client settings (ssl, sasl, timeouts) when the adapter builds the client. @default {} */
  kafkaConfig?: Omit<KafkaConfig, 'brokers' | 'clientId'>;
  /** kafkajs client id, also the prefix of the adapter's consumer group. @default 'durable-sessions' */
  clientId?: string;
  /** Topic names. @default { events: 'ds.events', control: 'ds.control', presence: 'ds.presence', wake: 'ds.wake' } */
  topics?: KafkaTopics;
  /**
   * Partitions of each topic when the adapter creates it. A session always maps to one partition (murmur2 of its
   * key, as Kafka's default partitioner), so never add partitions to an existing topic: sessions would move.
   * @default 8
   */
  partitions?: number;
  /** Replication factor of the topics the adapter creates. @default 1 */
  replicationFactor?: number;
  /** Create missing topics (explicitly, with the right settings) on first use. @default true */
  createTopics?: boolean;
  /**
   * Retention. `maxAgeMs` becomes `retention.ms` of the event and control topics when the adapter creates them
   * (Kafka deletes whole segments, so events live at least that long). `maxEvents` is not supported.
   * @default unlimited (retention.ms = -1)
   */
  retention?: RetentionOptions;
  /** How long presence records of crashed members stay in the compacted presence topic. @default 86400000 (1 day) */
  presenceRetentionMs?: number;
  /** Largest encoded event, in bytes (the topics get `max.message.bytes` of 16 MiB, which also bounds one batch). @default 1048576 */
  maxPayloadBytes?: number;
  /** Most events per append call. @default 1000 */
  maxBatchSize?: number;
  /**
   * How long the shared consumer's fetch waits on the broker for new data (a seek ends the wait early through the
   * wake-up topic, so this only bounds the idle request rate).
   * @default 500
   */
  fetchWaitMs?: number;
  /** How long a read, info or append waits for the adapter's consumer to catch up before failing with TIMEOUT. @default 15000 */
  operationTimeoutMs?: number;
  /**
   * Fix kafkajs 2.2.4's reconnect bug (a response cut by a dropped connection corrupts the next one and crashes
   * the process, tulios/kafkajs#715) by clearing a connection's receive buffer on reconnect. See docs/adapters/kafka.md.
   * @default true
   */
  patchKafkajs?: boolean;
  /** kafkajs log level of the client the adapter builds (WARN would print kafkajs' note on bounded producer retries for every backend). @default logLevel.ERROR */
  logLevel?: logLevel;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  clientId: string;
  topics: Required<KafkaTopics>;
  partitions: number;
  replicationFactor: number;
  createTopics: boolean;
  retentionMs: number;
  presenceRetentionMs: number;
  maxPayloadBytes: number;
  maxBatchSize: number;
  fetchWaitMs: number;
  operationTimeoutMs: number;
}
