import { advanceProducer, checkProducer, DurableSessionError, type BackendPresenceEntry, type ProducerState } from '@durable-sessions/core';
import { NAME } from './errors.js';
import type { FeedRecord, Party } from './feed.js';
import { encodeOffset } from './offsets.js';

/** Header on the end-of-stream record. */
export const END_HEADER = 'ds-end';
/**
 * Header on the first record of an idempotent append: `<epoch>.<seq>.<producer id>`. (Records written by earlier
 * versions carry it on every record of the append; the view reads only the first record's, so both read the same.)
 */
export const PRODUCER_HEADER = 'ds-producer';
/** Header on the first record of an append: how many records the append holds (one record batch, contiguous). */
export const COUNT_HEADER = 'ds-n';

/** Parses a producer header. */
function parseProducer(value: string): { epoch: number; seq: number; id: string } | undefined {
  const a = value.indexOf('.');
  const b = value.indexOf('.', a + 1);
  if (a < 0 || b < 0) return undefined;
  const epoch = Number(value.slice(0, a));
  const seq = Number(value.slice(a + 1, b));
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(seq)) return undefined;
  return { epoch, seq, id: value.slice(b + 1) };
}

/** What the adapter knows about one session log, rebuilt from the log itself. */
export interface LogState {
  /** Kafka offset of the session's first accepted record, or null: replays from the start begin there. */
  first: number | null;
  /** Kafka offset of the newest record, or null. */
  last: number | null;
  ended: boolean;
  producers: Map<string, ProducerState>;
}

/** Waits until a view has consumed up to an offset. */
interface Waiter {
  target: number;
  resolve(): void;
}

/**
 * Base of the materialized views: a party that reads a partition from its first retained record and stays live,
 * so `waitFor(highWatermark)` gives read-your-writes for every session of that partition.
 */
abstract class View implements Party {
  next: number;
  /** Asks the feed to read for this view now (set by whoever added it to the feed; see {@link LogView.wants}). */
  onDemand: (() => void) | undefined;
  protected waiters: Waiter[] = [];

  constructor(start: number) {
    this.next = start;
  }

  consume(records: readonly FeedRecord[], end: number): void {
    for (const record of records) this.apply(record);
    this.advanceTo(end);
  }

  /** Moves the view's position to `end` (all records below it applied) and wakes whoever waited for that. */
  protected advanceTo(end: number): void {
    this.next = Math.max(this.next, end);
    if (this.waiters.length === 0) return;
    const due = this.waiters.filter((w) => w.target <= this.next);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.target > this.next);
    for (const w of due) w.resolve();
  }

  /** Resolves once every record below `target` was applied, however long that takes. */
  whenAt(target: number): Promise<void> {
    if (this.next >= target) return Promise.resolve();
    return new Promise((resolve) => this.wait({ target, resolve }));
  }

  /** Resolves once every record below `target` was applied; TIMEOUT after `timeoutMs`. */
  waitFor(target: number, timeoutMs: number): Promise<void> {
    if (this.next >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new DurableSessionError('TIMEOUT', `The adapter's consumer did not catch up to offset ${target} within ${timeoutMs} ms.`, { backend: NAME }));
      }, timeoutMs);
      this.wait(waiter);
    });
  }

  private wait(waiter: Waiter): void {
    this.waiters.push(waiter);
    if (this.waiters.length === 1) this.onDemand?.();
  }

  protected abstract apply(record: FeedRecord): void;
}

/**
 * How the log judged one append (its records are `[first, first + count)`). The log is the arbiter: every process
 * applies the same rules to the same records in the same order, so all agree on which appends count.
 */
export type Verdict =
  | { accepted: true }
  | { accepted: false; duplicate: string[] }
  | { accepted: false; error: DurableSessionError };

/** The headers of a record that has none (shared: the view only reads them). */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Verdicts kept for writers that wait for the judgement of their own append. */
const VERDICTS_KEPT = 10_000;

/** The append the view is in the middle of applying (its records are contiguous). */
interface OpenAppend {
  key: string;
  left: number;
  accepted: boolean;
  state: LogState;
  producer: { epoch: number; seq: number; id: string } | undefined;
  /** The append's offsets, kept for the producer state (duplicates are answered with them); empty without one. */
  offsets: string[];
}

/**
 * Per-session state of one partition of the event or control topic: last offset, end flag, producer states.
 *
 * Appends are judged here, in log order, not before writing: an append (marked by {@link COUNT_HEADER}) that follows
 * the session's end, or that the producer rules refuse (duplicate, gap, fenced epoch), is *rejected*: its records
 * stay in Kafka but every reader of the adapter skips them, and the writer is answered with the verdict. Writers
 * check their cached state first only to fail fast; correctness never depends on that cache being fresh.
 */
export class LogView extends View {
  private readonly logs = new Map<string, LogState>();
  /** Offsets of rejected records (rare: races between processes, stale caches). */
  private readonly rejectedOffsets = new Set<number>();
  private readonly verdicts = new Map<number, Verdict>();
  private open: OpenAppend | undefined;

  constructor(
    private readonly partition: number,
    start: number,
  ) {
    super(start);
  }

  /**
   * Only while someone waits for it: between appends this process makes, the view applies its own records itself
   * (see the backend's `judged`), and others' records are read when an append or a read needs them.
   */
  wants(): boolean {
    return this.waiters.length > 0;
  }

  /** The state of a session (an empty one when it has no records). */
  state(key: string): LogState {
    return this.logs.get(key) ?? { first: null, last: null, ended: false, producers: new Map() };
  }

  /** Whether the record at `offset` (already applied) belongs to a rejected append. */
  isRejected(offset: number): boolean {
    return this.rejectedOffsets.has(offset);
  }

  /** The verdict on the append whose first record is at `offset`, once applied. */
  verdict(offset: number): Verdict | undefined {
    return this.verdicts.get(offset);
  }

  protected apply(record: FeedRecord): void {
    if (record.key !== null && record.value !== null) this.applyOne(record.offset, record.key, record.headers);
  }

  /**
   * Applies an append this process has just written at `base`, where the view stands: the judgement reading it back
   * would give (the same rules, record by record), without building a record object per event. Returns the
   * append's offsets when the view computed them (an accepted append with a producer stamp), for the writer to reuse.
   */
  applyOwn(base: number, key: string, records: ReadonlyArray<{ readonly headers?: Readonly<Record<string, string>> }>): string[] | undefined {
    if (this.next !== base) throw new DurableSessionError('INTERNAL', `The view stands at ${this.next}, not at the append's offset ${base}.`, { backend: NAME });
    let completed: OpenAppend | undefined;
    for (let i = 0; i < records.length; i++) {
      const done = this.applyOne(base + i, key, records[i]!.headers ?? NO_HEADERS);
      if (done) completed = done;
    }
    this.advanceTo(base + records.length);
    return completed && completed.accepted && completed.producer ? completed.offsets : undefined;
  }

  /** Applies one record; returns the append it completed, if it completed one. */
  private applyOne(offset: number, key: string, headers: Readonly<Record<string, string>>): OpenAppend | undefined {
    let open = this.open;
    if (!open || open.left === 0 || open.key !== key) {
      this.open = undefined;
      const count = Number(headers[COUNT_HEADER]);
      if (!Number.isSafeInteger(count) || count < 1) {
        this.applyUnjudged(offset, key, headers);
        return undefined;
      }
      open = this.startAppend(offset, key, headers, count);
    }
    open.left--;
    if (!open.accepted) {
      this.rejectedOffsets.add(offset);
    } else {
      const state = open.state;
      state.first ??= offset;
      state.last = offset;
      if (headers[END_HEADER] !== undefined) state.ended = true;
      if (open.producer) open.offsets.push(encodeOffset(this.partition, offset));
      if (open.left === 0 && open.producer) {
        state.producers.set(open.producer.id, advanceProducer(state.producers.get(open.producer.id), open.producer, open.offsets));
      }
    }
    if (open.left > 0) return undefined;
    this.open = undefined;
    return open;
  }

  private startAppend(offset: number, key: string, headers: Readonly<Record<string, string>>, count: number): OpenAppend {
    const state = this.stateFor(key);
    const stamp = headers[PRODUCER_HEADER];
    const producer = stamp === undefined ? undefined : parseProducer(stamp);
    let verdict: Verdict = { accepted: true };
    if (state.ended) {
      verdict = { accepted: false, error: new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend: NAME }) };
    } else if (producer) {
      try {
        const check = checkProducer(state.producers.get(producer.id), producer);
        if (check.action === 'duplicate') verdict = { accepted: false, duplicate: check.offsets };
      } catch (err) {
        verdict = { accepted: false, error: err as DurableSessionError };
      }
    }
    this.verdicts.set(offset, verdict);
    if (this.verdicts.size > VERDICTS_KEPT) this.verdicts.delete(this.verdicts.keys().next().value!);
    return (this.open = { key, left: count, accepted: verdict.accepted, state, producer, offsets: [] });
  }

  /** Records written without a count header (by another tool, or raw): taken as they are. */
  private applyUnjudged(offset: number, key: string, headers: Readonly<Record<string, string>>): void {
    const state = this.stateFor(key);
    state.first ??= offset;
    state.last = offset;
    if (headers[END_HEADER] !== undefined) state.ended = true;
  }

  private stateFor(key: string): LogState {
    let state = this.logs.get(key);
    if (!state) this.logs.set(key, (state = { first: null, last: null, ended: false, producers: new Map() }));
    return state;
  }
}

/** How long an expired presence member is still listed (the core filters it) before the view forgets it. */
const FORGET_EXPIRED_MS = 60_000;

/** One presence record as stored in the compacted topic. */
interface StoredPresence {
  p: string;
  e: number;
}

/** Presence members of one partition of the compacted presence topic, keyed `<session key>/<connection id>`. */
export class PresenceView extends View {
  private readonly sets = new Map<string, Map<string, BackendPresenceEntry>>();
  private readonly watchers = new Map<string, Set<() => void>>();

  members(key: string): BackendPresenceEntry[] {
    const members = this.sets.get(key);
    if (!members) return [];
    // Crashed members never send a tombstone: forget long-expired ones so memory stays bounded. Recently expired
    // ones are returned: the core filters by expiresAt against its own clock reading, and tells a timeout from a
    // leave by whether the member it no longer sees had expired; dropping them here first would turn a timeout
    // into a "left".
    const forgetBefore = Date.now() - FORGET_EXPIRED_MS;
    for (const [id, entry] of members) if (entry.expiresAt <= forgetBefore) members.delete(id);
    if (members.size === 0) this.sets.delete(key);
    return [...members.values()];
  }

  watch(key: string, onChange: () => void): () => void {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(onChange);
    return () => {
      set!.delete(onChange);
      if (set!.size === 0) this.watchers.delete(key);
    };
  }

  protected apply(record: FeedRecord): void {
    if (record.key === null) return;
    const cut = record.key.indexOf('/');
    if (cut <= 0) return;
    const key = record.key.slice(0, cut);
    const connectionId = record.key.slice(cut + 1);
    let members = this.sets.get(key);
    let changed: boolean;
    if (record.value === null) {
      changed = members?.delete(connectionId) ?? false;
      if (members?.size === 0) this.sets.delete(key);
    } else {
      let stored: StoredPresence;
      try {
        stored = JSON.parse(record.value) as StoredPresence;
      } catch {
        return;
      }
      if (typeof stored.p !== 'string' || typeof stored.e !== 'number') return;
      if (!members) this.sets.set(key, (members = new Map()));
      changed = members.get(connectionId)?.payload !== stored.p;
      members.set(connectionId, { connectionId, payload: stored.p, expiresAt: stored.e });
    }
    if (!changed) return;
    const set = this.watchers.get(key);
    if (set) for (const fn of set) queueMicrotask(fn);
  }
}

/** Encodes a presence record value. */
export function encodePresence(entry: BackendPresenceEntry): string {
  const stored: StoredPresence = { p: entry.payload, e: entry.expiresAt };
  return JSON.stringify(stored);
}
