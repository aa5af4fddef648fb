import {
  checkProducer,
  DurableSessionError,
  type Backend,
  type BackendAppendRequest,
  type BackendAppendResult,
  type BackendEntry,
  type BackendLogInfo,
  type Capabilities,
  type LogRef,
  type TailListener,
} from '@durable-sessions/core';
import type { ConsumerConfig, JetStreamClient, JetStreamManager, JsMsg, StoredMsg, StreamConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { apiCode, NAME, natsError, toNatsError, WRONG_LAST_SEQUENCE } from './errors.js';
import { featuresOf, atLeast, type NatsFeatures } from './features.js';
import {
  chunkRecords,
  CALL_HEADER,
  END_HEADER,
  LENGTHS_HEADER,
  MAX_RECORDS_PER_MESSAGE,
  offsetOf,
  packRecords,
  parseRawOffset,
  PREV_HEADER,
  unpackRecords,
  type Position,
} from './frames.js';
import { HEADER_RESERVE, type ResolvedNatsOptions } from './options.js';
import { KvPresence } from './presence.js';
import { ProducerStore, type StoredProducer } from './producers.js';
import { LogReader, ReaderCache } from './reader.js';

/** What an open backend holds once connected. */
interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly producers: ProducerStore;
  readonly presenceKv: KV;
  readonly headers: () => MsgHdrs;
  /** Largest message body this adapter publishes (server max_payload minus the header reserve). */
  readonly bodyLimit: number;
}

/** The newest message of a log, as an append needs it for its expected-sequence check. */
interface Head {
  /** Stream sequence of the newest message of the subject (0: none). */
  readonly seq: number;
  /** Raw offset of the newest record (null: none). */
  readonly last: string | null;
  readonly ended: boolean;
}

const EMPTY_HEAD: Head = { seq: 0, last: null, ended: false };
/** Bounds the per-process cache of log heads (a cache miss costs one request). */
const HEAD_CACHE_LIMIT = 10_000;
/** Messages a tail or read asks the server for at once. */
const PULL_BATCH = 512;
/** Idle heartbeat of a live tail's consumer: bounds how fast a consumer lost with its node is replaced. */
const TAIL_HEARTBEAT_MS = 2_000;
/** Retries of an append whose expected sequence went stale (another writer appended in between). */
const MAX_CONFLICT_RETRIES = 50;
const nanos = (ms: number) => ms * 1_000_000;

/**
 * The NATS JetStream backend. Every session log is one subject of a shared stream; see docs/adapters/nats.md for
 * the layout and its trade-offs. Connects lazily; {@link NatsBackend.ready} resolves once connected and set up.
 */
export class NatsBackend implements Backend {
  readonly name = NAME;
  readonly capabilities: Capabilities;
  readonly presence: KvPresence;
  private connected: Promise<Connected> | undefined;
  private detected: NatsFeatures | undefined;
  private closed = false;
  /** Whether the connection is down right now (between `disconnect` and `reconnect`). */
  private offline = false;
  /** Rejecters of requests in flight, failed at once when the connection drops (see {@link guard}). */
  private readonly inFlight = new Set<(err: DurableSessionError) => void>();
  /** Requests waiting for the connection to come back. */
  private readonly waiting: Array<() => void> = [];
  private readonly heads = new Map<string, Head>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly tails = new Set<{ restart(err: DurableSessionError): void }>();
  private readonly readers = new ReaderCache();
  private readonly recordsPerMessage: number;

  constructor(private readonly options: ResolvedNatsOptions) {
    // With maxEvents, JetStream's per-subject message limit must count events, so every event is its own message.
    this.recordsPerMessage = options.retention.maxEvents === undefined ? MAX_RECORDS_PER_MESSAGE : 1;
    this.capabilities = {
      durable: options.storage === 'file',
      idempotentAppend: true,
      // A batch is one message (atomic) only while it fits in max_payload; larger batches span several messages.
      atomicBatch: false,
      atomicEnd: true,
      presence: 'emulated',
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024 - HEADER_RESERVE,
      maxBatchSize: options.maxBatchSize,
      retention: { maxAge: true, maxEvents: true },
      detectsTrimmedOffsets: true,
    };
    this.presence = new KvPresence(async () => (await this.context()).presenceKv, (request) => this.guard(request));
  }

  /** What the connected server supports (undefined until connected). */
  get features(): NatsFeatures | undefined {
    return this.detected;
  }

  /** The stream holding the session logs. */
  get stream(): string {
    return this.options.stream;
  }

  /** The subject of a log: built only from the encoded key, asserted to be one plain subject token. */
  subjectOf(log: LogRef): string {
    if (!/^[A-Za-z0-9_-]+$/.test(log.key)) {
      throw natsError('INVALID_SESSION_ID', `Session key ${JSON.stringify(log.key)} is not a safe subject token.`);
    }
    return `${this.options.subjectPrefix}.${log.kind === 'events' ? 'ev' : 'ctl'}.${log.key}`;
  }

  /**
   * Connects (once), creates the stream and buckets when missing, and detects server features. Operations call it
   * themselves; await it to connect eagerly, surface configuration errors early, or read {@link features}.
   */
  async ready(): Promise<void> {
    await this.context();
  }

  private context(): Promise<Connected> {
    if (this.closed) return Promise.reject(natsError('CLOSED', 'The NATS backend is closed.'));
    if (!this.connected) {
      const attempt = this.connect();
      this.connected = attempt;
      // A failed first connection is retried by the next operation instead of being cached forever.
      attempt.catch(() => {
        if (this.connected === attempt) this.connected = undefined;
      });
    }
    return this.connected;
  }

  private async connect(): Promise<Connected> {
    const [{ connect, headers }, { jetstream, jetstreamManager }, { Kvm }] = await Promise.all([
      import('@nats-io/transport-node'),
      import('@nats-io/jetstream'),
      import('@nats-io/kv'),
    ]);
    const o = this.options;
    let nc = o.connection;
    const own = !nc;
    if (!nc) {
      try {
        nc = await connect({
          servers: o.servers,
          ...(o.user !== undefined ? { user: o.user, pass: o.pass } : {}),
          ...(o.token !== undefined ? { token: o.token } : {}),
          name: 'durable-sessions',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          timeout: o.requestTimeoutMs,
        });
      } catch (err) {
        throw toNatsError(err, 'Connecting to NATS');
      }
    }
    try {
      const version = nc.info?.version ?? '0.0.0';
      if (!atLeast(version, 2, 9)) {
        throw natsError('NOT_SUPPORTED', `nats-server ${version} is too old: the NATS backend needs 2.9 or newer (direct get, subject-sequence checks).`);
      }
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const bodyLimit = maxPayload - HEADER_RESERVE;
      if (o.maxPayloadBytes !== undefined && o.maxPayloadBytes > bodyLimit) {
        throw natsError('CONFIG_INVALID', `maxPayloadBytes ${o.maxPayloadBytes} exceeds what this server accepts (max_payload ${maxPayload} minus ${HEADER_RESERVE} for headers).`);
      }
      this.capabilities.maxPayloadBytes = o.maxPayloadBytes ?? bodyLimit;
      const js = jetstream(nc, { timeout: o.requestTimeoutMs });
      const jsm = await jetstreamManager(nc, { timeout: o.requestTimeoutMs });
      await this.ensureStream(jsm);
      const kvm = new Kvm(js);
      // allow_direct off: a direct get may be answered by a lagging replica, and producer checks (and presence
      // compare-and-set) must read what the leader last committed.
      const bucket = (name: string, ttl: number) =>
        kvm.create(name, { history: 1, replicas: o.replicas, storage: o.storage === 'memory' ? 'memory' : 'file', allow_direct: false, ...(ttl ? { ttl } : {}) } as never);
      const [producerKv, presenceKv] = await Promise.all([
        bucket(`${o.stream}_PRODUCERS`, 0),
        bucket(`${o.stream}_PRESENCE`, o.presenceTtlMs),
      ]);
      const ttlEchoed = atLeast(version, 2, 11) ? await probeMessageTtl(jsm, `${o.stream}_TTL_PROBE`).catch(() => false) : false;
      this.detected = featuresOf(version, ttlEchoed);
      this.watchConnection(nc);
      const connected: Connected = { nc, js, jsm, producers: new ProducerStore(producerKv, (request) => this.guard(request)), presenceKv, headers, bodyLimit };
      if (this.closed) throw natsError('CLOSED', 'The NATS backend was closed while connecting.');
      return connected;
    } catch (err) {
      if (own) await nc.close().catch(() => {});
      throw toNatsError(err, 'Setting up JetStream');
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const o = this.options;
    const subjects = [`${o.subjectPrefix}.ev.*`, `${o.subjectPrefix}.ctl.*`];
    const limits = {
      max_age: nanos(o.retention.maxAgeMs ?? 0),
      max_msgs_per_subject: o.retention.maxEvents ?? -1,
    };
    const config: Partial<StreamConfig> = {
      name: o.stream,
      subjects,
      storage: o.storage as StreamConfig['storage'],
      num_replicas: o.replicas,
      retention: 'limits' as StreamConfig['retention'],
      discard: 'old' as StreamConfig['discard'],
      // JetStream refuses a duplicate window longer than max_age.
      duplicate_window: nanos(o.retention.maxAgeMs === undefined ? o.duplicateWindowMs : Math.min(o.duplicateWindowMs, o.retention.maxAgeMs)),
      allow_direct: true,
      ...limits,
    };
    for (let attempt = 0; ; attempt++) {
      let info;
      try {
        info = await jsm.streams.info(o.stream);
      } catch (err) {
        if ((err as { name?: string }).name !== 'StreamNotFoundError' && apiCode(err) !== 10059) throw err;
        try {
          await jsm.streams.add(config as StreamConfig);
          return;
        } catch (addErr) {
          // Another process created it first: read it back and check it.
          if (attempt < 3 && /already in use/i.test(String((addErr as Error).message))) continue;
          throw addErr;
        }
      }
      const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
      if (missing.length > 0) {
        throw natsError('CONFIG_INVALID', `Stream ${o.stream} exists without the subjects ${missing.join(', ')}; choose another stream or subjectPrefix.`);
      }
      const wanted = o.retention.maxAgeMs !== undefined || o.retention.maxEvents !== undefined;
      if (wanted && (info.config.max_age !== limits.max_age || info.config.max_msgs_per_subject !== limits.max_msgs_per_subject)) {
        await jsm.streams.update(o.stream, { ...info.config, ...limits });
      }
      return;
    }
  }

  /**
   * After a reconnect, every tail restarts from its last delivered offset (its consumer may be gone), and guarded
   * requests in flight are sent again: one buffered across a reconnect may never be answered (the server was still
   * recovering its streams), and waiting out its timeout would stall writers for seconds.
   */
  private watchConnection(nc: NatsConnection): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== 'reconnect' && status.type !== 'disconnect') continue;
        this.offline = status.type === 'disconnect';
        const err = natsError('BACKEND_UNAVAILABLE', `The NATS connection was interrupted (${status.type}).`);
        for (const tail of [...this.tails]) tail.restart(err);
        this.readers.clear();
        for (const interrupt of [...this.inFlight]) interrupt(err);
        this.inFlight.clear();
        if (!this.offline) for (const wake of this.waiting.splice(0)) wake();
      }
    })().catch(() => {});
  }

  /**
   * Runs a request, waiting while the connection is down. With `resend`, for idempotent requests only, it is sent
   * again when the connection drops before the answer or no JetStream responder is up yet (a server still
   * recovering after a restart), until `requestTimeoutMs` has passed.
   */
  private async guard<T>(request: () => Promise<T>, resend = true): Promise<T> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.offline) await this.online(deadline);
      let interrupt!: (err: DurableSessionError) => void;
      const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
      this.inFlight.add(interrupt);
      try {
        const pending = request();
        pending.catch(() => {});
        return await Promise.race([pending, interrupted]);
      } catch (err) {
        const transient = err instanceof DurableSessionError || /no responders|503/i.test(String((err as Error)?.message));
        if (!transient || !resend || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 250)));
      } finally {
        this.inFlight.delete(interrupt);
      }
    }
  }

  /** Resolves once the connection is back, or rejects at `deadline`. */
  private online(deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(natsError('BACKEND_UNAVAILABLE', 'The NATS connection is down.'));
      }, Math.max(0, deadline - Date.now()));
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.push(wake);
    });
  }

  async append(log: LogRef, request: BackendAppendRequest): Promise<BackendAppendResult> {
    const subject = this.subjectOf(log);
    const ctx = await this.context();
    return this.serialize(subject, () => this.appendNow(ctx, log, subject, request));
  }

  private async appendNow(ctx: Connected, log: LogRef, subject: string, request: BackendAppendRequest): Promise<BackendAppendResult> {
    const { producer } = request;
    let stored: StoredProducer | undefined;
    if (producer) {
      stored = await ctx.producers.load(log, producer);
      const verdict = checkProducer(stored.state, producer);
      if (verdict.action === 'duplicate') return { offsets: verdict.offsets, duplicate: true };
    }
    const chunks = chunkRecords(request.records, ctx.bodyLimit, this.recordsPerMessage);
    // A producer's retries (even from another process) share a `Nats-Msg-Id`, so the stream's duplicate window
    // catches a retry whose producer state was never saved. Other calls carry a random `Ds-Call` header instead
    // (no server-side de-duplication state): when a publish's outcome is unknown (connection lost, ack timed out),
    // the message right after the expected sequence tells whether it landed.
    const callId = producer
      ? `${subject}:${ProducerStore.keyOf(log, producer.id)}:${producer.epoch}:${producer.seq}`
      : globalThis.crypto.randomUUID();
    const offsets: string[] = [];
    let stored0 = false;
    let head = this.heads.get(subject) ?? (await this.fetchHead(ctx, subject));
    const deadline = Date.now() + this.options.requestTimeoutMs * 2;
    try {
      for (let c = 0; c < chunks.length; c++) {
        const chunk = chunks[c]!;
        const end = request.end === true && c === chunks.length - 1;
        const { body, lengths } = packRecords(chunk);
        const tag = `${callId}:${c}`;
        // Expected sequences of attempts whose outcome is unknown: if one landed, it is the next message after it.
        const uncertain: number[] = [];
        for (let attempt = 0; ; attempt++) {
          let ack: { seq: number; duplicate: boolean } | undefined;
          for (const expected of uncertain) {
            const landed = await this.landed(ctx, subject, expected, tag);
            if (landed !== undefined) ack = { seq: landed, duplicate: false };
          }
          if (!ack) {
            if (head.ended) throw natsError('SESSION_ENDED', 'The session has ended; nothing more can be appended.');
            const h = ctx.headers();
            if (lengths) h.set(LENGTHS_HEADER, lengths);
            h.set(PREV_HEADER, head.last ?? '');
            if (end) h.set(END_HEADER, '1');
            if (!producer) h.set(CALL_HEADER, tag);
            const expected = head.seq;
            try {
              ack = await this.guard(
                () => ctx.js.publish(subject, body, {
                  headers: h,
                  expect: { lastSubjectSequence: expected },
                  timeout: this.options.requestTimeoutMs,
                  ...(producer ? { msgID: tag } : {}),
                }),
                producer !== undefined,
              );
            } catch (err) {
              // Another writer appended since the head was read: re-read it (this also sees a concurrent end).
              if (apiCode(err) === WRONG_LAST_SEQUENCE && attempt < MAX_CONFLICT_RETRIES) {
                head = await this.refetchHead(ctx, subject, head);
                continue;
              }
              const code = toNatsError(err, 'Publishing').code;
              if (!producer && (code === 'BACKEND_UNAVAILABLE' || code === 'TIMEOUT') && Date.now() < deadline) {
                uncertain.push(expected);
                await new Promise((r) => setTimeout(r, 25));
                continue;
              }
              throw err;
            }
          }
          for (let i = 0; i < chunk.length; i++) offsets.push(offsetOf(ack.seq, i, chunk.length));
          if (ack.duplicate || uncertain.length > 0) {
            // The stream already had this chunk (a producer's retry whose state was never saved: a crash between
            // publish and save), or an earlier attempt of this call landed: re-read the head.
            if (!ack.duplicate) stored0 = true;
            head = await this.fetchHead(ctx, subject);
          } else {
            stored0 = true;
            head = { seq: ack.seq, last: offsets[offsets.length - 1]!, ended: end };
          }
          break;
        }
      }
      this.remember(subject, head);
    } catch (err) {
      this.heads.delete(subject);
      if (err instanceof DurableSessionError && err.code === 'SESSION_ENDED') this.remember(subject, head);
      throw toNatsError(err, 'Publishing to JetStream');
    }
    if (producer) await ctx.producers.advance(log, producer, offsets, stored!);
    return producer && !stored0 ? { offsets, duplicate: true } : { offsets };
  }

  async read(log: LogRef, after: string | null, limit: number): Promise<BackendEntry[]> {
    const subject = this.subjectOf(log);
    const position = after === null ? null : parseRawOffset(after);
    const ctx = await this.context();
    if (limit <= 0) return [];
    // A replay reads page after page: the page after this one continues on the same consumer.
    let reader = this.readers.take(subject, after);
    try {
      if (!reader) {
        const info = await this.guard(() => ctx.jsm.consumers.add(this.options.stream, this.consumerConfig(subject, position)));
        const dispose = () => void ctx.jsm.consumers.delete(this.options.stream, info.name).catch(() => {});
        reader = new LogReader(ctx.js.consumers.getConsumerFromInfo(info), info, after, dispose);
      }
      const entries = await reader.take(limit);
      this.readers.put(subject, entries.length > 0 ? entries[entries.length - 1]!.offset : after, reader);
      return entries;
    } catch (err) {
      reader?.dispose();
      throw toNatsError(err, 'Reading from JetStream');
    }
  }

  async info(log: LogRef): Promise<BackendLogInfo> {
    const subject = this.subjectOf(log);
    const ctx = await this.context();
    try {
      const head = await this.fetchHead(ctx, subject);
      if (head.seq === 0) {
        // Every record aged out (max_age): the stream no longer knows the log existed, but this process may.
        const known = this.heads.get(subject);
        if (known && known.last !== null) return { last: known.last, ended: known.ended, trimmedThrough: known.last };
        return { last: null, ended: false, trimmedThrough: null };
      }
      this.remember(subject, head);
      // Each message names the record before it: the first retained message thus names the newest removed one.
      const first = head.seq === 1 ? null : await this.guard(() => ctx.jsm.streams.getMessage(this.options.stream, { next_by_subj: subject, seq: 1 } as never));
      // No first message although a head was just read: everything aged out between the two requests.
      if (head.seq !== 1 && !first) return { last: head.last, ended: head.ended, trimmedThrough: head.last };
      const prev = first?.header?.get(PREV_HEADER) ?? '';
      return { last: head.last, ended: head.ended, trimmedThrough: prev === '' ? null : prev };
    } catch (err) {
      throw toNatsError(err, 'Reading the log state');
    }
  }

  tail(log: LogRef, after: string | null, listener: TailListener): () => void {
    const subject = this.subjectOf(log);
    let cursor = after;
    let active = true;
    let stopConsumer: (() => void) | undefined;
    let lastDelivery = 0;
    const handle = {
      restart: (err: DurableSessionError) => {
        // The core resubscribes from the last delivered offset (reading the gap first) on a retryable error.
        if (!active) return;
        stop();
        listener.error(err);
      },
    };
    const stop = () => {
      active = false;
      this.tails.delete(handle);
      stopConsumer?.();
    };
    this.tails.add(handle);
    void (async () => {
      const ctx = await this.context();
      const position = cursor === null ? null : parseRawOffset(cursor);
      const info = await this.guard(() => ctx.jsm.consumers.add(this.options.stream, this.consumerConfig(subject, position)));
      const dropConsumer = () => void ctx.jsm.consumers.delete(this.options.stream, info.name).catch(() => {});
      if (!active) return dropConsumer();
      const messages = await ctx.js.consumers.getConsumerFromInfo(info).consume({
        max_messages: PULL_BATCH,
        expires: 20_000,
        // A lost consumer (its node died, the server restarted) shows as missed heartbeats within ~2 intervals;
        // an idle subscription costs one heartbeat message per interval.
        idle_heartbeat: TAIL_HEARTBEAT_MS,
        callback: (m: JsMsg) => {
          if (!active) return;
          // Delivery sequences of one consumer are dense: a hole means a lost message, so start over from the cursor.
          if (m.info.deliverySequence !== lastDelivery + 1) {
            return handle.restart(natsError('BACKEND_UNAVAILABLE', 'The JetStream consumer skipped a delivery.'));
          }
          lastDelivery = m.info.deliverySequence;
          let entries: BackendEntry[];
          try {
            entries = entriesOf(m, cursor);
          } catch (err) {
            stop();
            return listener.error(err);
          }
          if (entries.length === 0) return;
          cursor = entries[entries.length - 1]!.offset;
          listener.next(entries);
        },
      });
      stopConsumer = () => {
        messages.stop();
        dropConsumer();
      };
      if (!active) return stopConsumer();
      void (async () => {
        for await (const s of messages.status()) {
          if (s.type === 'heartbeats_missed' || s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
            handle.restart(natsError('BACKEND_UNAVAILABLE', `The JetStream consumer failed (${s.type}).`));
          }
        }
      })().catch(() => {});
      void messages.closed().then(() => handle.restart(natsError('BACKEND_UNAVAILABLE', 'The JetStream consumer stopped.')));
    })().catch((err: unknown) => {
      if (!active) return;
      stop();
      listener.error(toNatsError(err, 'Following the log'));
    });
    return stop;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = natsError('CLOSED', 'The NATS backend was closed.');
    for (const tail of [...this.tails]) tail.restart(err);
    this.readers.clear();
    const pending = this.connected;
    this.connected = undefined;
    const ctx = await pending?.catch(() => undefined);
    if (ctx && !this.options.connection) await ctx.nc.close().catch(() => {});
  }

  /** A pull consumer over one log from just after `position`: in memory, no acks, removed when idle. */
  private consumerConfig(subject: string, position: Position | null): Partial<ConsumerConfig> {
    // An offset inside a packed message starts at that message; entriesOf() drops the records up to the offset.
    const start = position === null ? 1 : position.index >= 0 ? position.seq : position.seq + 1;
    return {
      filter_subject: subject,
      deliver_policy: 'by_start_sequence' as ConsumerConfig['deliver_policy'],
      opt_start_seq: Math.max(1, start),
      ack_policy: 'none' as ConsumerConfig['ack_policy'],
      mem_storage: true,
      num_replicas: 1,
      max_deliver: 1,
      inactive_threshold: nanos(30_000),
    };
  }

  /** The sequence of the message tagged `tag` right after `expected` in the subject, if an attempt landed. */
  private async landed(ctx: Connected, subject: string, expected: number, tag: string): Promise<number | undefined> {
    const m = await this.guard(() => ctx.jsm.streams.getMessage(this.options.stream, { next_by_subj: subject, seq: expected + 1 } as never));
    return m?.header?.get(CALL_HEADER) === tag ? m.seq : undefined;
  }

  private async fetchHead(ctx: Connected, subject: string): Promise<Head> {
    const m = await this.guard(() => ctx.jsm.streams.getMessage(this.options.stream, { last_by_subj: subject }));
    if (!m) return EMPTY_HEAD;
    return headOf(m);
  }

  /**
   * Re-reads a head this process knew. An empty subject then means every record aged out (max_age), not that the
   * log vanished: the next message must still name the last record (`Ds-Prev`), so that resuming from before it
   * fails with OFFSET_TRIMMED instead of looking like the start of a new log, and an end must still hold.
   */
  private async refetchHead(ctx: Connected, subject: string, known: Head): Promise<Head> {
    const head = await this.fetchHead(ctx, subject);
    return head.seq === 0 && known.last !== null ? { seq: 0, last: known.last, ended: known.ended } : head;
  }

  private remember(subject: string, head: Head): void {
    if (this.heads.size >= HEAD_CACHE_LIMIT && !this.heads.has(subject)) this.heads.clear();
    this.heads.set(subject, head);
  }

  /** Runs appends to one log one at a time in this process, so they never race each other's expected sequence. */
  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(() => {}, () => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }
}

function countOf(headers: MsgHdrs | undefined): number {
  const lengths = headers?.get(LENGTHS_HEADER);
  return lengths ? lengths.split(',').length : 1;
}

function headOf(m: StoredMsg): Head {
  const count = countOf(m.header);
  return { seq: m.seq, last: offsetOf(m.seq, count - 1, count), ended: m.header?.has(END_HEADER) ?? false };
}

/** The records of a delivered message strictly after `after`. */
function entriesOf(m: JsMsg, after: string | null): BackendEntry[] {
  const lengths = m.headers?.get(LENGTHS_HEADER) || undefined;
  const records = unpackRecords(m.data, lengths);
  const out: BackendEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const offset = offsetOf(m.seq, i, records.length);
    if (after === null || offset > after) out.push({ offset, payload: records[i]! });
  }
  return out;
}

/**
 * Whether the server really enables per-message TTL: creates a throw-away stream asking for `allow_msg_ttl` and
 * reads the setting back. nats-server 2.9 accepts the field and silently drops it, so only the echo counts.
 */
export async function probeMessageTtl(jsm: JetStreamManager, name: string): Promise<boolean> {
  const info = await jsm.streams.add({
    name,
    subjects: [`_ds_probe.${name}`],
    storage: 'memory' as StreamConfig['storage'],
    max_msgs: 1,
    allow_msg_ttl: true,
  } as StreamConfig);
  try {
    return (info.config as { allow_msg_ttl?: boolean }).allow_msg_ttl === true;
  } finally {
    await jsm.streams.delete(name).catch(() => false);
  }
}
