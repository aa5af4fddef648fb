import { Observable } from 'rxjs';
import { END_TYPE } from './codec.js';
import { DurableSessionError, toDurableSessionError } from './errors.js';
import { FORK_TYPE, forkPosition, inheritedEvent, ownEvent, type ForkOrigin } from './fork.js';
import { delay } from './timing.js';
import type { ReadResult, SessionEvent, SubscribeOptions } from './types.js';

/** What reading a fork needs from its session handle: the source's public reads and the own log's plain ones. */
export interface ForkHost {
  /** The fork's session id. */
  readonly id: string;
  /** The fork's origin. */
  readonly origin: ForkOrigin;
  /** How long the inherited replay retries a failing backend before the subscription fails (as the own log's does). */
  readonly reconnectTimeoutMs: number;
  /** A page of the source (public offsets of the source), strictly after `from`. */
  readSource(from: string, limit: number): Promise<ReadResult>;
  /** A page of the fork's own log (core offsets, fork record included), strictly after `from`. */
  readOwn(from: string, limit: number): Promise<ReadResult>;
  /** Replay-then-live over the fork's own log (core offsets). */
  iterateOwn(options: SubscribeOptions): AsyncIterableIterator<SessionEvent>;
}

/** One step through the inherited history: the events to deliver, where it stopped, and whether it is exhausted. */
interface InheritedStep {
  events: SessionEvent[];
  after: string;
  done: boolean;
}

const MAX_SOURCE_PAGE = 1_000;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

/** Reads one page of the source strictly after `after`, cut at the fork point; `$end` is never inherited. */
async function inheritedPage(host: ForkHost, after: string, limit: number): Promise<InheritedStep> {
  const at = host.origin.at!;
  const page = await host.readSource(after, Math.max(1, Math.min(MAX_SOURCE_PAGE, limit)));
  const events: SessionEvent[] = [];
  let done = page.upToDate || page.events.length === 0;
  for (const event of page.events) {
    if (event.offset > at) {
      done = true;
      break;
    }
    after = event.offset;
    // A branch stays open even when its source had ended: the source's end marker is not part of its history.
    if (event.type !== END_TYPE) events.push(inheritedEvent(event, host.id));
    if (event.offset === at) {
      done = true;
      break;
    }
  }
  return { events, after, done };
}

/** `read()` on a fork: the source's events up to the fork point, then the fork's own events, in one page. */
export async function readFork(host: ForkHost, from: string, limit: number): Promise<ReadResult> {
  const { origin } = host;
  const position = forkPosition(origin, from, host.id);
  const events: SessionEvent[] = [];
  let next: string = from;
  let ownFrom: string;
  if (position.phase === 'inherited') {
    let after = position.after;
    for (;;) {
      const step = await inheritedPage(host, after, limit - events.length);
      events.push(...step.events);
      after = step.after;
      if (after !== 'start') next = after;
      if (step.done) break;
      if (events.length >= limit) return { events, next, upToDate: false, ended: false };
    }
    if (events.length >= limit) return { events, next, upToDate: false, ended: false };
    ownFrom = origin.record;
  } else {
    ownFrom = position.from;
  }
  const page = await host.readOwn(ownFrom, limit - events.length);
  for (const event of page.events) {
    next = origin.prefix + event.offset;
    if (event.type !== FORK_TYPE) events.push(ownEvent(origin, event));
  }
  return { events, next, upToDate: page.upToDate, ended: page.ended };
}

/**
 * Replay-then-live on a fork, as a pull-based iterator: the inherited history page by page from the source, then
 * the fork's own log through the core's usual replay-then-live machinery. `return()` stops at once, even while a
 * live wait is pending.
 */
export class ForkIterator implements AsyncIterableIterator<SessionEvent> {
  private phase: 'init' | 'inherited' | 'own' | 'done' = 'init';
  private finished = false;
  private after = 'start';
  private buffer: SessionEvent[] = [];
  private own: AsyncIterableIterator<SessionEvent> | undefined;
  private failingSince: number | undefined;
  private backoff = FIRST_BACKOFF_MS;
  private readonly onAbort = () => void this.return();

  constructor(
    private readonly host: ForkHost,
    private readonly options: SubscribeOptions,
    private readonly release: () => void,
  ) {
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal?.aborted) this.finish();
  }

  async next(): Promise<IteratorResult<SessionEvent>> {
    try {
      for (;;) {
        if (this.phase === 'done') return { value: undefined, done: true };
        const buffered = this.buffer.shift();
        if (buffered !== undefined) return { value: buffered, done: false };
        if (this.phase === 'init') {
          const position = forkPosition(this.host.origin, this.options.from, this.host.id);
          if (position.phase === 'inherited') {
            this.phase = 'inherited';
            this.after = position.after;
          } else this.startOwn(position.from);
          continue;
        }
        if (this.phase === 'inherited') {
          let step: InheritedStep;
          try {
            step = await inheritedPage(this.host, this.after, this.options.pageSize ?? 500);
          } catch (err) {
            // Like the own log's replay (C19): retryable failures are retried from the last delivered offset.
            const error = toDurableSessionError(err, 'BACKEND_UNAVAILABLE');
            if (!error.retryable || this.phase !== 'inherited') throw error;
            this.failingSince ??= Date.now();
            if (Date.now() - this.failingSince > this.host.reconnectTimeoutMs) throw error;
            await delay(this.backoff, this.options.signal);
            this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
            continue;
          }
          this.failingSince = undefined;
          this.backoff = FIRST_BACKOFF_MS;
          if (this.phase !== 'inherited') continue;
          this.buffer = step.events;
          this.after = step.after;
          if (step.done) this.startOwn(this.host.origin.record);
          continue;
        }
        const item = await this.own!.next();
        if (item.done) {
          this.finish();
          return { value: undefined, done: true };
        }
        if (item.value.type === FORK_TYPE) continue;
        return { value: ownEvent(this.host.origin, item.value), done: false };
      }
    } catch (err) {
      this.finish();
      throw err;
    }
  }

  async return(): Promise<IteratorResult<SessionEvent>> {
    this.finish();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SessionEvent> {
    return this;
  }

  private startOwn(from: string): void {
    this.phase = 'own';
    const { signal, pageSize } = this.options;
    this.own = this.host.iterateOwn({ from, ...(signal ? { signal } : {}), ...(pageSize !== undefined ? { pageSize } : {}) });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.phase = 'done';
    this.buffer = [];
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const own = this.own;
    this.own = undefined;
    void own?.return?.();
    this.release();
  }
}

/** An async iterator as an Observable: pulls one event at a time; unsubscribing returns the iterator. */
export function iteratorObservable(open: () => AsyncIterableIterator<SessionEvent>): Observable<SessionEvent> {
  return new Observable<SessionEvent>((subscriber) => {
    const iterator = open();
    let stopped = false;
    void (async () => {
      try {
        for (;;) {
          const item = await iterator.next();
          if (stopped) return;
          if (item.done) return subscriber.complete();
          subscriber.next(item.value);
        }
      } catch (err) {
        if (!stopped) subscriber.error(err);
      }
    })();
    return () => {
      stopped = true;
      void iterator.return?.();
    };
  });
}

/** The failure of a subscription that started on an empty session which then became a fork (C21). */
export function becameForkError(sessionId: string): DurableSessionError {
  return new DurableSessionError('CONFLICT', `Session ${JSON.stringify(sessionId)} became a fork while it was being read; subscribe again.`, {
    details: { sessionId },
  });
}

/**
 * An iterator that opens its source on the first `next()` (after an async decision such as resolving a session's
 * origin) and whose `return()` works before, during and after opening.
 */
export class LazyIterator implements AsyncIterableIterator<SessionEvent> {
  private inner: AsyncIterableIterator<SessionEvent> | undefined;
  private opening: Promise<AsyncIterableIterator<SessionEvent>> | undefined;
  private stopped = false;

  constructor(private readonly open: () => Promise<AsyncIterableIterator<SessionEvent>>) {}

  next(): Promise<IteratorResult<SessionEvent>> {
    // Once open, straight through: no extra async hop per event (replay delivers hundreds of thousands per second).
    if (this.inner) return this.inner.next();
    return this.openThenNext();
  }

  private async openThenNext(): Promise<IteratorResult<SessionEvent>> {
    if (this.stopped) return { value: undefined, done: true };
    this.opening ??= this.open();
    const inner = await this.opening;
    if (this.stopped) {
      void inner.return?.();
      return { value: undefined, done: true };
    }
    this.inner ??= inner;
    return this.inner.next();
  }

  async return(): Promise<IteratorResult<SessionEvent>> {
    this.stopped = true;
    const inner = this.inner;
    this.inner = undefined;
    if (inner) await inner.return?.();
    else this.opening?.then((i) => i.return?.(), () => {});
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SessionEvent> {
    return this;
  }
}

/**
 * Wraps the plain iterator of a session that was empty when it was opened: if the first event turns out to be a
 * fork record (a fork was created into the session meanwhile), the offsets it would deliver would be wrong, so it
 * fails with `CONFLICT` instead.
 */
export function guardEmptyStart(sessionId: string, inner: AsyncIterableIterator<SessionEvent>): AsyncIterableIterator<SessionEvent> {
  let first = true;
  const iterator: AsyncIterableIterator<SessionEvent> = {
    async next() {
      const item = await inner.next();
      if (!item.done && first) {
        first = false;
        if (item.value.type === FORK_TYPE) {
          await inner.return?.();
          throw becameForkError(sessionId);
        }
      }
      return item;
    },
    return: () => inner.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
