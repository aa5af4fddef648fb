import type { Observable } from 'rxjs';
import type { Backend, BackendProducer, LogKind, LogRef } from './backend.js';
import { ACK_TYPE, END_TYPE, assertPayloadSize, encodeEvent } from './codec.js';
import { Control, type ControlHost } from './control.js';
import { DurableSessionError } from './errors.js';
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
}

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
    const records = events.map((e) => this.encode(e, info, false));
    const offsets = await abortable(this.appendRecords(this.events$, records, producer, false), options.signal);
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
        encode: (event, producerId, epoch) => this.encode(event, this.producerInfo(producerId, epoch), false),
        appendBatch: (records, producer) =>
          this.appendRecords(this.events$, records, this.env.backend.capabilities.idempotentAppend ? producer : undefined, false),
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
    return logObservable(this.events$, options, this.track);
  }

  events(options: SubscribeOptions): AsyncIterableIterator<SessionEvent> {
    this.assertOpen();
    checkSubscribeOptions(options);
    return logIterator(this.events$, options, this.track);
  }

  async read(options: ReadOptions = {}): Promise<ReadResult> {
    this.assertOpen();
    const from = options.from ?? 'start';
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_READ_LIMIT) {
      throw new DurableSessionError('INVALID_ARGUMENT', `read() limit must be an integer from 1 to ${MAX_READ_LIMIT}.`);
    }
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
    const [offset] = await this.appendRecords(this.events$, [record], undefined, true);
    return offset!;
  }

  async info(): Promise<SessionInfo> {
    this.assertOpen();
    const info = await this.call(() => this.env.backend.info(this.events$.log));
    return { id: this.id, lastOffset: info.last === null ? null : formatOffset(info.last, this.events$.tag), ended: info.ended };
  }

  async close(options: { leave?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.subscriptions) ac.abort();
    this.subscriptions.clear();
    await Promise.allSettled([...this.writers].map((w) => w.close()));
    await (this.presence as EmulatedPresence).dispose(options.leave ?? true);
    this.onClose(this);
  }

  private readonly track = (ac: AbortController): (() => void) => {
    this.subscriptions.add(ac);
    return () => this.subscriptions.delete(ac);
  };

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
        const [offset] = await this.appendRecords(this.events$, [this.encode({ type: ACK_TYPE, data: payload }, this.producerInfo(undefined, undefined), true)], undefined, false);
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

  private encode(event: EventInput, producer: ProducerInfo, allowReserved: boolean): string {
    const record = encodeEvent(event, producer, allowReserved);
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
