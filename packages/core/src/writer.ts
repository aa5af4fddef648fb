import { DurableSessionError } from './errors.js';
import type { EventInput, SessionWriter, WriterOptions } from './types.js';
import { delay } from './timing.js';

/**
 * What the writer needs from its session: encoding (validation included) as this writer's producer, and one
 * idempotent batch append.
 */
export interface WriterTarget {
  readonly maxBatchSize: number;
  /** The encoder of this writer's events, asked for once: the producer's part of a record never changes. */
  encoder(producerId: string, epoch: number): (event: EventInput) => string;
  appendBatch(records: string[], producer: { id: string; epoch: number; seq: number }): Promise<string[]>;
}

interface Pending {
  record: string;
  /** The promise `write()` returned: marked handled just before it is rejected (see {@link fail}). */
  result: Promise<string>;
  resolve(offset: string): void;
  reject(err: unknown): void;
}

const MAX_RETRY_DELAY_MS = 2_000;

function ignore(): void {}

/**
 * Token streams fire-and-forget writes: a failure surfaces through `flush()`/`close()`, never as an unhandled
 * rejection. So every rejected write promise gets a no-op handler, attached only when it is rejected: a handler on
 * every write up front would cost a second promise per write, which a burst of writes pays for in GC.
 */
function refused(err: unknown): Promise<string> {
  const result = Promise.reject(err);
  result.catch(ignore);
  return result;
}

/** Rejects a queued write (see {@link refused}). */
function fail(pending: Pending, err: unknown): void {
  pending.result.catch(ignore);
  pending.reject(err);
}

/**
 * Runs `fn` once the current turn of the event loop is over: after every write made synchronously in this turn (so
 * they coalesce into one batch) and after the microtasks they queue, but without the >= 1 ms clamp a
 * `setTimeout(fn, 0)` pays. Falls back to a zero timer where `setImmediate` is missing (browsers).
 */
function afterThisTurn(fn: () => void): () => void {
  if (typeof globalThis.setImmediate === 'function') {
    const handle = globalThis.setImmediate(fn);
    return () => globalThis.clearImmediate(handle);
  }
  const timer = setTimeout(fn, 0);
  return () => clearTimeout(timer);
}

/**
 * The coalescing producer behind `session.writer()`. Invariants: one batch in flight, batches leave in write
 * order, and a retried batch keeps its sequence number so the backend stores it once.
 */
export class CoalescingWriter implements SessionWriter {
  readonly producerId: string;
  private readonly epoch: number;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly maxRetries: number;
  private readonly retryBackoffMs: number;
  private readonly encode: (event: EventInput) => string;
  /**
   * Writes not yet sent, already cut into batches: all full except the last. A burst of writes can queue hundreds of
   * thousands; taking a batch off one flat array would move all the others each time.
   */
  private batches: Pending[][] = [];
  private queued = 0;
  private inFlight = 0;
  private seq = 0;
  /** Cancels the scheduled flush (a linger timer, or the end-of-turn flush with `lingerMs: 0`), if one is set. */
  private cancelFlush: (() => void) | undefined;
  private sending: Promise<void> | undefined;
  private failure: unknown;
  private closed = false;

  constructor(
    private readonly target: WriterTarget,
    options: WriterOptions = {},
    private readonly onClose: () => void = () => {},
  ) {
    this.producerId = options.producerId ?? `w-${globalThis.crypto.randomUUID()}`;
    this.epoch = options.epoch ?? 0;
    this.lingerMs = Math.max(0, options.lingerMs ?? 5);
    this.maxBatch = Math.max(1, Math.min(options.maxBatch ?? 256, target.maxBatchSize));
    this.maxRetries = Math.max(0, options.maxRetries ?? 8);
    this.retryBackoffMs = Math.max(1, options.retryBackoffMs ?? 50);
    this.encode = target.encoder(this.producerId, this.epoch);
  }

  get pending(): number {
    return this.queued + this.inFlight;
  }

  write(event: EventInput): Promise<string> {
    if (this.closed) return refused(new DurableSessionError('CLOSED', 'The writer is closed.'));
    if (this.failure !== undefined) return refused(this.failure);
    let record: string;
    try {
      record = this.encode(event);
    } catch (err) {
      return refused(err);
    }
    let resolve!: Pending['resolve'];
    let reject!: Pending['reject'];
    const result = new Promise<string>((ok, no) => {
      resolve = ok;
      reject = no;
    });
    this.enqueue({ record, result, resolve, reject });
    this.schedule();
    return result;
  }

  private enqueue(pending: Pending): void {
    let last = this.batches[this.batches.length - 1];
    if (last === undefined || last.length >= this.maxBatch) this.batches.push((last = []));
    last.push(pending);
    this.queued++;
  }

  async flush(): Promise<void> {
    while (this.queued > 0 || this.sending) {
      if (!this.sending) this.kick();
      await this.sending;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return this.flush();
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.onClose();
    }
  }

  private schedule(): void {
    if (this.sending) return;
    if (this.queued >= this.maxBatch) return this.kick();
    if (this.cancelFlush) return;
    if (this.lingerMs === 0) {
      // Not at once: writes made later in this same turn (a loop of writes) must join the batch.
      this.cancelFlush = afterThisTurn(() => this.kick());
    } else {
      const timer = setTimeout(() => this.kick(), this.lingerMs);
      this.cancelFlush = () => clearTimeout(timer);
    }
  }

  private kick(): void {
    if (this.cancelFlush) {
      this.cancelFlush();
      this.cancelFlush = undefined;
    }
    if (this.sending || this.queued === 0) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
      // Events written while the last batch was in flight: send them now if a full batch is waiting, else linger.
      if (this.queued > 0 && this.failure === undefined) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    // Keep sending while full batches are waiting, so a burst does not pay the linger delay per batch.
    do {
      const batch = this.batches.shift()!;
      this.queued -= batch.length;
      this.inFlight = batch.length;
      try {
        const offsets = await this.sendWithRetry(batch.map((p) => p.record), this.seq);
        this.seq++;
        batch.forEach((p, i) => p.resolve(offsets[i]!));
      } catch (err) {
        this.failure = err;
        const rest = this.batches.flat();
        this.batches = [];
        this.queued = 0;
        for (const p of batch) fail(p, err);
        for (const p of rest) fail(p, err);
        return;
      } finally {
        this.inFlight = 0;
      }
    } while (this.queued >= this.maxBatch);
  }

  private async sendWithRetry(records: string[], seq: number): Promise<string[]> {
    let backoff = this.retryBackoffMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const offsets = await this.target.appendBatch(records, { id: this.producerId, epoch: this.epoch, seq });
        if (offsets.length !== records.length) {
          throw new DurableSessionError('INTERNAL', `Backend returned ${offsets.length} offsets for ${records.length} events (a retried batch whose offsets it no longer knows).`);
        }
        return offsets;
      } catch (err) {
        const retryable = err instanceof DurableSessionError && err.retryable;
        if (!retryable || attempt >= this.maxRetries) throw err;
        await delay(backoff);
        backoff = Math.min(MAX_RETRY_DELAY_MS, backoff * 2);
      }
    }
  }
}
