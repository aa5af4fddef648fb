import type { FeedRecord, Party } from '../feed.js';

/** The Kafka client libraries the adapter can run on. */
export type ClientKind = 'kafkajs' | 'platformatic';

/** A topic as the adapter creates it. */
export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: Array<{ name: string; value: string }>;
}

/** One record to produce. Values and header values are UTF-8 strings; a null value is a tombstone. */
export interface OutgoingRecord {
  key: string;
  value: string | null;
  headers?: Record<string, string>;
}

/** Earliest retained and next (high watermark) offsets of a partition. */
export interface PartitionOffsets {
  low: number;
  high: number;
}

/** What a feed needs besides the client: which topics it reads and how it wakes itself after a seek. */
export interface FeedSettings {
  /** Prefix of anything the feed registers on the broker (the kafkajs feed's consumer group). */
  clientId: string;
  topics: string[];
  fetchWaitMs: number;
  /** The wake-up topic: a record on the feed's own partition ends its idle long-poll at once. */
  wakeTopic: string;
  wakePartitions: number;
}

/**
 * Reads partitions for registered parties (see {@link Party}): every record at or after a party's `next` is handed
 * to it in order, and a new party never waits for a long-poll that started before it arrived.
 */
export interface Feed {
  /** Resolves once the feed can serve parties (a kafkajs feed joins its consumer group). */
  whenReady(): Promise<void>;
  /** Starts reading a partition for `party`, from `party.next`. */
  add(topic: string, partition: number, party: Party): void;
  /** Stops reading for `party`. */
  remove(topic: string, partition: number, party: Party): void;
  /** A party of the partition that did not want records (see {@link Party.wants}) does now: read for it at once. */
  demand(topic: string, partition: number): void;
  /** Stops reading and removes whatever the feed registered on the broker. */
  close(): Promise<void>;
}

/**
 * The small surface the adapter needs from a Kafka client library. Two implementations: kafkajs (consumer group per
 * backend, see kafkajs-client.ts) and @platformatic/kafka (fetches partitions with no consumer group).
 */
export interface KafkaClient {
  readonly kind: ClientKind;
  /** Creates the missing topics (when `create`) and returns the partition count of every topic, once leaders exist. */
  ensureTopics(specs: TopicSpec[], create: boolean): Promise<Map<string, number>>;
  /**
   * Produces `records` to one partition as ONE record batch (appended whole or not at all, contiguous) through an
   * idempotent producer with acks=all, and returns the offset of its first record.
   */
  produce(topic: string, partition: number, records: OutgoingRecord[]): Promise<number>;
  /** Earliest retained and high-watermark offsets of one partition. */
  offsets(topic: string, partition: number): Promise<PartitionOffsets>;
  /** A feed over `settings.topics`. One per backend. */
  openFeed(settings: FeedSettings, lowOf: (topic: string, partition: number) => Promise<number>): Feed;
  /** Closes what the client opened (not a user-supplied underlying instance). */
  close(): Promise<void>;
}

export type { FeedRecord, Party };
