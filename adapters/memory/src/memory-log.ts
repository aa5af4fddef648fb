import {
  advanceProducer,
  checkProducer,
  DurableSessionError,
  padNumber,
  type BackendAppendRequest,
  type BackendAppendResult,
  type BackendEntry,
  type BackendLogInfo,
  type ProducerState,
  type RetentionOptions,
  type TailListener,
} from '@durable-sessions/core';

/** Width of the zero-padded sequence offsets: 16 digits sort correctly far beyond any in-memory log. */
const OFFSET_WIDTH = 16;
/** Records handed to a tail listener per call, so a long backlog does not build one huge array. */
const DELIVERY_CHUNK = 1_000;

interface Stored {
  readonly offset: string;
  readonly payload: string;
  readonly at: number;
}

interface Follower {
  after: string | null;
  listener: TailListener;
  scheduled: boolean;
  active: boolean;
}

/** One session log in memory: an array with a moving head, producer states and live followers. */
export class MemoryLog {
  private entries: Stored[] = [];
  private head = 0;
  private nextSeq = 1;
  private ended = false;
  private trimmedThrough: string | null = null;
  private readonly producers = new Map<string, ProducerState>();
  private readonly followers = new Set<Follower>();

  constructor(private readonly retention: RetentionOptions) {}

  append(request: BackendAppendRequest): BackendAppendResult {
    if (this.ended) throw new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend: 'memory' });
    const { producer } = request;
    const state = producer ? this.producers.get(producer.id) : undefined;
    if (producer) {
      const verdict = checkProducer(state, producer);
      if (verdict.action === 'duplicate') return { offsets: verdict.offsets, duplicate: true };
    }
    const now = Date.now();
    const offsets = request.records.map((payload) => {
      const offset = padNumber(this.nextSeq++, OFFSET_WIDTH);
      this.entries.push({ offset, payload, at: now });
      return offset;
    });
    if (producer) this.producers.set(producer.id, advanceProducer(state, producer, offsets));
    if (request.end) this.ended = true;
    this.trim(now);
    for (const follower of this.followers) this.schedule(follower);
    return { offsets };
  }

  read(after: string | null, limit: number): BackendEntry[] {
    this.trim(Date.now());
    if (after !== null && this.trimmedThrough !== null && after < this.trimmedThrough) {
      throw new DurableSessionError('OFFSET_TRIMMED', `Records after ${after} were removed by retention.`, { backend: 'memory' });
    }
    const start = this.indexAfter(after);
    return this.entries.slice(start, start + limit).map(({ offset, payload }) => ({ offset, payload }));
  }

  info(): BackendLogInfo {
    this.trim(Date.now());
    const last = this.entries.length > this.head ? this.entries[this.entries.length - 1]!.offset : this.trimmedThrough;
    return { last, ended: this.ended, trimmedThrough: this.trimmedThrough };
  }

  tail(after: string | null, listener: TailListener): () => void {
    const follower: Follower = { after, listener, scheduled: false, active: true };
    this.followers.add(follower);
    this.schedule(follower);
    return () => {
      follower.active = false;
      this.followers.delete(follower);
    };
  }

  /** Fails every follower, for backend close. */
  closeFollowers(err: DurableSessionError): void {
    for (const follower of this.followers) {
      follower.active = false;
      follower.listener.error(err);
    }
    this.followers.clear();
  }

  /** Whether nothing references this log any more (for garbage collection of idle logs). */
  get isEmpty(): boolean {
    return this.entries.length === this.head && this.followers.size === 0 && !this.ended && this.producers.size === 0;
  }

  private schedule(follower: Follower): void {
    if (follower.scheduled) return;
    follower.scheduled = true;
    // Delivered on a microtask, never inside append(): a subscriber that appends from its handler must not re-enter.
    queueMicrotask(() => {
      follower.scheduled = false;
      while (follower.active) {
        const start = this.indexAfter(follower.after);
        if (start >= this.entries.length) return;
        const chunk = this.entries.slice(start, start + DELIVERY_CHUNK).map(({ offset, payload }) => ({ offset, payload }));
        follower.after = chunk[chunk.length - 1]!.offset;
        follower.listener.next(chunk);
      }
    });
  }

  /** Index of the first retained entry strictly after `after`. Offsets are dense sequence numbers. */
  private indexAfter(after: string | null): number {
    if (after === null) return this.head;
    const first = this.entries[this.head];
    if (!first) return this.entries.length;
    const delta = Number(after) - Number(first.offset) + 1;
    return Math.min(this.entries.length, this.head + Math.max(0, delta));
  }

  private trim(now: number): void {
    const { maxEvents, maxAgeMs } = this.retention;
    let head = this.head;
    if (maxEvents !== undefined) head = Math.max(head, this.entries.length - maxEvents);
    if (maxAgeMs !== undefined) {
      const cutoff = now - maxAgeMs;
      while (head < this.entries.length && this.entries[head]!.at < cutoff) head++;
    }
    if (head === this.head) return;
    this.trimmedThrough = this.entries[head - 1]!.offset;
    this.head = head;
    // Compact once the dead prefix dominates, so trimming stays amortised O(1) per event.
    if (this.head > 1_024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
