import type { HistoryBudget } from './budget.js';
import { PresenceAction, type Payload } from './protocol.js';

/** A published message as the emulator hands it out (materialised from the compact history on demand). */
export interface StoredMessage extends Payload {
  id: string;
  name?: string;
  clientId?: string;
  connectionId: string;
  timestamp: number;
  serial: string;
  extras?: unknown;
  action: 0;
}

/** A presence event or member as stored. */
export interface StoredPresence extends Payload {
  id: string;
  action: number;
  clientId: string;
  connectionId: string;
  timestamp: number;
}

/** One submitted message, as {@link ChannelState.publish} receives it. */
export type PublishItem = Omit<StoredMessage, 'serial' | 'timestamp' | 'action' | 'id'> & { id?: string };

/** What a publish receives from {@link ChannelState.publish}. */
export interface PublishOutcome {
  /** One serial per submitted message (the original serial for a de-duplicated id). */
  serials: string[];
  /** The messages actually stored (duplicates left out), for fan-out. */
  stored: StoredMessage[];
}

/** A page of history, see {@link ChannelState.page}. */
export interface HistoryQuery {
  direction: 'forwards' | 'backwards';
  limit: number;
  /** Exclusive: the serial the previous page ended at. */
  cursor?: string;
  /** Inclusive upper bound by serial (`untilAttach`). */
  untilSerial?: string;
  /** Inclusive time window (ms). */
  start?: number;
  end?: number;
}

/** Fields of a message beyond its data, kept only for messages that have them (the adapters' messages do not). */
interface MessageExtra {
  id?: string;
  name?: string;
  encoding?: string;
  /** Null: this message has no client id although the publish's first one has. */
  clientId?: string | null;
  extras?: unknown;
}

/**
 * The messages of one publish, stored compactly: serials, ids and timestamps are derived, not stored, so a
 * message costs little more than its data. Message `k` has the serial `serialOf(ts, counter, indexes?.[k] ?? k)`
 * and the id `extra?.[k]?.id ?? `${idPrefix}:${index}``.
 */
interface PublishRecord {
  /** Publish time, never going backwards on a channel; every message's `timestamp`. */
  readonly ts: number;
  /** The channel's publish counter. */
  readonly counter: number;
  /** Channel-wide sequence number of the first message (positions stay valid when older records go). */
  readonly first: number;
  readonly connectionId: string;
  readonly clientId: string | undefined;
  readonly idPrefix: string;
  readonly data: unknown[];
  /** Submitted index of each message, only when some of the publish were duplicates left out. */
  readonly indexes: number[] | undefined;
  readonly extra: Array<MessageExtra | undefined> | undefined;
  /** Estimated heap bytes, for the {@link HistoryBudget}. */
  readonly bytes: number;
}

/** A client-supplied id (or a run of `prefix:0…n-1` ids) remembered for de-duplication. */
interface IdEntry {
  ts: number;
  counter: number;
  /** For a prefix entry: how many indexes (0…count-1) it covers; for an exact entry: the index. */
  n: number;
}

const SERIAL_SERIES = 'emu';
/** Estimated fixed heap cost of a record and of a message beyond its data (measured, rounded up). */
const RECORD_BYTES = 320;
const MESSAGE_BYTES = 24;
/** Presence events kept per channel for presence history (Ably keeps them like messages; tests read a few). */
const PRESENCE_HISTORY_CAP = 10_000;

/**
 * One channel: its message history with serials, its id de-duplication window and its presence set.
 *
 * Serials follow Ably's shape (`<14-digit ms>-<counter>@<series>:<index>`) and sort lexicographically in publish
 * order: the time part never goes backwards and the counter grows with every publish on the channel. History is
 * bounded by `historyTtlMs` (Ably's persisted-history retention) and by the emulator-wide {@link HistoryBudget};
 * either way `trimmedThrough` moves forward and a resume from before it loses continuity (error 90003).
 */
export class ChannelState {
  readonly presence = new Map<string, StoredPresence>();
  readonly presenceHistory: StoredPresence[] = [];
  /** Serial of the newest message removed by retention or the memory budget, or null. */
  trimmedThrough: string | null = null;
  /** Publishes oldest first; entries before `head` are already removed. */
  private readonly records: Array<PublishRecord | undefined> = [];
  /** Index of the oldest live record in `records` (removed from the front lazily, in chunks). */
  private head = 0;
  private nextSeq = 0;
  private readonly exactIds = new Map<string, IdEntry>();
  private readonly prefixIds = new Map<string, IdEntry>();
  private counter = 0;
  private lastTs = 0;
  private last: string;

  constructor(
    readonly name: string,
    private readonly limits: { historyTtlMs: number; idempotencyWindowMs: number },
    private readonly budget?: HistoryBudget,
  ) {
    this.last = serialOf(0, 0, 0);
  }

  /** The serial of the newest message (a floor below every future serial when the channel is empty). */
  get lastSerial(): string {
    return this.last;
  }

  /** How many messages the channel holds. */
  get size(): number {
    return this.nextSeq - this.baseSeq;
  }

  /** Stores a batch of messages from one publish, assigning serials; ids seen within the window are skipped. */
  publish(items: PublishItem[], idBase: string): PublishOutcome {
    const now = Date.now();
    this.prune(now);
    const ts = (this.lastTs = Math.max(this.lastTs, now));
    const counter = ++this.counter;
    const serials: string[] = [];
    const kept: Array<{ item: PublishItem; index: number }> = [];
    const inBatch = new Map<string, string>();
    items.forEach((item, index) => {
      const known = item.id !== undefined ? (inBatch.get(item.id) ?? this.knownSerial(item.id)) : undefined;
      if (known !== undefined) {
        serials.push(known);
        return;
      }
      const serial = serialOf(ts, counter, index);
      if (item.id !== undefined) inBatch.set(item.id, serial);
      serials.push(serial);
      kept.push({ item, index });
    });
    if (kept.length === 0) return { serials, stored: [] };
    const record = this.record(ts, counter, kept, idBase);
    this.records.push(record);
    this.nextSeq += record.data.length;
    this.remember(record, kept);
    const stored = record.data.map((_, k) => materialise(record, k));
    this.last = stored[stored.length - 1]!.serial;
    this.budget?.stored(this, record.bytes);
    return { serials, stored };
  }

  /** Messages with a serial strictly after `serial`, or null when retention removed some of them. */
  messagesAfter(serial: string): StoredMessage[] | null {
    this.prune(Date.now());
    if (this.trimmedThrough !== null && serial < this.trimmedThrough) return null;
    return this.slice(this.seqAfter(serial), this.nextSeq);
  }

  /** The newest `count` messages, oldest first. */
  newest(count: number): StoredMessage[] {
    this.prune(Date.now());
    return this.slice(Math.max(this.baseSeq, this.nextSeq - count), this.nextSeq);
  }

  /** Messages published at or after `since` (ms), at most the newest `max`, oldest first. */
  since(since: number, max: number): StoredMessage[] {
    this.prune(Date.now());
    return this.slice(Math.max(this.seqAtTime(since), this.nextSeq - max), this.nextSeq);
  }

  /**
   * One page of history in `direction` within the query's bounds, and the cursor of the next page (the serial of
   * the page's last message) when more remain. Binary searches: a page costs its size, not the channel's.
   */
  page(query: HistoryQuery): { items: StoredMessage[]; next: string | undefined } {
    this.prune(Date.now());
    let lo = this.baseSeq;
    let hi = this.nextSeq;
    if (query.start !== undefined) lo = Math.max(lo, this.seqAtTime(query.start));
    if (query.end !== undefined) hi = Math.min(hi, this.seqAtTime(query.end + 1));
    if (query.untilSerial !== undefined) hi = Math.min(hi, this.seqAfter(query.untilSerial));
    if (query.cursor !== undefined) {
      if (query.direction === 'forwards') lo = Math.max(lo, this.seqAfter(query.cursor));
      else hi = Math.min(hi, this.seqAtOrAfter(query.cursor));
    }
    if (hi <= lo) return { items: [], next: undefined };
    const count = Math.min(query.limit, hi - lo);
    const items = query.direction === 'forwards' ? this.slice(lo, lo + count) : this.slice(hi - count, hi).reverse();
    return { items, next: hi - lo > count ? items[items.length - 1]!.serial : undefined };
  }

  /** Applies a presence action from `connectionId`; returns the event to broadcast, or undefined for a no-op. */
  applyPresence(event: StoredPresence): StoredPresence | undefined {
    const key = memberKey(event.connectionId, event.clientId);
    const existing = this.presence.get(key);
    let broadcast: StoredPresence | undefined;
    if (event.action === PresenceAction.LEAVE) {
      if (!existing) return undefined;
      this.presence.delete(key);
      broadcast = event.data === undefined ? { ...event, data: existing.data, ...(existing.encoding ? { encoding: existing.encoding } : {}) } : event;
    } else {
      // An enter by a present member is reported as an update, an update by an absent one as an enter, as on Ably.
      const action = existing ? PresenceAction.UPDATE : PresenceAction.ENTER;
      broadcast = { ...event, action };
      this.presence.set(key, { ...event, action: PresenceAction.PRESENT });
    }
    this.presenceHistory.push(broadcast);
    if (this.presenceHistory.length > PRESENCE_HISTORY_CAP * 2) this.presenceHistory.splice(0, this.presenceHistory.length - PRESENCE_HISTORY_CAP);
    return broadcast;
  }

  /** Members a connection entered, for leaves when it goes away. */
  membersOf(connectionId: string): StoredPresence[] {
    return [...this.presence.values()].filter((m) => m.connectionId === connectionId);
  }

  /** Forgets the presence set (a restart loses it: presence is connection state). */
  clearPresence(): void {
    this.presence.clear();
  }

  /**
   * Removes the oldest messages, whole publishes at a time, until about `bytes` are freed (the memory budget);
   * the newest publish stays when `keepNewest`. Returns the bytes freed.
   */
  evict(bytes: number, keepNewest: boolean): number {
    let freed = 0;
    const keep = keepNewest ? 1 : 0;
    while (freed < bytes && this.records.length - this.head > keep) freed += this.dropOldest();
    this.compact();
    return freed;
  }

  private get baseSeq(): number {
    return this.head < this.records.length ? this.records[this.head]!.first : this.nextSeq;
  }

  private at(r: number): PublishRecord {
    return this.records[r]!;
  }

  private record(ts: number, counter: number, kept: Array<{ item: PublishItem; index: number }>, idBase: string): PublishRecord {
    const first = kept[0]!;
    // The adapter's ids (and the SDK's REST ids) are `<prefix>:<index>`: one prefix stands for all of them.
    const prefixMatch = first.item.id !== undefined ? /^(.*):(\d+)$/s.exec(first.item.id) : null;
    const idPrefix = prefixMatch && Number(prefixMatch[2]) === first.index ? prefixMatch[1]! : idBase;
    const clientId = first.item.clientId;
    const regular = kept.every((k, position) => k.index === position);
    let extra: Array<MessageExtra | undefined> | undefined;
    let bytes = RECORD_BYTES + idPrefix.length;
    const data = kept.map(({ item, index }, position) => {
      const more: MessageExtra = {};
      const id = item.id ?? `${idBase}:${index}`;
      if (id !== `${idPrefix}:${index}`) more.id = id;
      if (item.name !== undefined) more.name = item.name;
      if (item.encoding !== undefined) more.encoding = item.encoding;
      if (item.clientId !== clientId) more.clientId = item.clientId ?? null;
      if (item.extras !== undefined) more.extras = item.extras;
      if (Object.keys(more).length > 0) {
        extra ??= [];
        extra[position] = more;
        bytes += 64 + (more.id?.length ?? 0) + (more.name?.length ?? 0) + (more.extras !== undefined ? JSON.stringify(more.extras).length : 0);
      }
      bytes += MESSAGE_BYTES + sizeOf(item.data);
      return item.data;
    });
    return {
      ts,
      counter,
      first: this.nextSeq,
      connectionId: first.item.connectionId,
      clientId,
      idPrefix,
      data,
      indexes: regular ? undefined : kept.map((k) => k.index),
      extra,
      bytes,
    };
  }

  /** Registers the client-supplied ids of a stored publish for de-duplication. */
  private remember(record: PublishRecord, kept: Array<{ item: PublishItem; index: number }>): void {
    const allPrefixed = record.indexes === undefined && record.extra?.some((e) => e?.id !== undefined) !== true;
    if (allPrefixed && kept.every((k) => k.item.id !== undefined)) {
      this.prefixIds.set(record.idPrefix, { ts: record.ts, counter: record.counter, n: kept.length });
      return;
    }
    for (const { item, index } of kept) {
      if (item.id !== undefined) this.exactIds.set(item.id, { ts: record.ts, counter: record.counter, n: index });
    }
  }

  /** The serial an id was stored with within the de-duplication window, if any. */
  private knownSerial(id: string): string | undefined {
    const exact = this.exactIds.get(id);
    if (exact) return serialOf(exact.ts, exact.counter, exact.n);
    const cut = id.lastIndexOf(':');
    if (cut < 0) return undefined;
    const index = Number(id.slice(cut + 1));
    const entry = this.prefixIds.get(id.slice(0, cut));
    if (!entry || !Number.isInteger(index) || index < 0 || index >= entry.n || String(index) !== id.slice(cut + 1)) return undefined;
    return serialOf(entry.ts, entry.counter, index);
  }

  /** The index in `records` of the record holding sequence number `seq` (which must be live). */
  private recordIndexOf(seq: number): number {
    let lo = this.head;
    let hi = this.records.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.at(mid).first <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private recordOf(seq: number): PublishRecord {
    return this.at(this.recordIndexOf(seq));
  }

  private serialAt(seq: number): string {
    const record = this.recordOf(seq);
    const k = seq - record.first;
    return serialOf(record.ts, record.counter, record.indexes?.[k] ?? k);
  }

  /** The first sequence number whose serial is greater than `serial` (`nextSeq` if none). */
  private seqAfter(serial: string): number {
    return this.search((seq) => this.serialAt(seq) > serial);
  }

  /** The first sequence number whose serial is at least `serial`. */
  private seqAtOrAfter(serial: string): number {
    return this.search((seq) => this.serialAt(seq) >= serial);
  }

  /** The first sequence number published at or after `time` (ms). */
  private seqAtTime(time: number): number {
    return this.search((seq) => this.recordOf(seq).ts >= time);
  }

  /** The first live sequence number for which the monotone `test` holds, or `nextSeq`. */
  private search(test: (seq: number) => boolean): number {
    let lo = this.baseSeq;
    let hi = this.nextSeq;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (test(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private slice(from: number, to: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    if (from >= to) return out;
    let r = this.recordIndexOf(from);
    let record = this.at(r);
    for (let seq = from; seq < to; seq++) {
      while (seq >= record.first + record.data.length) record = this.at(++r);
      out.push(materialise(record, seq - record.first));
    }
    return out;
  }

  private dropOldest(): number {
    const record = this.at(this.head);
    this.records[this.head++] = undefined;
    const k = record.data.length - 1;
    this.trimmedThrough = serialOf(record.ts, record.counter, record.indexes?.[k] ?? k);
    return record.bytes;
  }

  /** Drops the emptied front of `records` once it is large, so removal stays amortised O(1). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
    if (this.head === this.records.length) this.budget?.emptied(this);
  }

  private prune(now: number): void {
    const cutoff = now - this.limits.historyTtlMs;
    let freed = 0;
    while (this.head < this.records.length && this.at(this.head).ts < cutoff) freed += this.dropOldest();
    if (freed > 0) {
      this.budget?.released(freed);
      this.compact();
    }
    const idCutoff = now - this.limits.idempotencyWindowMs;
    for (const ids of [this.exactIds, this.prefixIds]) {
      for (const [id, entry] of ids) {
        if (entry.ts >= idCutoff) break;
        ids.delete(id);
      }
    }
    let presenceDrop = 0;
    while (presenceDrop < this.presenceHistory.length && this.presenceHistory[presenceDrop]!.timestamp < cutoff) presenceDrop++;
    if (presenceDrop > 0) this.presenceHistory.splice(0, presenceDrop);
  }
}

/** The message at position `k` of a record, as the protocol carries it. */
function materialise(record: PublishRecord, k: number): StoredMessage {
  const index = record.indexes?.[k] ?? k;
  const more = record.extra?.[k];
  const message: StoredMessage = {
    id: more?.id ?? `${record.idPrefix}:${index}`,
    connectionId: record.connectionId,
    timestamp: record.ts,
    serial: serialOf(record.ts, record.counter, index),
    action: 0,
  };
  const data = record.data[k];
  if (data !== undefined) message.data = data;
  const clientId = more?.clientId === undefined ? record.clientId : more.clientId;
  if (typeof clientId === 'string') message.clientId = clientId;
  if (more?.name !== undefined) message.name = more.name;
  if (more?.encoding !== undefined) message.encoding = more.encoding;
  if (more?.extras !== undefined) message.extras = more.extras;
  return message;
}

/** Rough heap bytes of a message's data. */
function sizeOf(data: unknown): number {
  // One-byte strings (JSON text) take about their length plus a header; two-byte ones are rarer and twice that.
  if (typeof data === 'string') return 24 + data.length;
  if (data instanceof Uint8Array) return 96 + data.byteLength;
  return data === undefined ? 0 : 64;
}

/** The presence-set key of a member: Ably identifies members by connection and client id (RTP17h). */
export function memberKey(connectionId: string, clientId: string): string {
  return `${connectionId}:${clientId}`;
}

function serialOf(ts: number, counter: number, index: number): string {
  return `${String(ts).padStart(14, '0')}-${String(counter).padStart(9, '0')}@${SERIAL_SERIES}:${String(index).padStart(3, '0')}`;
}
