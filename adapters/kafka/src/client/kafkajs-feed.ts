import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { FeedRecord, Party } from '../feed.js';
import type { Feed } from './types.js';

/** The feed's view of one topic-partition: who reads it. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly parties: Set<Party>;
  repairing: boolean;
}

/** Options of {@link Feed}. */
export interface KafkajsFeedOptions {
  groupId: string;
  topics: string[];
  fetchWaitMs: number;
  /**
   * The wake-up topic: a seek only takes effect at the consumer's next fetch, and an idle consumer sits in a
   * long-poll for up to `fetchWaitMs`. A tiny record on the feed's own partition of this topic ends that long-poll
   * at once. Every other partition of the topic is paused, so a feed is woken only by its own records.
   */
  wakeTopic: string;
  wakePartition: number;
  wakePartitions: number;
  /** Writes one wake-up record to `wakeTopic`/`wakePartition`. */
  wake(): Promise<void>;
  /** Earliest retained offset of a partition, for parties that point below it (retention deleted their records). */
  lowOf(topic: string, partition: number): Promise<number>;
}

/**
 * ONE consumer per backend reads every partition the backend cares about and demultiplexes records to the parties
 * registered on it. kafkajs has no manual partition assignment, so reading from an offset needs a consumer group;
 * a group per subscription would cost a join (and leave a group behind) every time. Here the group is joined once,
 * per backend, and a new reader only costs a `seek` (the partition goes back to the lowest offset any party needs;
 * parties that are further ahead ignore what they already saw). The group never commits offsets and is deleted on
 * close.
 */
export class KafkajsFeed implements Feed {
  private consumer: Consumer | undefined;
  private readonly lanes = new Map<string, Lane>();
  private joined = false;
  private readonly ready: Promise<void>;
  private closed = false;
  private onJoin: (() => void) | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly options: KafkajsFeedOptions,
  ) {
    this.ready = this.start();
    this.ready.catch(() => {});
  }

  /** Resolves once the consumer has joined its group (first use only). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Starts reading a partition for `party`, from `party.next`. */
  add(topic: string, partition: number, party: Party): void {
    const lane = this.lane(topic, partition);
    lane.parties.add(party);
    this.seek(lane);
  }

  /** Nothing to do: the consumer group reads every partition of the topics live, wanted or not. */
  demand(): void {}

  /** Stops reading for `party`. */
  remove(topic: string, partition: number, party: Party): void {
    this.lanes.get(`${topic}\u0000${partition}`)?.parties.delete(party);
  }

  /** Leaves and deletes the consumer group, so nothing of this backend stays on the broker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lanes.clear();
    await this.ready.catch(() => {});
    const consumer = this.consumer;
    if (!consumer) return;
    await consumer.disconnect().catch(() => {});
    // The group is empty after disconnect (LeaveGroup); deleting it may still race the coordinator (GROUP_NOT_EMPTY
    // until the leave is processed, slower on a busy broker), so retry for a few seconds.
    for (let attempt = 0; attempt < 12; attempt++) {
      try {
        const [result] = await this.admin.deleteGroups([this.options.groupId]);
        if (!result?.error || result.error.type === 'GROUP_ID_NOT_FOUND') return;
      } catch (err) {
        const type = (err as { groups?: Array<{ error?: { type?: string } }> }).groups?.[0]?.error?.type;
        if (type === 'GROUP_ID_NOT_FOUND') return;
      }
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * (attempt + 1))));
    }
  }

  private async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      maxWaitTimeInMs: this.options.fetchWaitMs,
      // Rebuilding a view reads a whole partition: in as few round trips as possible.
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      allowAutoTopicCreation: false,
      // After a broker restart kafkajs rejoins under a new member id, and the coordinator waits for the old member
      // until its session times out: keep that short (6 s is the broker's default minimum).
      sessionTimeout: 6_000,
      rebalanceTimeout: 6_000,
      heartbeatInterval: 1_000,
      // One member: there is nothing to balance, and the range assigner gives it every partition.
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => (this.onJoin = resolve));
    // A (re)join resets every position to "latest" (nothing is committed): put each partition back where its parties are.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.joined = true;
      const others = Array.from({ length: this.options.wakePartitions }, (_, i) => i).filter((i) => i !== this.options.wakePartition);
      if (others.length > 0) consumer.pause([{ topic: this.options.wakeTopic, partitions: others }]);
      for (const lane of this.lanes.values()) this.seek(lane);
      this.onJoin?.();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.options.topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => this.onBatch(payload),
    });
    await joined;
  }

  private onBatch({ batch, isStale }: EachBatchPayload): void {
    if (isStale()) return;
    const lane = this.lanes.get(`${batch.topic}\u0000${batch.partition}`);
    if (!lane || lane.parties.size === 0) return;
    const fetchedFrom = Number((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    const end = Number(batch.lastOffset()) + 1;
    let records: FeedRecord[] | undefined;
    let jumped = false;
    // Only decode what some party still needs: a writer's view has usually applied its own records already.
    let need = Infinity;
    for (const party of lane.parties) need = Math.min(need, party.next);
    for (const party of [...lane.parties]) {
      if (fetchedFrom > party.next) {
        jumped = true;
        continue;
      }
      if (end <= party.next) continue;
      records ??= batch.messages.filter((m) => Number(m.offset) >= need).map(toRecord);
      const from = party.next;
      const slice = records[0] && records[0].offset >= from ? records : records.filter((r) => r.offset >= from);
      party.next = end;
      try {
        party.consume(slice, end);
      } catch {
        // A party's failure is its own (tails report through their listener); the other parties keep reading.
      }
    }
    // The position moved past a party (a rejoin reset it, or retention deleted what the party needs): repair.
    if (jumped) void this.repair(lane);
  }

  private async repair(lane: Lane): Promise<void> {
    if (lane.repairing) return;
    lane.repairing = true;
    try {
      const low = await this.options.lowOf(lane.topic, lane.partition);
      for (const party of lane.parties) {
        // Retention deleted these records: Kafka cannot serve them, so the party continues at the first retained one.
        if (party.next < low) party.next = low;
      }
    } catch {
      // The broker is unreachable; the consumer's own retries bring it back and the next batch repairs again.
    } finally {
      lane.repairing = false;
    }
    this.seek(lane);
  }

  private seek(lane: Lane): void {
    if (!this.joined || this.closed || lane.parties.size === 0) return;
    let min = Infinity;
    for (const party of lane.parties) min = Math.min(min, party.next);
    try {
      this.consumer!.seek({ topic: lane.topic, partition: lane.partition, offset: String(min) });
    } catch {
      // Only fails while the consumer restarts; the GROUP_JOIN that follows seeks again.
      return;
    }
    this.scheduleWake();
  }

  private wakePending = false;

  /** One wake-up record per tick, however many lanes seeked in it. */
  private scheduleWake(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      // Best effort: without it the seek still happens, only up to fetchWaitMs later.
      this.options.wake().catch(() => {});
    });
  }

  private lane(topic: string, partition: number): Lane {
    const id = `${topic}\u0000${partition}`;
    let lane = this.lanes.get(id);
    if (!lane) this.lanes.set(id, (lane = { topic, partition, parties: new Set(), repairing: false }));
    return lane;
  }
}

function toRecord(message: KafkaMessage): FeedRecord {
  const headers: Record<string, string> = {};
  if (message.headers) {
    for (const [name, value] of Object.entries(message.headers)) {
      if (value === undefined) continue;
      const one = Array.isArray(value) ? value[0] : value;
      if (one !== undefined) headers[name] = one.toString();
    }
  }
  return {
    offset: Number(message.offset),
    key: message.key ? message.key.toString('utf8') : null,
    value: message.value ? message.value.toString('utf8') : null,
    headers,
  };
}
