import { Observable, map } from 'rxjs';
import type { Backend, BackendProducer, LogKind, LogRef } from './backend.js';
import { ACK_TYPE, END_TYPE, assertPayloadSize, encodeEvent, producerSuffix } from './codec.js';
import { Control, type ControlHost } from './control.js';
import { DurableSessionError } from './errors.js';
import { FORK_TYPE, MAX_FORK_DEPTH, readOrigin, type ForkOrigin, type ForkRecordData, type LogOrigin, type OriginCache } from './fork.js';
import { ForkIterator, LazyIterator, becameForkError, guardEmptyStart, iteratorObservable, readFork, type ForkHost } from './fork-view.js';
import { formatOffset, offsetTag, parseOffset } from './offsets.js';
import { EmulatedPresence, type PresenceTiming } from './presence.js';
import { backendError, decodeEntries, logIterator, logObservable, resolveStart, type LogContext, type MutableStats } from './subscription.js';
import { abortable } from './timing.js';
import type {
  AppendOptions,
  ControlMessage,
  DurableSession,
  EndOptions,
  EventInput,
  JsonValue,
  ProducerInfo,
  ReadOptions,
  ReadResult,
  SessionControl,
  SessionEvent,
  SessionInfo,
  SessionPresence,
  SessionWriter,
  SubscribeOptions,
  WriterOptions,
} from './types.js';
import { CoalescingWriter } from './writer.js';

/** What a session handle shares with its store. */
export interface SessionEnv {
  readonly backend: Backend;
  readonly clientId: string | undefined;
  readonly presence: PresenceTiming;
  readonly reconnectTimeoutMs: number;
  readonly stats: MutableStats;
  /** Which sessions are forks (C21), as far as this store has seen. */
  readonly origins: OriginCache;
  /** Opens an internal handle (a fork's source), not counted in the store's handles; the opener closes it. */
  readonly openInternal: (id: string) => SessionHandle;
}

/** Where a fork starts in its source, resolved and validated by the source's handle. */
export interface ForkPoint {
  /** The source offset of the last inherited position, or null (nothing inherited). */
  at: string | null;
  /** The fork's depth: 1 + the source's. */
  depth: number;
}

/** Reserved producer id of the fork record, so that concurrent identical forks store it once where appends are idempotent. */
const FORK_PRODUCER = '$fork';

const MAX_READ_LIMIT = 1_000;
const MAX_PRODUCER_ID = 128;

/** A session handle: the core's implementation of {@link DurableSession} over a backend. */
export class SessionHandle implements DurableSession {
  readonly connectionId: string;
  readonly presence: SessionPresence;
  readonly control: SessionControl;
  private readonly events$: LogContext;
  private readonly control$: LogContext;
  private readonly subscriptions = new Set<AbortController>();
  private readonly writers = new Set<CoalescingWriter>();
  private source: SessionHandle | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    key: string,
    private readonly env: SessionEnv,
    private readonly onClose: (handle: SessionHandle) => void,
    connectionId?: string,
  ) {
    this.connectionId = connectionId ?? globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16);
    this.events$ = this.logContext(key, 'events');
    this.control$ = this.logContext(key, 'control');
    this.presence = new EmulatedPresence(env.backend, { sessionId: id, key }, { clientId: env.clientId, connectionId: this.connectionId }, env.presence);
    this.control = new Control(this.controlHost());
  }

  append(event: EventInput, options?: AppendOptions): Promise<string>;
  append(events: EventInput[], options?: AppendOptions): Promise<string[]>;
  async append(input: EventInput | EventInput[], options: AppendOptions = {}): Promise<string | string[]> {
    this.assertOpen();
    const many = Array.isArray(input);
    const events = many ? input : [input];
    if (events.length === 0) throw new DurableSessionError('INVALID_EVENT', 'append() needs at least one event.');
    const producer = options.producer ? this.checkProducerStamp(options.producer) : undefined;
    const info: ProducerInfo = this.producerInfo(producer?.id, producer?.epoch);
    const suffix = producerSuffix(info);
    const records = events.map((e) => this.encode(e, info, false, suffix));
    const offsets = await abortable(this.appendEvents(records, producer, false), options.signal);
    return many ? offsets : offsets[0]!;
  }

  writer(options: WriterOptions = {}): SessionWriter {
    this.assertOpen();
    if (options.producerId !== undefined) this.checkProducerStamp({ id: options.producerId, epoch: options.epoch ?? 0, seq: 0 });
    if (!this.env.backend.capabilities.idempotentAppend) {
      // Without idempotence a retried batch could be stored twice: never retry, fail loudly instead.
      options = { ...options, maxRetries: 0 };
    }
    const writer: CoalescingWriter = new CoalescingWriter(
      {
        maxBatchSize: this.env.backend.capabilities.maxBatchSize,
        encoder: (producerId, epoch) => {
          // A writer's records all end the same way (see `producerSuffix`): built once per writer.
          const info = this.producerInfo(producerId, epoch);
          const suffix = producerSuffix(info);
          return (event) => this.encode(event, info, false, suffix);
        },
        appendBatch: (records, producer) => this.appendEvents(records, this.env.backend.capabilities.idempotentAppend ? producer : undefined, false),
      },
      options,
      () => this.writers.delete(writer),
    );
    this.writers.add(writer);
    return writer;
  }

  subscribe(options: SubscribeOptions): Observable<SessionEvent> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const cached = this.env.origins.get(this.id);
    // Plain sessions the store already knows keep the push-based fast path; others learn their origin first.
    if (cached) return this.observe(cached, options);
    return new Observable<SessionEvent>((subscriber) => {
      let inner: { unsubscribe(): void } | undefined;
      let stopped = false;
      this.origin().then(
        (origin) => {
          if (stopped) return;
          if (this.closed) return subscriber.error(new DurableSessionError('CLOSED', `Session handle ${JSON.stringify(this.id)} is closed.`));
          inner = this.observe(origin, options).subscribe({
            next: (event) => subscriber.next(event),
            error: (err: unknown) => subscriber.error(err),
            complete: () => subscriber.complete(),
          });
        },
        (err: unknown) => subscriber.error(err),
      );
      return () => {
        stopped = true;
        inner?.unsubscribe();
      };
    });
  }

  events(options: SubscribeOptions): AsyncIterableIterator<SessionEvent> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const cached = this.env.origins.get(this.id);
    if (cached) return this.iterate(cached, options);
    return new LazyIterator(async () => {
      const origin = await this.origin();
      this.assertOpen();
      return this.iterate(origin, options);
    });
  }

  async read(options: ReadOptions = {}): Promise<ReadResult> {
    this.assertOpen();
    const from = options.from ?? 'start';
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_READ_LIMIT) {
      throw new DurableSessionError('INVALID_ARGUMENT', `read() limit must be an integer from 1 to ${MAX_READ_LIMIT}.`);
    }
    const origin = await this.origin();
    if (origin.kind === 'fork') return readFork(this.forkHost(origin), from, limit);
    const page = await this.plainRead(from, limit);
    // A fork was created into this empty session meanwhile: read it as the fork it now is.
    if (origin.kind === 'empty' && page.events[0]?.type === FORK_TYPE) return this.read(options);
    return page;
  }

  /** A page of this session's own log, with core offsets (a fork's record included). */
  private async plainRead(from: string, limit: number): Promise<ReadResult> {
    const start = await resolveStart(this.events$, from);
    if (start.done) return { events: [], next: from, upToDate: true, ended: true };
    const page = await this.call(() => this.env.backend.read(this.events$.log, start.after, limit));
    const { events, ended } = decodeEntries(this.events$, page, start.after);
    return {
      events,
      next: events.length > 0 ? events[events.length - 1]!.offset : from,
      upToDate: ended || page.length < limit,
      ended,
    };
  }

  async end(options: EndOptions = {}): Promise<string> {
    this.assertOpen();
    // Tokens still lingering in this handle's writers belong before the end marker.
    await Promise.all([...this.writers].map((w) => w.flush()));
    const data: { [key: string]: JsonValue } = {};
    if (options.reason !== undefined) data.reason = options.reason;
    if (options.data !== undefined) data.data = options.data;
    const record = this.encode({ type: END_TYPE, data }, this.producerInfo(undefined, undefined), true);
    const [offset] = await this.appendEvents([record], undefined, true);
    return offset!;
  }

  async info(): Promise<SessionInfo> {
    this.assertOpen();
    const info = await this.call(() => this.env.backend.info(this.events$.log));
    if (info.last === null) return { id: this.id, lastOffset: null, ended: info.ended };
    const last = formatOffset(info.last, this.events$.tag);
    const origin = await this.origin();
    if (origin.kind !== 'fork') return { id: this.id, lastOffset: last, ended: info.ended };
    // A fork without events of its own ends at its fork point.
    const lastOffset = last === origin.record ? origin.at : origin.prefix + last;
    return { id: this.id, lastOffset, ended: info.ended, fork: { source: origin.source, at: origin.at } };
  }

  /**
   * Resolves and validates a fork point in this session (the source of a fork): `'start'` (nothing inherited),
   * `'end'` (everything so far) or an offset of this session.
   */
  async forkPoint(at: unknown): Promise<ForkPoint> {
    this.assertOpen();
    const origin = await this.origin();
    if (origin.kind === 'empty') {
      throw new DurableSessionError('INVALID_ARGUMENT', `Cannot fork session ${JSON.stringify(this.id)}: it has never been written.`, {
        details: { source: this.id, reason: 'source-missing' },
      });
    }
    const depth = (origin.kind === 'fork' ? origin.depth : 0) + 1;
    if (depth > MAX_FORK_DEPTH) {
      throw new DurableSessionError('INVALID_ARGUMENT', `Cannot fork session ${JSON.stringify(this.id)}: forks nest at most ${MAX_FORK_DEPTH} deep.`, {
        details: { source: this.id, depth },
      });
    }
    if (at === 'start') return { at: null, depth };
    if (at === 'end') return { at: (await this.info()).lastOffset, depth };
    if (typeof at !== 'string' || at.length === 0 || at === 'now') {
      throw new DurableSessionError('INVALID_OFFSET', "A fork point must be 'start', 'end' or an offset of the source session.", { details: { at } });
    }
    // Reading from it validates it like any resume: malformed, foreign, beyond the end, or trimmed.
    await this.read({ from: at, limit: 1 });
    return { at, depth };
  }

  /**
   * Makes this (empty) session a fork of `source` at `point` by appending the fork record. Repeating the same fork
   * succeeds; a session that already has events, or is another fork, fails with `CONFLICT`.
   */
  async becomeFork(source: string, point: ForkPoint): Promise<ForkOrigin> {
    this.assertOpen();
    const same = (origin: LogOrigin): origin is ForkOrigin => origin.kind === 'fork' && origin.source === source && origin.at === point.at;
    const conflict = () =>
      new DurableSessionError('CONFLICT', `Cannot fork into session ${JSON.stringify(this.id)}: it already exists.`, { details: { target: this.id, source } });
    const before = await this.origin();
    if (same(before)) return before;
    if (before.kind !== 'empty') throw conflict();
    const data: ForkRecordData = { source, at: point.at, depth: point.depth };
    const record = this.encode({ type: FORK_TYPE, data: { ...data } }, this.producerInfo(undefined, undefined), true);
    const producer = this.env.backend.capabilities.idempotentAppend ? { producer: { id: FORK_PRODUCER, epoch: 0, seq: 0 } } : {};
    await this.call(() => this.env.backend.append(this.events$.log, { records: [record], ...producer }));
    // Whoever wrote first decides: a racing append or a different racing fork makes this one fail.
    const after = await this.origin();
    if (!same(after)) throw conflict();
    return after;
  }

  async close(options: { leave?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.subscriptions) ac.abort();
    this.subscriptions.clear();
    await Promise.allSettled([...this.writers].map((w) => w.close()));
    await this.source?.close({ leave: false });
    await (this.presence as EmulatedPresence).dispose(options.leave ?? true);
    this.onClose(this);
  }

  private readonly track = (ac: AbortController): (() => void) => {
    this.subscriptions.add(ac);
    return () => this.subscriptions.delete(ac);
  };

  /** Whether this session is a fork: the store's cache, else the log's first record (cached once it exists). */
  private async origin(): Promise<LogOrigin> {
    const cached = this.env.origins.get(this.id);
    if (cached) return cached;
    const origin = await this.call(() => readOrigin(this.env.backend, this.events$.log, (raw) => formatOffset(raw, this.events$.tag)));
    this.env.origins.set(this.id, origin);
    return origin;
  }

  private observe(origin: LogOrigin, options: SubscribeOptions): Observable<SessionEvent> {
    if (origin.kind === 'plain') return logObservable(this.events$, options, this.track);
    if (origin.kind === 'fork') return iteratorObservable(() => this.forkIterator(origin, options));
    let first = true;
    return logObservable(this.events$, options, this.track).pipe(
      map((event) => {
        if (first && event.type === FORK_TYPE) throw becameForkError(this.id);
        first = false;
        return event;
      }),
    );
  }

  private iterate(origin: LogOrigin, options: SubscribeOptions): AsyncIterableIterator<SessionEvent> {
    if (origin.kind === 'plain') return logIterator(this.events$, options, this.track);
    if (origin.kind === 'fork') return this.forkIterator(origin, options);
    return guardEmptyStart(this.id, logIterator(this.events$, options, this.track));
  }

  private forkIterator(origin: ForkOrigin, options: SubscribeOptions): AsyncIterableIterator<SessionEvent> {
    const ac = new AbortController();
    const untrack = this.track(ac);
    const signal = options.signal ? AbortSignal.any([options.signal, ac.signal]) : ac.signal;
    return new ForkIterator(this.forkHost(origin), { ...options, signal }, untrack);
  }

  private forkHost(origin: ForkOrigin): ForkHost {
    return {
      id: this.id,
      origin,
      reconnectTimeoutMs: this.env.reconnectTimeoutMs,
      readSource: (from, limit) => {
        this.source ??= this.env.openInternal(origin.source);
        return this.source.read({ from, limit });
      },
      readOwn: (from, limit) => this.plainRead(from, limit),
      iterateOwn: (options) => logIterator(this.events$, options, this.track),
    };
  }

  /** Appends encoded records to the event log and returns their public offsets (prefixed in a fork). */
  private async appendEvents(records: string[], producer: BackendProducer | undefined, end: boolean): Promise<string[]> {
    const offsets = await this.appendRecords(this.events$, records, producer, end);
    // The events are stored: a failure to learn the origin now must not turn the append into a failure (a retry
    // without a producer stamp would store them twice). Plain offsets then; on a fork they fail loudly when used.
    const origin = this.env.origins.get(this.id) ?? (await this.origin().catch((): LogOrigin => ({ kind: 'empty' })));
    return origin.kind === 'fork' ? offsets.map((offset) => origin.prefix + offset) : offsets;
  }

  private logContext(key: string, kind: LogKind): LogContext {
    const log: LogRef = { sessionId: this.id, key, kind };
    return { backend: this.env.backend, log, tag: offsetTag(this.id, kind), reconnectTimeoutMs: this.env.reconnectTimeoutMs, stats: this.env.stats };
  }

  private controlHost(): ControlHost {
    return {
      appendControl: async (message) => {
        this.assertOpen();
        const [offset] = await this.appendRecords(this.control$, [this.encode(message, this.producerInfo(undefined, undefined), false)], undefined, false);
        return offset!;
      },
      appendAck: async (controlOffset, data) => {
        this.assertOpen();
        const payload: { [key: string]: JsonValue } = { control: controlOffset };
        if (data !== undefined) payload.data = data;
        const [offset] = await this.appendEvents([this.encode({ type: ACK_TYPE, data: payload }, this.producerInfo(undefined, undefined), true)], undefined, false);
        return offset!;
      },
      eventHead: async () => (await this.info()).lastOffset ?? 'start',
      subscribeEvents: (options) => this.subscribe(options),
      subscribeControl: (options): Observable<ControlMessage> => {
        this.assertOpen();
        checkSubscribeOptions(options);
        return logObservable(this.control$, options, this.track);
      },
      iterateControl: (options) => {
        this.assertOpen();
        checkSubscribeOptions(options);
        return logIterator(this.control$, options, this.track);
      },
      parseControlOffset: (offset) => void parseOffset(offset, this.control$.tag),
      isClosed: () => this.closed,
    };
  }

  private async appendRecords(ctx: LogContext, records: string[], producer: BackendProducer | undefined, end: boolean): Promise<string[]> {
    const { maxBatchSize } = this.env.backend.capabilities;
    if (records.length > maxBatchSize) {
      throw new DurableSessionError('PAYLOAD_TOO_LARGE', `A batch of ${records.length} events exceeds the ${this.env.backend.name} backend's limit of ${maxBatchSize}.`, {
        details: { events: records.length, maxBatchSize },
      });
    }
    const result = await this.call(() => this.env.backend.append(ctx.log, { records, ...(producer ? { producer } : {}), ...(end ? { end } : {}) }));
    return result.offsets.map((raw) => formatOffset(raw, ctx.tag));
  }

  private encode(event: EventInput, producer: ProducerInfo, allowReserved: boolean, suffix?: string): string {
    const record = encodeEvent(event, producer, allowReserved, suffix);
    assertPayloadSize(record, this.env.backend.capabilities.maxPayloadBytes, this.env.backend.name);
    return record;
  }

  private producerInfo(producerId: string | undefined, epoch: number | undefined): ProducerInfo {
    const info: ProducerInfo = { clientId: this.env.clientId, connectionId: this.connectionId };
    if (producerId !== undefined) {
      info.producerId = producerId;
      info.epoch = epoch ?? 0;
    }
    return info;
  }

  private checkProducerStamp(stamp: { id: string; epoch?: number; seq: number }): BackendProducer {
    if (!this.env.backend.capabilities.idempotentAppend) {
      throw new DurableSessionError('NOT_SUPPORTED', `The ${this.env.backend.name} backend has no idempotent append.`, { backend: this.env.backend.name });
    }
    const epoch = stamp.epoch ?? 0;
    if (typeof stamp.id !== 'string' || stamp.id.length === 0 || stamp.id.length > MAX_PRODUCER_ID || /[\u0000-\u001f]/.test(stamp.id)) {
      throw new DurableSessionError('INVALID_ARGUMENT', `Producer id must be 1–${MAX_PRODUCER_ID} printable characters.`);
    }
    if (!Number.isSafeInteger(epoch) || epoch < 0 || !Number.isSafeInteger(stamp.seq) || stamp.seq < 0) {
      throw new DurableSessionError('INVALID_ARGUMENT', 'Producer epoch and seq must be non-negative integers.');
    }
    return { id: stamp.id, epoch, seq: stamp.seq };
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      throw backendError(this.env, err);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new DurableSessionError('CLOSED', `Session handle ${JSON.stringify(this.id)} is closed.`);
  }
}

/** Subscription options are checked when subscribing, so mistakes throw at the call site rather than later. */
function checkSubscribeOptions(options: SubscribeOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new DurableSessionError('INVALID_ARGUMENT', "Subscribe options are required: { from: 'start' | 'now' | offset }.");
  }
  const { from, pageSize } = options;
  if (typeof from !== 'string' || from.length === 0) {
    throw new DurableSessionError('INVALID_OFFSET', "`from` is required: an offset, 'start' or 'now'.");
  }
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)) {
    throw new DurableSessionError('INVALID_ARGUMENT', 'pageSize must be an integer from 1 to 10000.');
  }
}
