import { DurableSessionError, isEndPayload, type ProducerState } from '@durable-sessions/core';
import type { ChannelStateChange, InboundMessage, PaginatedResult, RealtimeChannel, RealtimeHistoryParams } from 'ably';
import { Coalescer } from './coalesce.js';
import { NAME, toAblyError } from './errors.js';
import { parseMessageId, serialToOffset } from './offsets.js';

/** A message of a log, as tails receive it. */
export interface LogEntry {
  serial: string;
  offset: string;
  payload: string;
}

/** What a tail registers with its channel. */
export interface ChannelFollower {
  onEntry(entry: LogEntry): void;
  /** The channel re-attached without RESUMED: messages may have been missed (RTL2f, RTL12). */
  onContinuityLost(): void;
  onFailure(err: DurableSessionError): void;
}

/** Turns a delivered or historic message into a log entry; messages without string data are not ours. */
export function toEntry(message: InboundMessage): LogEntry | undefined {
  if (typeof message.data !== 'string') return undefined;
  if (typeof message.serial !== 'string' || message.serial.length === 0) {
    throw new DurableSessionError(
      'CONFIG_INVALID',
      'Ably delivered a message without a serial: enable the channel rule "annotations, updates, deletes and appends" on the namespace of the channel prefix.',
      { backend: NAME },
    );
  }
  return { serial: message.serial, offset: serialToOffset(message.serial), payload: message.data };
}

/**
 * One attached log channel, shared by every tail and append of this backend on that log. It holds one Ably
 * subscription, fans messages out to tails, and watches the stream for end records and producer stamps (so appends
 * see other writers' fencing). It stays attached while used and `idleMs` after, then detaches.
 */
export class LogChannel {
  /** Newest serial delivered live since this channel first attached: a floor a new tail's history must reach. */
  lastSeen: string | null = null;
  /** Whether an end record was seen (in the pre-attach history check or live). */
  ended = false;
  /** Producer states, from this process's appends and from stamps seen on the channel. */
  readonly producers = new Map<string, ProducerState>();
  /** An end append in flight: appends wait for its outcome instead of racing it. */
  endPending: Promise<unknown> | undefined;
  /** Serialises stamped appends, so checking and advancing a producer state is atomic in this process. */
  stampedQueue: Promise<unknown> = Promise.resolve();
  private readonly followers = new Set<ChannelFollower>();
  private refs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private attachedOnce = false;
  private checked: Promise<void> | undefined;
  private disposed = false;
  private readonly requests = new Coalescer();
  private readonly onMessage = (message: InboundMessage) => this.receive(message);
  private readonly onState = (change: ChannelStateChange) => this.stateChanged(change);

  constructor(
    readonly channel: RealtimeChannel,
    private readonly idleMs: number,
    private readonly onDispose: (lc: LogChannel) => void,
  ) {
    void channel.subscribe(this.onMessage).catch(() => {});
    channel.on(this.onState);
  }

  acquire(): this {
    this.refs++;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return this;
  }

  release(): void {
    if (--this.refs > 0 || this.disposed) return;
    this.idleTimer = setTimeout(() => this.dispose(), this.idleMs);
    this.idleTimer.unref?.();
  }

  follow(follower: ChannelFollower): () => void {
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }

  /** Resolves once attached. */
  async attached(): Promise<void> {
    if (this.channel.state === 'attached') return;
    try {
      await this.channel.attach();
    } catch (err) {
      throw toAblyError(err, `Attaching ${this.channel.name} failed`);
    }
  }

  /**
   * Resolves once attached and the history up to the attach point was checked for an end record, so `ended`
   * is accurate for appends (up to races with other processes: Ably has no conditional publish).
   */
  ready(): Promise<void> {
    this.checked ??= (async () => {
      await this.attached();
      const page = await this.channel.history({ untilAttach: true, limit: 1 });
      const last = page.items[0];
      if (last && typeof last.data === 'string' && isEndPayload(last.data)) this.ended = true;
    })().catch((err: unknown) => {
      this.checked = undefined;
      throw toAblyError(err, `Reading the head of ${this.channel.name} failed`);
    });
    return this.checked;
  }

  /** A history query, shared with the tails that ask the same at the same time (a burst of subscriptions). */
  readonly history = (params: RealtimeHistoryParams): Promise<PaginatedResult<InboundMessage>> =>
    this.requests.run(JSON.stringify(params), () => this.channel.history(params));

  /** Fails every follower (backend close). */
  failAll(err: DurableSessionError): void {
    for (const follower of [...this.followers]) follower.onFailure(err);
    this.followers.clear();
  }

  /** Detaches now and forgets the channel. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.idleTimer);
    this.channel.unsubscribe(this.onMessage);
    this.channel.off(this.onState);
    this.onDispose(this);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private receive(message: InboundMessage): void {
    let entry: LogEntry | undefined;
    try {
      entry = toEntry(message);
    } catch (err) {
      for (const follower of [...this.followers]) follower.onFailure(err as DurableSessionError);
      return;
    }
    if (!entry) return;
    if (this.lastSeen === null || entry.serial > this.lastSeen) this.lastSeen = entry.serial;
    if (isEndPayload(entry.payload)) this.ended = true;
    const stamp = parseMessageId(message.id);
    if (stamp) {
      const state = this.producers.get(stamp.producerId);
      // Stamps seen on the channel only ever move a producer forward (newer epoch, later seq): that is how a
      // writer in this process learns it was fenced by a newer epoch elsewhere.
      if (!state || stamp.epoch > state.epoch) this.producers.set(stamp.producerId, { epoch: stamp.epoch, lastSeq: stamp.seq, recent: [] });
      else if (stamp.epoch === state.epoch && stamp.seq > state.lastSeq) state.lastSeq = stamp.seq;
    }
    for (const follower of [...this.followers]) follower.onEntry(entry);
  }

  private stateChanged(change: ChannelStateChange): void {
    // `attached` after a suspension and `update` (RTL12) both arrive here with current 'attached'.
    if (change.current === 'attached') {
      const lost = this.attachedOnce && !change.resumed;
      this.attachedOnce = true;
      if (lost) this.continuityLost();
    } else if (change.current === 'failed') {
      const err = toAblyError(change.reason ?? new Error('channel failed'), `Channel ${this.channel.name} failed`);
      for (const follower of [...this.followers]) follower.onFailure(err);
    }
  }

  /** An `update` event without `resumed` (RTL12) or a re-attach after suspension. */
  continuityLost(): void {
    // An end record or a fencing epoch may have been missed: check the head again before the next append.
    this.checked = undefined;
    for (const follower of [...this.followers]) follower.onContinuityLost();
  }
}
