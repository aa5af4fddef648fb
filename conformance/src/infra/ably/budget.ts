import type { ChannelState } from './channel.js';

/**
 * Bounds the memory every channel's history takes together. Real Ably bounds history by time only (retention);
 * the emulator keeps history in its own heap, so a benchmark writing millions of messages would otherwise grow it
 * without limit. Over budget, the least recently published channels lose their oldest publishes first (as expired
 * history: a resume from before them loses continuity), down to the newest publish of the channel being written.
 */
export class HistoryBudget {
  private used = 0;
  /** Channels holding history, least recently published first (a Map keeps insertion order). */
  private readonly order = new Map<ChannelState, true>();

  constructor(readonly limitBytes: number) {}

  /** Estimated bytes held now. */
  get usedBytes(): number {
    return this.used;
  }

  /** A publish stored `bytes` on `channel`: it becomes the most recently published, and the oldest go if needed. */
  stored(channel: ChannelState, bytes: number): void {
    this.used += bytes;
    this.order.delete(channel);
    this.order.set(channel, true);
    if (this.used <= this.limitBytes) return;
    for (const candidate of [...this.order.keys()]) {
      this.used -= candidate.evict(this.used - this.limitBytes, candidate === channel);
      if (this.used <= this.limitBytes) return;
    }
  }

  /** Retention removed `bytes` from some channel. */
  released(bytes: number): void {
    this.used -= bytes;
  }

  /** `channel` holds no history any more. */
  emptied(channel: ChannelState): void {
    this.order.delete(channel);
  }
}
