import { Observable } from 'rxjs';
import type { Connection, Frame, Stream } from './connection.js';
import { DurableSessionError, fromWire } from './errors.js';
import type { ResumePoint, SessionEvent, StartPosition, SubscribeOptions } from './types.js';
import { fromWireEvent, type WireEvent } from './wire.js';

/** Where a log stream hands its events. */
interface Sink {
  next(event: SessionEvent): void;
  error(error: DurableSessionError): void;
  complete(): void;
}

/**
 * One subscription to a session's event or control log that outlives sockets. It remembers the offset of the last
 * event it delivered and, on every new socket, subscribes again strictly after it; anything at or before that
 * offset (a gateway that resends, a frame that crossed an unsubscribe) is dropped, so delivery is exactly once.
 */
export class LogStream implements Stream {
  private last: string | undefined;
  private from: StartPosition;
  private wire: string | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private done = false;
  /** Paused by a slow consumer: not running on the gateway until resumed. */
  paused = false;

  constructor(
    private readonly conn: Connection,
    private readonly session: string,
    private readonly log: 'events' | 'control',
    from: StartPosition,
    private readonly sink: Sink,
    private readonly owned?: Set<Stream>,
  ) {
    this.from = from;
    owned?.add(this);
  }

  start(): void {
    if (this.done || this.paused || this.wire !== undefined || !this.conn.live) return;
    const wire = this.conn.route(this);
    this.wire = wire;
    if (this.last === undefined && this.from === 'now' && this.log === 'events') {
      // Pin "now" to a real offset before the first subscribe, so a reconnect before the first event resumes from
      // there instead of from a later "now" (which would lose what was appended in between).
      this.conn.request({ op: 'info', session: this.session }, { bound: true }).then(
        (answer) => {
          if (this.wire !== wire) return;
          const info = answer.info as { lastOffset?: unknown } | undefined;
          this.from = typeof info?.lastOffset === 'string' ? info.lastOffset : 'start';
          this.subscribe(wire);
        },
        (err: DurableSessionError) => this.failed(wire, err),
      );
      return;
    }
    this.subscribe(wire);
  }

  private subscribe(wire: string): void {
    const frame: Frame = { op: 'subscribe', sub: wire, session: this.session, from: this.position() };
    if (this.log === 'control') frame.log = 'control';
    this.conn.request(frame, { bound: true }).then(
      () => {
        if (this.wire === wire) this.failures = 0;
      },
      (err: DurableSessionError) => this.failed(wire, err),
    );
  }

  private position(): StartPosition {
    return this.last ?? this.from;
  }

  dropped(): void {
    this.wire = undefined;
    clearTimeout(this.retryTimer);
  }

  onFrame(frame: Frame): void {
    const wire = this.wire;
    if (this.done || wire === undefined || frame.sub !== wire) return;
    if (frame.op === 'events' && Array.isArray(frame.events)) {
      for (const raw of frame.events as WireEvent[]) {
        if (this.done || this.wire !== wire) return;
        if (typeof raw?.offset !== 'string') continue;
        const floor = this.last ?? (this.from === 'start' || this.from === 'now' ? undefined : this.from);
        if (floor !== undefined && raw.offset <= floor) continue;
        this.last = raw.offset;
        this.sink.next(fromWireEvent(raw));
        if (raw.type === '$end' && this.log === 'events') return this.finish();
      }
    } else if (frame.op === 'complete') {
      this.finish();
    } else if (frame.op === 'error') {
      this.failed(wire, fromWire(frame));
    }
  }

  private failed(wire: string, error: DurableSessionError): void {
    if (this.done || this.wire !== wire) return;
    this.conn.unroute(wire);
    this.wire = undefined;
    // The socket dropping is handled by the connection (start() on the next one).
    if (error.code === 'DISCONNECTED') return;
    // A backend hiccup behind the gateway is worth waiting out; anything else ends the subscription with its error.
    if (error.retryable) {
      const delay = Math.min(5000, 100 * 2 ** this.failures++);
      this.retryTimer = setTimeout(() => this.start(), delay);
      return;
    }
    this.end(error);
  }

  resumePoint(): ResumePoint | undefined {
    if (this.done) return undefined;
    return { session: this.session, log: this.log, from: this.position() };
  }

  stop(error?: DurableSessionError): void {
    if (this.done) return;
    this.halt();
    this.end(error);
  }

  /** Unsubscribes on the gateway and forgets the stream (the consumer is gone). */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.halt();
    this.conn.removeStream(this);
    this.owned?.delete(this);
  }

  /** Stops the gateway subscription, keeping the position (a slow iterator's buffer is full). */
  pause(): void {
    if (this.done || this.paused) return;
    this.paused = true;
    this.halt();
  }

  /** Subscribes again strictly after the last delivered event. */
  resume(): void {
    if (this.done || !this.paused) return;
    this.paused = false;
    this.start();
  }

  private halt(): void {
    clearTimeout(this.retryTimer);
    const wire = this.wire;
    this.wire = undefined;
    if (wire === undefined) return;
    this.conn.unroute(wire);
    if (this.conn.live) this.conn.request({ op: 'unsubscribe', sub: wire }, { bound: true }).catch(() => {});
  }

  private finish(): void {
    this.end();
  }

  private end(error?: DurableSessionError): void {
    this.done = true;
    this.owned?.delete(this);
    clearTimeout(this.retryTimer);
    this.conn.unroute(this.wire);
    this.wire = undefined;
    this.conn.removeStream(this);
    if (error) this.sink.error(error);
    else this.sink.complete();
  }
}

/** Checks a start position before anything is sent. */
function checkFrom(options: SubscribeOptions | undefined): StartPosition {
  const from = options?.from;
  if (typeof from !== 'string' || from.length === 0) throw new DurableSessionError('INVALID_OFFSET', '`from` must be "start", "now" or an offset.');
  return from;
}

/** A log subscription as an rxjs Observable: unsubscribing unsubscribes on the gateway. */
export function observeLog(conn: Connection, session: string, log: 'events' | 'control', options: SubscribeOptions, owned?: Set<Stream>): Observable<SessionEvent> {
  return new Observable<SessionEvent>((subscriber) => {
    let from: StartPosition;
    try {
      from = checkFrom(options);
    } catch (err) {
      subscriber.error(err);
      return;
    }
    if (options.signal?.aborted) {
      subscriber.complete();
      return;
    }
    const stream = new LogStream(conn, session, log, from, {
      next: (e) => subscriber.next(e),
      error: (e) => subscriber.error(e),
      complete: () => subscriber.complete(),
    }, owned);
    const onAbort = () => {
      stream.close();
      subscriber.complete();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    conn.addStream(stream);
    return () => {
      options.signal?.removeEventListener('abort', onAbort);
      stream.close();
    };
  });
}

/**
 * A log subscription as an async iterator with bounded memory: past `highWater` buffered events the gateway
 * subscription is paused, and resumed strictly after the last buffered event once the consumer drained half.
 */
export function iterateLog(conn: Connection, session: string, log: 'events' | 'control', options: SubscribeOptions, highWater: number, owned?: Set<Stream>): AsyncIterableIterator<SessionEvent> {
  const from = checkFrom(options);
  const buffer: SessionEvent[] = [];
  let waiter: { resolve: (r: IteratorResult<SessionEvent>) => void; reject: (e: unknown) => void } | undefined;
  let finished = false;
  let failure: DurableSessionError | undefined;

  const stream = new LogStream(conn, session, log, from, {
    next(event) {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        return w.resolve({ value: event, done: false });
      }
      buffer.push(event);
      if (buffer.length >= highWater) stream.pause();
    },
    error(error) {
      finished = true;
      failure = error;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        failure = undefined;
        w.reject(error);
      }
    },
    complete() {
      finished = true;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w.resolve({ value: undefined, done: true });
      }
    },
  }, owned);

  const stop = (): IteratorResult<SessionEvent> => {
    finished = true;
    buffer.length = 0;
    stream.close();
    options.signal?.removeEventListener('abort', onAbort);
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return { value: undefined, done: true };
  };
  const onAbort = () => void stop();
  if (options.signal?.aborted) finished = true;
  else {
    options.signal?.addEventListener('abort', onAbort, { once: true });
    conn.addStream(stream);
  }

  return {
    next(): Promise<IteratorResult<SessionEvent>> {
      const value = buffer.shift();
      if (value !== undefined) {
        if (stream.paused && buffer.length <= highWater / 2) stream.resume();
        return Promise.resolve({ value, done: false });
      }
      if (failure) {
        const error = failure;
        failure = undefined;
        return Promise.reject(error);
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return(): Promise<IteratorResult<SessionEvent>> {
      return Promise.resolve(stop());
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
