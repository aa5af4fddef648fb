import { Observable } from 'rxjs';
import type { Backend, BackendEntry, LogRef } from './backend.js';
import { decodeEvent, decodeRecord, isEndPayload, isEndRecord, parseRecordText, parseRecords } from './codec.js';
import { DurableSessionError, toDurableSessionError } from './errors.js';
import { formatOffset, parseOffset } from './offsets.js';
import type { SessionEvent, StartPosition, SubscribeOptions } from './types.js';
import { abortable, delay } from './timing.js';

/** Everything the core needs to read one log of one session. */
export interface LogContext {
  readonly backend: Backend;
  readonly log: LogRef;
  /** The offset tag of this log (see `offsetTag`). */
  readonly tag: string;
  /** How long a failing backend is retried before the subscription fails. */
  readonly reconnectTimeoutMs: number;
  /** Shared counters of the store, for `store.stats()`. */
  readonly stats: MutableStats;
}

/** Live resource counters of a store. */
export interface MutableStats {
  tails: number;
  subscriptions: number;
}

/** Where reading starts, resolved against the log: a raw offset (exclusive), or `done` when nothing can follow. */
export interface ResolvedStart {
  after: string | null;
  done: boolean;
}

export const DEFAULT_PAGE_SIZE = 500;
const MAX_PAGE_SIZE = 10_000;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

/** Normalises a backend failure: typed errors pass through, anything else counts as the backend being unavailable. */
export function backendError(ctx: { backend: Backend }, err: unknown): DurableSessionError {
  return toDurableSessionError(err, 'BACKEND_UNAVAILABLE', ctx.backend.name);
}

/**
 * Resolves `from` against the log. An offset must carry this log's tag, must not lie beyond the last event (it
 * never existed) and must not lie below the retention watermark (events after it are gone).
 */
export async function resolveStart(ctx: LogContext, from: StartPosition | undefined): Promise<ResolvedStart> {
  if (from === 'start') return { after: null, done: false };
  if (from !== 'now' && from !== undefined) parseOffset(from, ctx.tag);
  if (from === undefined) {
    throw new DurableSessionError('INVALID_OFFSET', "`from` is required: an offset, 'start' or 'now'.");
  }
  const info = await ctx.backend.info(ctx.log).catch((err: unknown) => Promise.reject(backendError(ctx, err)));
  if (from === 'now') return { after: info.last, done: info.ended };
  const raw = parseOffset(from, ctx.tag);
  if (info.last === null || raw > info.last) {
    throw new DurableSessionError('INVALID_OFFSET', `Offset ${from} lies beyond the end of session ${JSON.stringify(ctx.log.sessionId)}: it never existed.`, {
      details: { offset: from, last: info.last === null ? null : formatOffset(info.last, ctx.tag) },
    });
  }
  if (info.trimmedThrough !== null && raw < info.trimmedThrough) {
    throw new DurableSessionError('OFFSET_TRIMMED', `Events after offset ${from} were removed by retention; resuming from it would skip them.`, {
      details: { offset: from, trimmedThrough: formatOffset(info.trimmedThrough, ctx.tag) },
    });
  }
  return { after: raw, done: info.ended && raw >= info.last };
}

/**
 * A backend may attach to a page it returns from `read` a function giving the page's payloads as one JSON array
 * text (`[p1,p2,…]`), under this registered symbol, when it builds that text cheaper than the payload strings (from
 * the reply's bytes, say). Every payload must be one `{…}` object. The page decoder then parses that text instead
 * of joining the payloads, which stay available (lazily) for the careful path.
 */
export const PAGE_TEXT: unique symbol = Symbol.for('durable-sessions.pageText') as never;

/** A page that may carry {@link PAGE_TEXT}. */
type PageWithText = readonly BackendEntry[] & { readonly [PAGE_TEXT]?: () => string };

/** Below this many entries a page is decoded one by one (joining buys nothing). */
const BULK_DECODE_MIN = 8;

/** Decodes raw entries after `after`, stopping at an end record. */
export function decodeEntries(ctx: LogContext, entries: readonly BackendEntry[], after: string | null) {
  // Adapters may redeliver (at-least-once tails); strictly increasing offsets make dropping repeats exact.
  let first = 0;
  if (after !== null) while (first < entries.length && entries[first]!.offset <= after) first++;
  const fresh = first === 0 ? entries : entries.slice(first);
  const text = first === 0 ? (entries as PageWithText)[PAGE_TEXT] : undefined;
  const records =
    fresh.length >= BULK_DECODE_MIN && ascending(fresh) ? (text ? parseRecordText(text(), fresh.length) : parseRecords(fresh.map(payloadOf))) : undefined;
  if (records === undefined) return decodeEach(ctx, fresh, after);
  const events: SessionEvent[] = new Array(records.length);
  // A public offset is the raw one plus a per-log suffix: built once per page, one concatenation per event.
  const suffix = formatOffset('', ctx.tag);
  const { sessionId } = ctx.log;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    events[i] = decodeRecord(record, fresh[i]!.offset + suffix, sessionId);
    if (isEndRecord(record)) {
      events.length = i + 1;
      return { events, last: fresh[i]!.offset, ended: true };
    }
  }
  return { events, last: fresh.length > 0 ? fresh[fresh.length - 1]!.offset : after, ended: false };
}

function payloadOf(entry: BackendEntry): string {
  return entry.payload;
}

/** True when offsets strictly increase (the bulk path relies on it; anything else takes the careful path). */
function ascending(entries: readonly BackendEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i - 1]!.offset >= entries[i]!.offset) return false;
  return true;
}

function decodeEach(ctx: LogContext, entries: readonly BackendEntry[], after: string | null) {
  const events: SessionEvent[] = [];
  let last = after;
  let ended = false;
  for (const entry of entries) {
    if (last !== null && entry.offset <= last) continue;
    events.push(decodeEvent(entry.payload, formatOffset(entry.offset, ctx.tag), ctx.log.sessionId));
    last = entry.offset;
    if (isEndPayload(entry.payload)) {
      ended = true;
      break;
    }
  }
  return { events, last, ended };
}

/** Where a pump delivers. Returning a promise pauses the pump until it settles (bounded memory for slow consumers). */
export interface Sink {
  push(events: SessionEvent[]): void | Promise<void>;
}

/**
 * Replays a log page by page from `from`, then follows it live, and repeats the replay whenever the live phase
 * pauses (a slow consumer) or fails retryably, always from the last delivered offset: no gap, no duplicate.
 * Resolves after the `$end` event or on abort; rejects on a non-retryable failure.
 */
export async function pumpLog(ctx: LogContext, from: StartPosition, signal: AbortSignal, sink: Sink, pageSize = DEFAULT_PAGE_SIZE): Promise<void> {
  ctx.stats.subscriptions++;
  try {
    await pumpLoop(ctx, from, signal, sink, pageSize);
  } finally {
    ctx.stats.subscriptions--;
  }
}

async function pumpLoop(ctx: LogContext, from: StartPosition, signal: AbortSignal, sink: Sink, pageSize: number): Promise<void> {
  const size = Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(pageSize)));
  const start = await resolveStart(ctx, from);
  if (start.done) return;
  let after = start.after;
  let failingSince: number | undefined;
  let backoff = FIRST_BACKOFF_MS;
  while (!signal.aborted) {
    try {
      let next = prefetch(ctx, after, size);
      for (;;) {
        const page = await abortable(next, signal);
        if (signal.aborted) return;
        // One page ahead, requested before this page is decoded: the backend's round trip (and its own work on
        // another core) overlaps decoding and delivery, and memory stays bounded to two pages. A full page ending
        // in the end record costs one wasted read of an empty range, never a wrong event.
        const full = page.length === size;
        if (full) next = prefetch(ctx, page[size - 1]!.offset, size);
        const { events, last, ended } = decodeEntries(ctx, page, after);
        failingSince = undefined;
        backoff = FIRST_BACKOFF_MS;
        after = last;
        if (events.length > 0) await sink.push(events);
        if (ended) return;
        if (!full) break;
      }
      const outcome = await followLive(ctx, after, signal, sink, (raw) => (after = raw));
      if (outcome !== 'paused') return;
    } catch (err) {
      if (signal.aborted) return;
      const error = backendError(ctx, err);
      if (!error.retryable) throw error;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > ctx.reconnectTimeoutMs) throw error;
      await delay(backoff, signal);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }
}

/** Starts reading a page; a page nobody awaits any more (an abort, a failure) must not become an unhandled rejection. */
function prefetch(ctx: LogContext, after: string | null, size: number): Promise<readonly BackendEntry[]> {
  const page = ctx.backend.read(ctx.log, after, size);
  page.catch(() => {});
  return page;
}

function followLive(
  ctx: LogContext,
  after: string | null,
  signal: AbortSignal,
  sink: Sink,
  advance: (raw: string) => void,
): Promise<'ended' | 'aborted' | 'paused'> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined;
    let settled = false;
    let last = after;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      stop?.();
      settle();
    };
    const onAbort = () => finish(() => resolve('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return onAbort();
    ctx.stats.tails++;
    const release = ctx.backend.tail(ctx.log, after, {
      next(entries) {
        if (settled) return;
        let decoded: ReturnType<typeof decodeEntries>;
        let paused: void | Promise<void>;
        try {
          decoded = decodeEntries(ctx, entries, last);
          if (decoded.events.length === 0) return;
          last = decoded.last;
          advance(last!);
          paused = sink.push(decoded.events);
        } catch (err) {
          return finish(() => reject(err));
        }
        if (decoded.ended) finish(() => resolve('ended'));
        else if (paused) finish(() => paused.then(() => resolve('paused'), reject));
      },
      error(err) {
        finish(() => reject(err));
      },
    });
    let released = false;
    stop = () => {
      if (released) return;
      released = true;
      ctx.stats.tails--;
      release();
    };
    // A tail may deliver its backlog synchronously and settle before `stop` was assigned.
    if (settled) stop();
  });
}

/** A log as an rxjs Observable; unsubscribing or aborting stops the pump and frees the backend's tail. */
export function logObservable(ctx: LogContext, options: SubscribeOptions, track: (ac: AbortController) => () => void): Observable<SessionEvent> {
  return new Observable<SessionEvent>((subscriber) => {
    const ac = new AbortController();
    const untrack = track(ac);
    const outer = options.signal;
    const onOuterAbort = () => ac.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    if (outer?.aborted) ac.abort();
    pumpLog(ctx, options.from, ac.signal, { push: (events) => events.forEach((e) => subscriber.next(e)) }, options.pageSize).then(
      () => subscriber.complete(),
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      outer?.removeEventListener('abort', onOuterAbort);
      untrack();
      ac.abort();
    };
  });
}

/**
 * A log as an async iterator. It pulls: history pages are read only as the consumer catches up, and a live phase
 * that outruns the consumer pauses and resumes by paging, so memory stays bounded by about two pages.
 */
export function logIterator(ctx: LogContext, options: SubscribeOptions, track: (ac: AbortController) => () => void): AsyncIterableIterator<SessionEvent> {
  const highWater = Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(options.pageSize ?? DEFAULT_PAGE_SIZE)));
  // Delivered pages are kept whole and read by index: no per-event copy into a queue, no per-event shift.
  const pages: SessionEvent[][] = [];
  let page: SessionEvent[] = [];
  let index = 0;
  let queued = 0;
  const ac = new AbortController();
  let started = false;
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  let untrack: (() => void) | undefined;
  const onOuterAbort = () => stop();

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stop = () => {
    if (finished) return;
    finished = true;
    ac.abort();
    options.signal?.removeEventListener('abort', onOuterAbort);
    untrack?.();
    drained?.();
    notify();
  };
  const start = () => {
    started = true;
    untrack = track(ac);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (options.signal?.aborted) return stop();
    const sink: Sink = {
      push(events) {
        // The pump hands over a fresh array per page and never touches it again.
        pages.push(events);
        queued += events.length;
        notify();
        if (queued >= highWater) return new Promise<void>((resolve) => (drained = resolve));
      },
    };
    pumpLog(ctx, options.from, ac.signal, sink, highWater).then(
      () => {
        finished = true;
        untrack?.();
        notify();
      },
      (err: unknown) => {
        failure = err;
        finished = true;
        untrack?.();
        notify();
      },
    );
  };
  /** The next buffered event, or undefined; resumes a paused pump once half the buffer is consumed. */
  const take = (): SessionEvent | undefined => {
    while (index >= page.length) {
      const following = pages.shift();
      if (following === undefined) return undefined;
      page = following;
      index = 0;
    }
    const event = page[index]!;
    // Drop the reference: a consumer that keeps up must not keep a whole page alive through the buffer.
    page[index++] = undefined as unknown as SessionEvent;
    queued--;
    if (drained && queued <= highWater / 2) {
      const resume = drained;
      drained = undefined;
      resume();
    }
    return event;
  };
  const wait = async (): Promise<IteratorResult<SessionEvent>> => {
    if (!started) start();
    for (;;) {
      const event = take();
      if (event !== undefined) return { value: event, done: false };
      if (failure !== undefined) {
        const err = failure;
        failure = undefined;
        ac.abort();
        throw err;
      }
      if (finished || ac.signal.aborted) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };

  const iterator: AsyncIterableIterator<SessionEvent> = {
    next(): Promise<IteratorResult<SessionEvent>> {
      // Fast path while a page is buffered: one settled promise per event, no async function frame.
      if (index < page.length) {
        const event = take()!;
        return Promise.resolve({ value: event, done: false });
      }
      return wait();
    },
    async return(): Promise<IteratorResult<SessionEvent>> {
      pages.length = 0;
      page = [];
      index = 0;
      queued = 0;
      stop();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
