import { delay, isDurableSessionError, type BackendEntry, type LogRef, type TailListener } from '@durable-sessions/core';
import { logKeys } from './keys.js';
import type { Notifications } from './notifications.js';
import { TAIL_BATCH, TAIL_GRACE_MS, unavailable } from './tail-common.js';

interface Follower {
  cursor: string | null;
  readonly listener: TailListener;
  active: boolean;
  pulling: boolean;
  again: boolean;
  readonly stopped: AbortController;
  stop: () => void;
}

/** Reads a page strictly after a raw offset (the backend's `read`, which also detects trimmed offsets). */
export type PageReader = (log: LogRef, after: string | null, limit: number) => Promise<BackendEntry[]>;

/**
 * Live tails where Redis cannot block (REST): a published notification is only a wake-up, XRANGE (through the read
 * script) is the source of truth, and each follower's cursor de-duplicates. Every (re)subscription of the
 * notification channel triggers a read too, so a wake-up lost while the channel was down costs latency, never events.
 */
export class NotifyTailHub {
  private readonly followers = new Set<Follower>();
  /** Reads created in the current turn, by stream and cursor: followers woken together share one. */
  private readonly sharedReads = new Map<string, Promise<BackendEntry[]>>();

  constructor(
    private readonly notifications: Notifications,
    private readonly readPage: PageReader,
    private readonly prefix: string,
    private readonly backend: string,
  ) {}

  tail(log: LogRef, after: string | null, listener: TailListener): () => void {
    const keys = logKeys(log, this.prefix);
    const follower: Follower = { cursor: after, listener, active: true, pulling: false, again: false, stopped: new AbortController(), stop: () => {} };
    this.followers.add(follower);
    const unwatch = this.notifications.watch(keys.channel, keys.message, () => this.pull(log, keys.stream, follower));
    follower.stop = () => {
      if (!follower.active) return;
      follower.active = false;
      follower.stopped.abort();
      this.followers.delete(follower);
      unwatch();
    };
    this.pull(log, keys.stream, follower);
    return follower.stop;
  }

  private pull(log: LogRef, stream: string, follower: Follower): void {
    if (!follower.active) return;
    if (follower.pulling) {
      follower.again = true;
      return;
    }
    follower.pulling = true;
    void this.drain(log, stream, follower);
  }

  /**
   * The page after `cursor`, shared by every follower of the stream that asks for the same position in the same
   * turn (fan-out: one wake-up, one read, however many subscribers). Sharing only within the turn keeps it exact:
   * the command leaves after the turn, so it runs after every append whose wake-up was handled in it.
   */
  private read(log: LogRef, stream: string, cursor: string | null): Promise<BackendEntry[]> {
    const key = `${stream}\n${cursor ?? ''}`;
    let page = this.sharedReads.get(key);
    if (!page) {
      page = this.readPage(log, cursor, TAIL_BATCH);
      this.sharedReads.set(key, page);
      queueMicrotask(() => this.sharedReads.delete(key));
    }
    return page;
  }

  private async drain(log: LogRef, stream: string, follower: Follower): Promise<void> {
    let failingSince: number | undefined;
    let backoff = 50;
    try {
      while (follower.active) {
        follower.again = false;
        let page: BackendEntry[];
        try {
          page = await this.read(log, stream, follower.cursor);
        } catch (err) {
          if (!follower.active) return;
          const retryable = isDurableSessionError(err, 'BACKEND_UNAVAILABLE', 'TIMEOUT');
          failingSince ??= Date.now();
          if (!retryable || Date.now() - failingSince > TAIL_GRACE_MS) {
            this.fail(follower, retryable ? unavailable(this.backend, err) : err);
            return;
          }
          await delay(backoff, follower.stopped.signal);
          backoff = Math.min(1_000, backoff * 2);
          continue;
        }
        failingSince = undefined;
        backoff = 50;
        if (!follower.active) return;
        if (page.length > 0) {
          follower.cursor = page[page.length - 1]!.offset;
          try {
            follower.listener.next(page);
          } catch {
            // a listener's own failure is not the tail's
          }
        }
        if (page.length < TAIL_BATCH && !follower.again) return;
      }
    } finally {
      // Runs in the same turn as the loop's exit, so a wake-up arriving right after starts a new drain.
      follower.pulling = false;
    }
  }

  private fail(follower: Follower, err: unknown): void {
    follower.stop();
    follower.listener.error(err);
  }

  /** Fails every follower (backend close). */
  closeAll(err: unknown): void {
    for (const follower of [...this.followers]) this.fail(follower, err);
  }
}
