import type { BackendEntry } from '@durable-sessions/core';
import type { Consumer, ConsumerInfo, JsMsg } from '@nats-io/jetstream';
import { LENGTHS_HEADER, offsetOf, unpackRecords } from './frames.js';

/** Messages one pull asks for at most. */
const PULL_MESSAGES = 256;
/** Bytes one pull aims at: bounds what a reader buffers (a message is at most max_payload). */
const PULL_BYTES = 4 * 1024 * 1024;

/**
 * A pull consumer over one log that serves consecutive `read()` pages: a replay creates one consumer instead of
 * one per page, and the records of a packed message beyond the page limit wait in the buffer for the next page
 * instead of being fetched again. Pulls are sized by the consumer's exact pending count, so a pull never waits
 * for messages that do not exist.
 */
export class LogReader {
  private readonly buffer: BackendEntry[] = [];
  private pending: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private averageBytes = 1_024;

  constructor(
    private readonly consumer: Consumer,
    info: ConsumerInfo,
    /** Records at or before this offset are skipped (a start inside a packed message). */
    private readonly floor: string | null,
    /** Deletes the server-side consumer. */
    readonly dispose: () => void,
  ) {
    this.pending = info.num_pending;
  }

  /** Whether the log had nothing more when last asked, and nothing is buffered. */
  get drained(): boolean {
    return this.pending === 0 && this.buffer.length === 0;
  }

  /** Up to `limit` records; fewer only when the end of the log was reached. */
  async take(limit: number): Promise<BackendEntry[]> {
    while (this.buffer.length < limit && this.pending > 0) await this.pull();
    return this.buffer.splice(0, limit);
  }

  /** Frees the consumer after `ms` unless the reader is used again first. */
  park(ms: number, onExpire: () => void): void {
    this.idleTimer = setTimeout(onExpire, ms);
    this.idleTimer.unref?.();
  }

  /** Cancels {@link park}. */
  unpark(): void {
    clearTimeout(this.idleTimer);
  }

  private async pull(): Promise<void> {
    // Sized by the messages seen so far, so a pull of large (packed) messages stays near PULL_BYTES.
    const fit = Math.max(1, Math.floor(PULL_BYTES / Math.max(1, this.averageBytes)));
    const messages = await this.consumer.fetch({ max_messages: Math.min(PULL_MESSAGES, this.pending, fit), expires: 2_000 });
    let received = 0;
    let bytes = 0;
    for await (const m of messages) {
      received++;
      bytes += m.data.byteLength;
      this.add(m);
    }
    if (received > 0) this.averageBytes = bytes / received;
    // Messages counted as pending were removed (retention) before they could be delivered: the log ends here.
    if (received === 0) this.pending = 0;
  }

  private add(m: JsMsg): void {
    this.pending = m.info.pending;
    const lengths = m.headers?.get(LENGTHS_HEADER) || undefined;
    const records = unpackRecords(m.data, lengths);
    for (let i = 0; i < records.length; i++) {
      const offset = offsetOf(m.seq, i, records.length);
      if (this.floor === null || offset > this.floor) this.buffer.push({ offset, payload: records[i]! });
    }
  }
}

/** Readers parked between pages, by log subject and the offset their next page starts after. */
export class ReaderCache {
  private readonly parked = new Map<string, LogReader>();

  constructor(
    private readonly limit = 64,
    private readonly idleMs = 10_000,
  ) {}

  /** Takes the reader parked for this position, if any (only one caller can hold it). */
  take(subject: string, after: string | null): LogReader | undefined {
    const key = `${subject}\u0000${after}`;
    const reader = this.parked.get(key);
    if (!reader) return undefined;
    this.parked.delete(key);
    reader.unpark();
    return reader;
  }

  /** Parks a reader for the page after `after`, or disposes of it when the log is drained. */
  put(subject: string, after: string | null, reader: LogReader): void {
    if (reader.drained) return reader.dispose();
    const key = `${subject}\u0000${after}`;
    this.parked.get(key)?.dispose();
    if (this.parked.size >= this.limit) {
      const [oldestKey, oldest] = this.parked.entries().next().value as [string, LogReader];
      this.parked.delete(oldestKey);
      oldest.unpark();
      oldest.dispose();
    }
    this.parked.set(key, reader);
    reader.park(this.idleMs, () => {
      if (this.parked.get(key) === reader) this.parked.delete(key);
      reader.dispose();
    });
  }

  /** Disposes of every parked reader. */
  clear(): void {
    for (const reader of this.parked.values()) {
      reader.unpark();
      reader.dispose();
    }
    this.parked.clear();
  }
}

