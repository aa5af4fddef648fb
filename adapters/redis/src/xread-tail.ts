import { delay, DurableSessionError, type LogRef, type TailListener } from '@durable-sessions/core';
import { idToOffset, logKeys, offsetToId } from './keys.js';
import { WATERMARKS } from './scripts.js';
import { indexAfter, TAIL_BATCH, TAIL_GRACE_MS, toEntries, unavailable } from './tail-common.js';
import type { RedisClientLike, TcpTransport } from './tcp-transport.js';

interface Follower {
  readonly stream: string;
  readonly meta: string;
  cursor: string | null;
  readonly listener: TailListener;
  active: boolean;
}

/** Options of the XREAD multiplexer. */
export interface XreadHubOptions {
  /** Dedicated blocking connections; each followed stream is assigned to one by hash. */
  connections: number;
  /**
   * BLOCK timeout of one XREAD. A changed follower set interrupts the XREAD with CLIENT UNBLOCK, so this is only the
   * fallback should an unblock miss (it then bounds how long a new follower waits).
   */
  blockMs: number;
  /** Check trim watermarks before delivering (retention on): a follower must not silently skip trimmed entries. */
  checkTrim: boolean;
  prefix: string;
  name: string;
}

/**
 * Live tails over TCP without one blocked connection per subscriber: a few dedicated connections each run one
 * `XREAD BLOCK` over every stream followed through it, from the smallest cursor per stream, and fan entries out to
 * the followers (each with its own cursor, so a follower never sees an entry twice and never skips one).
 */
export class XreadHub {
  private readonly muxes: Multiplexer[];

  constructor(transport: TcpTransport, private readonly options: XreadHubOptions) {
    this.muxes = Array.from({ length: Math.max(1, options.connections) }, () => new Multiplexer(transport, options));
  }

  tail(log: LogRef, after: string | null, listener: TailListener): () => void {
    const keys = logKeys(log, this.options.prefix);
    try {
      if (after !== null) offsetToId(after);
    } catch (err) {
      queueMicrotask(() => listener.error(err));
      return () => {};
    }
    const follower: Follower = { stream: keys.stream, meta: keys.meta, cursor: after, listener, active: true };
    const mux = this.muxes[shard(keys.stream, this.muxes.length)]!;
    mux.add(follower);
    return () => {
      if (!follower.active) return;
      follower.active = false;
      mux.remove(follower);
    };
  }

  /** Connections currently open for tails (for tests and stats). */
  get connectionCount(): number {
    return this.muxes.filter((m) => m.connected).length;
  }

  async close(err: DurableSessionError): Promise<void> {
    await Promise.all(this.muxes.map((m) => m.close(err)));
  }
}

class Multiplexer {
  private readonly followers = new Map<string, Set<Follower>>();
  private conn: RedisClientLike | undefined;
  private clientId: string | undefined;
  private inFlight = false;
  private dirty = false;
  /** Incremented per XREAD issued; `unblocked` is the round already interrupted, so it is not interrupted twice. */
  private round = 0;
  private unblocked = -1;
  private unblocking = false;
  private running = false;
  private closed = false;
  private idle: (() => void) | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly transport: TcpTransport,
    private readonly options: XreadHubOptions,
  ) {}

  get connected(): boolean {
    return this.conn !== undefined;
  }

  add(follower: Follower): void {
    let set = this.followers.get(follower.stream);
    if (!set) this.followers.set(follower.stream, (set = new Set()));
    set.add(follower);
    this.dirty = true;
    if (!this.running) {
      this.running = true;
      void this.loop();
    }
    this.poke();
  }

  remove(follower: Follower): void {
    const set = this.followers.get(follower.stream);
    if (!set?.delete(follower)) return;
    if (set.size === 0) this.followers.delete(follower.stream);
  }

  /** Makes the loop re-issue its XREAD with the current follower set. */
  private poke(): void {
    if (!this.inFlight) {
      const wake = this.idle;
      this.idle = undefined;
      wake?.();
      return;
    }
    if (this.unblocking) return;
    this.unblocking = true;
    void this.unblock().finally(() => (this.unblocking = false));
  }

  private async unblock(): Promise<void> {
    // CLIENT UNBLOCK answers 0 when the XREAD has not reached the server yet; it will very soon, so retry briefly.
    // After a successful unblock the loop re-issues its XREAD; a follower added just after that was built needs
    // one more interrupt, hence the loop over rounds.
    let attempt = 0;
    while (this.inFlight && this.dirty && !this.closed && attempt < 200) {
      const round = this.round;
      const id = this.clientId;
      if (id !== undefined && this.unblocked !== round) {
        try {
          if (Number(await this.transport.command(['CLIENT', 'UNBLOCK', id])) === 1) {
            this.unblocked = round;
            attempt = 0;
            continue;
          }
        } catch {
          return;
        }
      }
      attempt++;
      await delay(attempt < 20 ? 0 : 5);
    }
  }

  private async loop(): Promise<void> {
    let failingSince: number | undefined;
    let backoff = 25;
    while (!this.closed) {
      if (this.followers.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        continue;
      }
      try {
        this.conn ??= await this.transport.dedicatedConnection();
        const conn = this.conn;
        const streams: string[] = [];
        const ids: string[] = [];
        const issued = new Map<string, string | null>();
        for (const [stream, set] of this.followers) {
          let min: string | null | undefined;
          for (const f of set) if (min === undefined || f.cursor === null || (min !== null && f.cursor < min)) min = f.cursor;
          streams.push(stream);
          ids.push(min == null ? '0-0' : offsetToId(min));
          issued.set(stream, min ?? null);
        }
        this.dirty = false;
        this.inFlight = true;
        this.round++;
        // CLIENT ID is pipelined with every XREAD (one write, no extra round trip) so an unblock always targets the
        // current connection, even after a silent reconnect.
        const idReply = conn.sendCommand(['CLIENT', 'ID']).then((id) => (this.clientId = String(id)));
        const xread = conn.sendCommand(['XREAD', 'COUNT', String(TAIL_BATCH), 'BLOCK', String(this.options.blockMs), 'STREAMS', ...streams, ...ids]);
        const [, reply] = await Promise.all([idReply, xread]);
        this.inFlight = false;
        failingSince = undefined;
        backoff = 25;
        if (reply) await this.deliver(reply, issued);
      } catch (err) {
        this.inFlight = false;
        this.clientId = undefined;
        if (this.closed) return;
        const mapped = this.transport.mapError(err);
        failingSince ??= Date.now();
        const retryable = mapped instanceof DurableSessionError && mapped.retryable;
        if (!retryable || Date.now() - failingSince > TAIL_GRACE_MS) {
          // Not the tail's to judge: the core re-reads each log from its last offset, which sorts out a broken key
          // (that one subscription fails) from a blip (the others resume).
          this.failAll(unavailable(this.options.name, mapped));
          failingSince = undefined;
        }
        await delay(backoff, this.stop.signal);
        backoff = Math.min(1_000, backoff * 2);
      }
    }
  }

  /**
   * Fans one XREAD reply out. `issued` holds the position each stream was read from: a follower that joined with an
   * older cursor meanwhile must not get this reply (it lacks the entries between its cursor and that position); it
   * waits for the next round, which reads from its cursor.
   */
  private async deliver(reply: unknown, issued: Map<string, string | null>): Promise<void> {
    const streams = parseXread(reply);
    let watermarks: Map<string, string> | undefined;
    if (this.options.checkTrim && streams.length > 0) {
      const metas = streams.map(([stream]) => `${stream}:meta`);
      const marks = (await this.transport.evalScript(WATERMARKS, metas, [])) as unknown[];
      watermarks = new Map(streams.map(([stream], i) => [stream, String(marks[i] ?? '')]));
    }
    for (const [stream, raw] of streams) {
      const set = this.followers.get(stream);
      if (!set) continue;
      const entries = toEntries(raw);
      const mark = watermarks?.get(stream);
      const trimmedThrough = mark ? idToOffset(mark) : undefined;
      const from = issued.get(stream);
      for (const follower of [...set]) {
        if (!follower.active) continue;
        if (from === undefined || (from !== null && (follower.cursor === null || follower.cursor < from))) {
          this.dirty = true;
          continue;
        }
        if (trimmedThrough !== undefined && follower.cursor !== null && follower.cursor < trimmedThrough) {
          follower.active = false;
          this.remove(follower);
          follower.listener.error(new DurableSessionError('OFFSET_TRIMMED', 'Retention removed events this tail had not delivered yet.', { backend: this.options.name }));
          continue;
        }
        const start = indexAfter(entries, follower.cursor);
        if (start >= entries.length) continue;
        const chunk = start === 0 ? entries : entries.slice(start);
        follower.cursor = chunk[chunk.length - 1]!.offset;
        try {
          follower.listener.next(chunk);
        } catch {
          // a listener's own failure is not the tail's
        }
      }
    }
  }

  private failAll(err: DurableSessionError): void {
    const all = [...this.followers.values()].flatMap((set) => [...set]);
    this.followers.clear();
    for (const follower of all) {
      follower.active = false;
      follower.listener.error(err);
    }
  }

  async close(err: DurableSessionError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    this.failAll(err);
    this.idle?.();
    if (this.conn) this.transport.release(this.conn);
    this.conn = undefined;
  }
}

/** XREAD replies: RESP2 `[[key, entries], …]`; RESP3 clients may hand back a map (object or Map) instead. */
function parseXread(reply: unknown): Array<[string, unknown]> {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) return reply.map((item) => [String((item as unknown[])[0]), (item as unknown[])[1]]);
  if (reply instanceof Map) return [...reply.entries()].map(([k, v]) => [String(k), v]);
  if (typeof reply === 'object') return Object.entries(reply as Record<string, unknown>);
  return [];
}

function shard(key: string, count: number): number {
  if (count === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}
