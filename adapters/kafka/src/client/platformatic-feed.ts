import type { FeedRecord, Party } from '../feed.js';
import { partitionFor } from '../partitioner.js';
import type { PlatformaticReader } from './platformatic-client.js';
import type { Feed, FeedSettings } from './types.js';

/** Kafka's OFFSET_OUT_OF_RANGE error code (retention deleted what a party needs). */
const OFFSET_OUT_OF_RANGE = 1;
/** Control batches (transaction markers) carry no records for readers. */
const CONTROL_BATCH = 0x20;
/** 1 MiB per partition per fetch: @platformatic/kafka 1.x parses big responses slowly (measured: 8 MiB was slower). */
const PARTITION_MAX_BYTES = 1024 * 1024;

interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly parties: Set<Party>;
  /** A side fetch of this lane is running / should run again when it ends. */
  side: boolean;
  sideAgain: boolean;
}

type FetchTopics = Parameters<PlatformaticReader['fetch']>[1];

/**
 * A feed that reads partitions with raw Fetch requests: no consumer group, no join, no rebalance, nothing to
 * delete on close. One loop fetches every partition some party reads, from the lowest offset any of its parties
 * needs, from each partition's leader. A party added while a long-poll is in flight would wait for it to end, so
 * the feed writes a tiny record to its own partition of the wake-up topic (also part of every fetch), which ends
 * the long-poll at once.
 */
export class PlatformaticFeed implements Feed {
  private readonly lanes = new Map<string, Lane>();
  private closed = false;
  private inFlight = false;
  private wakePending = false;
  private readonly wakePartition: number;
  private wakeNext = -1;
  private readonly ready: Promise<void>;
  private loop: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  /** Lanes in the long-poll in flight, with the offset it fetches them from. */
  private readonly covered = new Map<string, number>();

  constructor(
    private readonly reader: PlatformaticReader,
    private readonly settings: FeedSettings,
    private readonly lowOf: (topic: string, partition: number) => Promise<number>,
  ) {
    const wakePartition = partitionFor(`${settings.clientId}-${process.pid}-${Math.random()}`, settings.wakePartitions);
    this.wakePartition = wakePartition;
    this.ready = (async () => {
      this.wakeNext = (await reader.offsets(settings.wakeTopic, wakePartition)).high;
      this.loop = this.run();
    })();
    this.ready.catch(() => {});
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  add(topic: string, partition: number, party: Party): void {
    const id = `${topic}\u0000${partition}`;
    let lane = this.lanes.get(id);
    if (!lane) this.lanes.set(id, (lane = { topic, partition, parties: new Set(), side: false, sideAgain: false }));
    lane.parties.add(party);
    this.idle?.();
    this.serveNow(id, lane, party.next);
  }

  demand(topic: string, partition: number): void {
    const id = `${topic}\u0000${partition}`;
    const lane = this.lanes.get(id);
    if (!lane || this.closed) return;
    let next = Infinity;
    for (const party of lane.parties) next = Math.min(next, party.next);
    this.serveNow(id, lane, next);
  }

  /**
   * Serves a lane from `next` even though a long-poll is in flight, which cannot serve it when the lane is not in it
   * (a new lane, or one only unwanted parties read when it started) or is in it from a later offset: fetch what exists
   * now on a second connection (a broker answers one connection's requests in order, so it would queue behind the
   * long-poll), and, when the lane is not in the long-poll at all, end it with a wake-up record so the next one
   * includes the lane for live records. Between long-polls nothing is needed: the next one includes the lane.
   */
  private serveNow(id: string, lane: Lane, next: number): void {
    if (!this.inFlight) return;
    const from = this.covered.get(id);
    if (from === undefined) this.scheduleWake();
    if (from === undefined || next < from) void this.sideFetch(lane);
  }

  remove(topic: string, partition: number, party: Party): void {
    const id = `${topic}\u0000${partition}`;
    const lane = this.lanes.get(id);
    if (!lane) return;
    lane.parties.delete(party);
    if (lane.parties.size === 0) this.lanes.delete(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lanes.clear();
    this.idle?.();
    await this.ready.catch(() => {});
    await this.loop?.catch(() => {});
  }

  private scheduleWake(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      // Best effort: without it the new party is served when the long-poll ends (fetchWaitMs).
      this.reader.produceWake(this.settings.wakeTopic, this.wakePartition).catch(() => {});
    });
  }

  private async run(): Promise<void> {
    let refresh = false;
    while (!this.closed) {
      if (this.lanes.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = undefined;
        continue;
      }
      try {
        const topics = [...new Set([...[...this.lanes.values()].map((l) => l.topic), this.settings.wakeTopic])];
        const metadata = await this.reader.metadata(topics, refresh);
        refresh = false;
        // Group the partitions by leader: a Fetch goes to the broker that leads every partition it names.
        const byNode = new Map<number, Map<string, { topicId: string; partitions: FetchTopics[number]['partitions'] }>>();
        const want = (topic: string, partition: number, offset: number) => {
          const meta = metadata.topics.get(topic);
          const leader = meta?.partitions[partition]?.leader;
          if (!meta || leader === undefined || leader < 0) {
            refresh = true;
            return;
          }
          let node = byNode.get(leader);
          if (!node) byNode.set(leader, (node = new Map()));
          let entry = node.get(topic);
          if (!entry) node.set(topic, (entry = { topicId: meta.id, partitions: [] }));
          entry.partitions.push({ partition, fetchOffset: BigInt(offset), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: PARTITION_MAX_BYTES });
        };
        const fetched = new Map<string, number>();
        for (const lane of this.lanes.values()) {
          let min = Infinity;
          // A partition only views read, none of them waited on, stays out of the long-poll: a process that only
          // writes to it does not read back every record it wrote (its view applies them itself).
          for (const party of lane.parties) if (party.wants?.() !== false) min = Math.min(min, party.next);
          if (min === Infinity) continue;
          fetched.set(`${lane.topic}\u0000${lane.partition}`, min);
          want(lane.topic, lane.partition, min);
        }
        want(this.settings.wakeTopic, this.wakePartition, this.wakeNext);
        const ids = new Map([...metadata.topics].map(([name, t]) => [t.id, name]));
        this.inFlight = true;
        for (const [id, from] of fetched) this.covered.set(id, from);
        const responses = await Promise.all(
          [...byNode].map(([node, topicsOf]) => this.reader.fetch(node, [...topicsOf.values()], this.settings.fetchWaitMs).then((r) => [r] as const)),
        ).finally(() => {
          this.inFlight = false;
          this.covered.clear();
        });
        for (const [response] of responses) {
          for (const topic of response.responses) {
            const name = ids.get(topic.topicId);
            if (name === undefined) continue;
            for (const part of topic.partitions) await this.handle(name, part, fetched, () => (refresh = true));
          }
        }
      } catch {
        // The broker is unreachable or leadership moved: back off a little, then refresh metadata and fetch again.
        refresh = true;
        if (!this.closed) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Fetches one lane now (no long-poll) on the side connection, for parties the long-poll in flight cannot serve. */
  private async sideFetch(lane: Lane): Promise<void> {
    if (lane.side) {
      lane.sideAgain = true;
      return;
    }
    lane.side = true;
    try {
      do {
        lane.sideAgain = false;
        let min = Infinity;
        for (const party of lane.parties) min = Math.min(min, party.next);
        if (min === Infinity || this.closed) return;
        const metadata = await this.reader.metadata([lane.topic], false);
        const meta = metadata.topics.get(lane.topic);
        const leader = meta?.partitions[lane.partition]?.leader;
        if (!meta || leader === undefined || leader < 0) return;
        const response = await this.reader.fetchNow(leader, [
          { topicId: meta.id, partitions: [{ partition: lane.partition, fetchOffset: BigInt(min), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: PARTITION_MAX_BYTES }] },
        ]);
        const id = `${lane.topic}\u0000${lane.partition}`;
        const part = response.responses.find((t) => t.topicId === meta.id)?.partitions.find((p) => p.partitionIndex === lane.partition);
        if (part) await this.handle(lane.topic, part, new Map([[id, min]]), () => {});
      } while (lane.sideAgain && !this.closed);
    } catch {
      // Best effort: the main loop serves the party at its next fetch.
    } finally {
      lane.side = false;
    }
  }

  private async handle(
    topic: string,
    part: FetchResponsePartitionLike,
    fetched: Map<string, number>,
    stale: () => void,
  ): Promise<void> {
    const partition = part.partitionIndex;
    if (topic === this.settings.wakeTopic && partition === this.wakePartition) {
      const last = part.records?.[part.records.length - 1];
      if (last) this.wakeNext = Number(last.firstOffset) + last.lastOffsetDelta + 1;
      else if (part.errorCode === OFFSET_OUT_OF_RANGE) this.wakeNext = Number(part.highWatermark);
      return;
    }
    const id = `${topic}\u0000${partition}`;
    const lane = this.lanes.get(id);
    const from = fetched.get(id);
    if (!lane || from === undefined) return;
    if (part.errorCode === OFFSET_OUT_OF_RANGE) {
      // Retention deleted these records: Kafka cannot serve them, so parties continue at the first retained one.
      const low = await this.lowOf(topic, partition).catch(() => undefined);
      if (low !== undefined) for (const party of lane.parties) if (party.next < low) party.next = low;
      return;
    }
    if (part.errorCode !== 0) return stale();
    const records: FeedRecord[] = [];
    let end = from;
    // Only decode what some party still needs: a writer's view has usually applied its own records already.
    let need = Infinity;
    for (const party of lane.parties) if (party.next >= from) need = Math.min(need, party.next);
    for (const batch of part.records ?? []) {
      const first = Number(batch.firstOffset);
      end = Math.max(end, first + batch.lastOffsetDelta + 1);
      if (batch.attributes & CONTROL_BATCH) continue;
      for (const record of batch.records) {
        const offset = first + record.offsetDelta;
        if (offset < need) continue;
        const headers: Record<string, string> = {};
        for (const [name, value] of record.headers) if (name && value) headers[name.toString()] = value.toString('utf8');
        records.push({ offset, key: record.key ? record.key.toString('utf8') : null, value: record.value ? record.value.toString('utf8') : null, headers });
      }
    }
    if (end <= from) return;
    for (const party of [...lane.parties]) {
      // A party added during the fetch may need offsets below `from`: it is served by the next fetch.
      if (party.next < from || end <= party.next) continue;
      const start = party.next;
      const slice = records.length > 0 && records[0]!.offset >= start ? records : records.filter((r) => r.offset >= start);
      party.next = end;
      try {
        party.consume(slice, end);
      } catch {
        // A party's failure is its own (tails report through their listener); the other parties keep reading.
      }
    }
  }
}

/** The fields of a Fetch response partition the feed reads. */
interface FetchResponsePartitionLike {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  records?: Array<{ firstOffset: bigint; lastOffsetDelta: number; attributes: number; records: Array<{ offsetDelta: number; key: Buffer | null; value: Buffer | null; headers: Array<[Buffer | null, Buffer | null]> }> }>;
}
