import {
  advanceProducer,
  checkProducer,
  DurableSessionError,
  isEndPayload,
  type Backend,
  type BackendAppendRequest,
  type BackendAppendResult,
  type BackendEntry,
  type BackendLogInfo,
  type BackendProducer,
  type Capabilities,
  type LogRef,
  type PresenceRef,
  type ProducerState,
} from '@durable-sessions/core';
import type { InboundMessage, PaginatedResult, Realtime, RealtimeChannel } from 'ably';
import { Coalescer } from './coalesce.js';
import { NAME, toAblyError } from './errors.js';
import { LogChannel, toEntry, type LogEntry } from './log-channel.js';
import { messageIdBase, offsetToSerial, publishIds, parseMessageId, serialTime, serialToOffset } from './offsets.js';
import { resolveOptions, type AblyOptions } from './options.js';
import { AblyPresence } from './presence.js';
import { HISTORY_PAGE, historyAfter, startTail } from './tail.js';

/**
 * How far before an offset's serial time a forward history read starts: history filters by message timestamp,
 * which can trail the serial's time slightly.
 */
const SERIAL_SKEW_MS = 2_000;

/**
 * The Ably backend: each session log is a channel (`<prefix>:<key>:events`, `…:control`), offsets are message
 * serials, appends are realtime publishes with deterministic message ids (idempotent publishing), tails attach and
 * backfill from history, and presence is Ably's own (`…:presence`).
 */
export function ably(options: AblyOptions = {}): Backend {
  const resolved = resolveOptions(options);
  const capabilities: Capabilities = {
    durable: true,
    idempotentAppend: true,
    atomicBatch: false,
    atomicEnd: false,
    presence: 'native',
    maxPayloadBytes: resolved.maxMessageSize,
    maxBatchSize: resolved.maxBatchSize,
    retention: { maxAge: false, maxEvents: false },
    detectsTrimmedOffsets: false,
  };
  let clientPromise: Promise<Realtime> | undefined;
  let closed = false;
  const logs = new Map<string, LogChannel>();
  const reader = new HistoryReader();
  const heads = new Coalescer();
  const reads = new Coalescer();

  const client = (): Promise<Realtime> => {
    if (closed) return Promise.reject(new DurableSessionError('CLOSED', 'The Ably backend is closed.', { backend: NAME }));
    clientPromise ??= resolved.client
      ? Promise.resolve(resolved.client)
      : import('ably').then((mod) => {
          const Ctor = (mod as { Realtime?: typeof import('ably').Realtime }).Realtime ?? (mod as unknown as { default: { Realtime: typeof import('ably').Realtime } }).default.Realtime;
          return new Ctor({ ...resolved.clientOptions, echoMessages: true });
        });
    return clientPromise;
  };
  const channelName = (key: string, kind: string) => `${resolved.channelPrefix}:${key}:${kind}`;

  const logChannel = async (ref: LogRef): Promise<LogChannel> => {
    const name = channelName(ref.key, ref.kind);
    const existing = logs.get(name);
    if (existing && !existing.isDisposed) return existing.acquire();
    const realtime = await client();
    let lc = logs.get(name);
    if (!lc || lc.isDisposed) {
      lc = new LogChannel(realtime.channels.get(name), resolved.idleDetachMs, (gone) => {
        if (logs.get(name) === gone) logs.delete(name);
        // Released only once detached and still unused: a channel object is per name, and a tail that started
        // meanwhile must keep the one the SDK routes messages to.
        void gone.channel
          .detach()
          .then(() => {
            if (!logs.has(name) && gone.channel.state === 'detached') realtime.channels.release(name);
          })
          .catch(() => {});
      });
      logs.set(name, lc);
    }
    return lc.acquire();
  };
  /** Runs a history query on a channel object, released afterwards unless a tail or append holds it. */
  const withHistory = async <T>(ref: LogRef, what: string, query: (channel: RealtimeChannel) => Promise<T>): Promise<T> => {
    const realtime = await client();
    const name = channelName(ref.key, ref.kind);
    const channel = realtime.channels.get(name);
    try {
      return await query(channel);
    } catch (err) {
      throw toAblyError(err, `${what} ${name} failed`);
    } finally {
      if (!logs.has(name) && channel.state === 'initialized') realtime.channels.release(name);
    }
  };

  const presence = new AblyPresence(client, (ref: PresenceRef) => channelName(ref.key, 'presence'), resolved.idleDetachMs);

  /**
   * Publishes records in as few publishes as the message size limit allows (one ACK each), in order; the ids of
   * each publish are derived from `base` (see {@link publishIds}).
   */
  const publish = async (channel: RealtimeChannel, records: readonly string[], base: string): Promise<string[]> => {
    const chunks: Array<{ start: number; data: string[] }> = [];
    let chunk: { start: number; data: string[] } = { start: 0, data: [] };
    let size = 0;
    records.forEach((data, i) => {
      const bytes = Buffer.byteLength(data, 'utf8');
      if (chunk.data.length > 0 && size + bytes > resolved.maxMessageSize) {
        chunks.push(chunk);
        chunk = { start: i, data: [] };
        size = 0;
      }
      chunk.data.push(data);
      size += bytes;
    });
    chunks.push(chunk);
    const published = chunks.map(({ start, data }) => {
      const ids = publishIds(base, start, data.length);
      return { ids, messages: data.map((d, k) => ({ id: ids[k]!, data: d })) };
    });
    const ids = published.flatMap((p) => p.ids);
    const results = await Promise.all(published.map(({ messages }) => channel.publish(messages)));
    // Older SDKs resolve publish() without a result: fall back to looking the ids up in history.
    const serials = results.flatMap((r) => (r as { serials?: Array<string | null> } | undefined)?.serials ?? []);
    if (serials.length !== records.length || serials.some((s) => typeof s !== 'string')) return findSerials(channel, ids);
    return serials as string[];
  };

  /**
   * Serials of already-published ids, from history: Ably may answer a de-duplicated republish without serials.
   */
  const findSerials = async (channel: RealtimeChannel, ids: string[]): Promise<string[]> => {
    const wanted = new Map(ids.map((id) => [id, undefined as string | undefined]));
    let missing = ids.length;
    let page: PaginatedResult<InboundMessage> | null = await channel.history({ limit: HISTORY_PAGE });
    for (let pages = 0; page && missing > 0 && pages < resolved.producerScanPages; pages++) {
      for (const message of page.items) {
        if (wanted.has(message.id) && wanted.get(message.id) === undefined) {
          const entry = toEntry(message);
          if (entry) {
            wanted.set(message.id, entry.serial);
            missing--;
          }
        }
      }
      page = page.hasNext() ? await page.next() : null;
    }
    if (missing > 0) {
      throw new DurableSessionError(
        'CONFIG_INVALID',
        'Ably acknowledged a publish without message serials and history does not show them: enable the channel rules "annotations, updates, deletes and appends" and "persist all messages" on the namespace.',
        { backend: NAME },
      );
    }
    return ids.map((id) => wanted.get(id)!);
  };

  /**
   * The state of a producer this process has not seen, from the newest messages with its stamp in history (their
   * offsets too, so a retry of that last call gets them back).
   */
  const recoverProducer = async (lc: LogChannel, producerId: string): Promise<ProducerState | undefined> => {
    let found: { epoch: number; seq: number; offsets: Array<[number, string]> } | undefined;
    let page: PaginatedResult<InboundMessage> | null = await lc.channel.history({ limit: HISTORY_PAGE });
    for (let pages = 0; page && pages < resolved.producerScanPages; pages++) {
      for (const message of page.items) {
        const stamp = parseMessageId(message.id);
        if (stamp?.producerId !== producerId) continue;
        if (found && (stamp.epoch !== found.epoch || stamp.seq !== found.seq)) return recovered(found);
        found ??= { epoch: stamp.epoch, seq: stamp.seq, offsets: [] };
        const entry = toEntry(message);
        if (entry) found.offsets.push([stamp.index, entry.offset]);
      }
      page = page.hasNext() ? await page.next() : null;
    }
    return found ? recovered(found) : lc.producers.get(producerId);
  };
  const recovered = (found: { epoch: number; seq: number; offsets: Array<[number, string]> }): ProducerState => ({
    epoch: found.epoch,
    lastSeq: found.seq,
    recent: [{ seq: found.seq, offsets: found.offsets.sort((a, b) => a[0] - b[0]).map(([, offset]) => offset) }],
  });

  const appendStamped = async (lc: LogChannel, request: BackendAppendRequest, producer: BackendProducer): Promise<BackendAppendResult> => {
    let state = lc.producers.get(producer.id);
    if (!state && (producer.seq > 0 || producer.epoch > 0)) state = await recoverProducer(lc, producer.id);
    const verdict = checkProducer(state, producer);
    if (verdict.action === 'duplicate') return { offsets: verdict.offsets, duplicate: true };
    if (lc.ended) throw ended();
    const serials = await publish(lc.channel, request.records, messageIdBase(producer));
    const offsets = serials.map(serialToOffset);
    lc.producers.set(producer.id, advanceProducer(lc.producers.get(producer.id) ?? state, producer, offsets));
    return { offsets };
  };

  const ended = () => new DurableSessionError('SESSION_ENDED', 'The session has ended; nothing more can be appended.', { backend: NAME });

  return {
    name: NAME,
    capabilities,
    presence,
    async append(ref, request) {
      const lc = await logChannel(ref);
      try {
        await lc.ready();
        while (lc.endPending) await lc.endPending.catch(() => {});
        if (lc.ended) throw ended();
        const run = async (): Promise<BackendAppendResult> => {
          if (request.producer) return appendStamped(lc, request, request.producer);
          if (lc.ended) throw ended();
          const serials = await publish(lc.channel, request.records, messageIdBase());
          return { offsets: serials.map(serialToOffset) };
        };
        let result: Promise<BackendAppendResult>;
        if (request.producer) {
          result = lc.stampedQueue.then(run, run);
          lc.stampedQueue = result.catch(() => {});
        } else {
          result = run();
        }
        if (request.end) {
          const pending = result.then(() => {
            lc.ended = true;
          });
          lc.endPending = pending;
          void pending.catch(() => {}).finally(() => {
            if (lc.endPending === pending) lc.endPending = undefined;
          });
        }
        return await result;
      } catch (err) {
        throw toAblyError(err, `Publishing to ${lc.channel.name} failed`);
      } finally {
        lc.release();
      }
    },

    read(ref, after, limit) {
      // Shared by identical reads asked before the query is sent (a burst of subscriptions catching up from 'now').
      const key = `${channelName(ref.key, ref.kind)}\u0000${after}\u0000${limit}`;
      return reads.run(key, () => withHistory(ref, 'Reading history of', (channel) => reader.read(channel, after, limit))).then((entries) => entries.slice());
    },

    info(ref): Promise<BackendLogInfo> {
      // Shared by the callers asking before the query is sent (a burst of subscriptions from 'now').
      return heads.run(channelName(ref.key, ref.kind), () => withHistory(ref, 'Reading the head of', async (channel) => {
        // The newest message is normally ours; a foreign one (data that is not a string) means looking further.
        let page = await channel.history({ limit: 1 });
        if (page.items.length > 0 && typeof page.items[0]!.data !== 'string') page = await channel.history({ limit: 100 });
        for (const message of page.items) {
          const entry = toEntry(message);
          if (!entry) continue;
          const known = logs.get(channel.name);
          return { last: entry.offset, ended: isEndPayload(entry.payload) || (known?.ended ?? false), trimmedThrough: null };
        }
        return { last: null, ended: false, trimmedThrough: null };
      })).then((info) => ({ ...info }));
    },

    tail(ref, after, listener) {
      let stop: (() => void) | undefined;
      let stopped = false;
      logChannel(ref).then(
        (lc) => {
          // logChannel acquired a reference for us; startTail takes its own.
          if (!stopped) stop = startTail(lc, after, listener);
          lc.release();
        },
        (err: unknown) => {
          if (!stopped) listener.error(toAblyError(err, 'Starting a tail failed'));
        },
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },

    async close() {
      if (closed) return;
      const err = new DurableSessionError('CLOSED', 'The Ably backend was closed.', { backend: NAME });
      const realtime = clientPromise ? await clientPromise.catch(() => undefined) : undefined;
      closed = true;
      for (const lc of [...logs.values()]) {
        lc.failAll(err);
        lc.dispose();
      }
      logs.clear();
      if (!realtime) return;
      if (resolved.client) {
        await presence.leaveAll();
      } else {
        realtime.close();
      }
    },
  };
}

/** Where a forward history read stopped, so the next page of a sequential reader continues without a re-query. */
interface ReadPosition {
  page: PaginatedResult<InboundMessage>;
  index: number;
}

/** Read positions kept per backend (sequential readers hit them; each is one page of messages). */
const READ_CACHE_SIZE = 64;

/**
 * Reads strictly after an offset. Ably's history cannot start at a serial, so a read starts at the serial's time
 * (minus a skew margin) going forwards and skips what is not after it; the position it stops at is remembered, so
 * the core's page-by-page replay continues from there instead of re-scanning (linear, not quadratic, catch-up).
 */
export class HistoryReader {
  private readonly positions = new Map<string, ReadPosition>();

  async read(channel: RealtimeChannel, after: string | null, limit: number): Promise<BackendEntry[]> {
    const cursor = after === null ? null : offsetToSerial(after);
    const time = cursor === null ? undefined : serialTime(cursor);
    if (cursor !== null && time === undefined) {
      // A serial of an unknown shape carries no time: page backwards down to it instead.
      const entries = await historyAfter(channel, cursor, { newest: true });
      return entries.slice(0, limit).map(({ offset, payload }) => ({ offset, payload }));
    }
    const key = `${channel.name}\u0000${cursor}`;
    const cached = cursor === null ? undefined : this.positions.get(key);
    if (cached) {
      // Kept, not consumed: several readers resuming from one offset (devices, repeated replays) all hit it.
      this.positions.delete(key);
      this.positions.set(key, cached);
    } else if (cursor !== null) {
      const recent = await this.recent(channel, cursor, limit);
      if (recent) return recent;
    }
    let page: PaginatedResult<InboundMessage> | null =
      cached?.page ??
      (await channel.history({
        direction: 'forwards',
        limit: HISTORY_PAGE,
        ...(time !== undefined ? { start: Math.max(0, time - SERIAL_SKEW_MS) } : {}),
      }));
    let index = cached?.index ?? 0;
    let found = cached !== undefined || cursor === null;
    const out: BackendEntry[] = [];
    while (page) {
      for (; index < page.items.length; index++) {
        const entry = toEntry(page.items[index]!);
        if (!entry || (cursor !== null && entry.serial <= cursor)) continue;
        if (!found) {
          // Where the messages after the offset start: the next read from the same offset skips the time window.
          found = true;
          this.remember(key, { page, index });
        }
        out.push({ offset: entry.offset, payload: entry.payload });
        if (out.length >= limit) {
          this.remember(`${channel.name}\u0000${entry.serial}`, { page, index: index + 1 });
          return out;
        }
      }
      page = page.hasNext() ? await page.next() : null;
      index = 0;
    }
    if (cached && out.length < limit) {
      // A remembered page predates messages appended since: look again past what it held.
      const from = out.length > 0 ? out[out.length - 1]!.offset : after;
      out.push(...(await this.read(channel, from, limit - out.length)));
    }
    return out;
  }

  /**
   * The messages after `cursor` when they are among the newest page of the log (a reader near the head: a tail
   * catching up, a prefetch past the last page), oldest first; undefined when the cursor is older. Paging backwards
   * from the newest message compares serials only, so no time window before the offset is read.
   */
  private async recent(channel: RealtimeChannel, cursor: string, limit: number): Promise<BackendEntry[] | undefined> {
    const page = await channel.history({ direction: 'backwards', limit: HISTORY_PAGE });
    const newer: LogEntry[] = [];
    let reached = !page.hasNext();
    for (const message of page.items) {
      const entry = toEntry(message);
      if (!entry) continue;
      if (entry.serial <= cursor) {
        reached = true;
        break;
      }
      newer.push(entry);
    }
    if (!reached) return undefined;
    return newer
      .reverse()
      .slice(0, limit)
      .map(({ offset, payload }) => ({ offset, payload }));
  }

  private remember(key: string, position: ReadPosition): void {
    // The last page of a log is not kept: it cannot show messages appended after it was fetched.
    if (position.index >= position.page.items.length && !position.page.hasNext()) return;
    this.positions.set(key, position);
    if (this.positions.size > READ_CACHE_SIZE) this.positions.delete(this.positions.keys().next().value!);
  }
}
