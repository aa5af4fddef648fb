import { DurableSessionError, type BackendEntry, type TailListener } from '@durable-sessions/core';
import type { InboundMessage, PaginatedResult, RealtimeChannel, RealtimeHistoryParams } from 'ably';
import { toAblyError } from './errors.js';
import { toEntry, type LogChannel, type LogEntry } from './log-channel.js';
import { offsetToSerial } from './offsets.js';

/** Ably's largest history page. */
export const HISTORY_PAGE = 1_000;
/** How long a new tail waits for history to catch up with what the channel already delivered live. */
const HISTORY_CATCH_UP_MS = 10_000;

/**
 * Messages newer than `cursor` (a serial; null: all retained), oldest first, paging history backwards from the
 * attach point (`untilAttach`) or from the newest message. With `floor`, history must already contain that serial
 * (Ably's history is eventually consistent with live delivery): pages are re-read until it does. `history` issues
 * the first query of each attempt (a tail's is shared with the tails starting at the same time).
 */
export async function historyAfter(
  channel: RealtimeChannel,
  cursor: string | null,
  mode: { untilAttach: true } | { floor: string } | { newest: true },
  history: (params: RealtimeHistoryParams) => Promise<PaginatedResult<InboundMessage>> = (params) => channel.history(params),
): Promise<LogEntry[]> {
  const deadline = Date.now() + HISTORY_CATCH_UP_MS;
  let delay = 25;
  for (;;) {
    let page: PaginatedResult<InboundMessage> | null = await history(
      'untilAttach' in mode ? { untilAttach: true, limit: HISTORY_PAGE } : { direction: 'backwards', limit: HISTORY_PAGE },
    );
    if ('floor' in mode) {
      const newest = page.items[0]?.serial;
      if (newest === undefined || newest < mode.floor) {
        if (Date.now() > deadline) throw new DurableSessionError('BACKEND_UNAVAILABLE', 'Ably history did not catch up with live messages.', { backend: 'ably' });
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(500, delay * 2);
        continue;
      }
    }
    const newestFirst: LogEntry[] = [];
    while (page) {
      for (const message of page.items) {
        const entry = toEntry(message);
        if (!entry) continue;
        if (cursor !== null && entry.serial <= cursor) return newestFirst.reverse();
        newestFirst.push(entry);
      }
      page = page.hasNext() ? await page.next() : null;
    }
    return newestFirst.reverse();
  }
}

/**
 * Follows a log from a raw offset: the channel is attached and live messages are buffered, history is paged back to
 * the offset, then the buffer is flushed without duplicates (the recipe of Ably's chat SDK, CHA-M5). Whenever the
 * channel re-attaches without continuity, the backfill runs again from the last delivered serial.
 */
export function startTail(lc: LogChannel, after: string | null, listener: TailListener): () => void {
  let cursor: string | null = null;
  let buffer: LogEntry[] | null = [];
  let active = true;
  let backfilling = false;
  let again = false;
  let unfollow: (() => void) | undefined;

  const stop = () => {
    if (!active) return;
    active = false;
    unfollow?.();
    lc.release();
  };
  const fail = (err: unknown) => {
    if (!active) return;
    stop();
    listener.error(toAblyError(err, 'Following an Ably channel failed'));
  };
  const deliver = (entries: readonly LogEntry[]) => {
    const out: BackendEntry[] = [];
    for (const entry of entries) {
      if (cursor !== null && entry.serial <= cursor) continue;
      cursor = entry.serial;
      out.push({ offset: entry.offset, payload: entry.payload });
    }
    if (out.length > 0 && active) listener.next(out);
  };
  const backfill = async (mode: { untilAttach: true } | { floor: string }) => {
    if (backfilling) {
      again = true;
      return;
    }
    backfilling = true;
    buffer ??= [];
    try {
      let current = mode;
      do {
        again = false;
        const missed = await historyAfter(lc.channel, cursor, current, lc.history);
        if (!active) return;
        deliver(missed);
        // A second loss while backfilling: the new attach point is only covered by untilAttach.
        current = { untilAttach: true };
      } while (again && active);
      const pending = buffer ?? [];
      buffer = null;
      deliver(pending);
    } catch (err) {
      fail(err);
    } finally {
      backfilling = false;
    }
  };

  try {
    cursor = after === null ? null : offsetToSerial(after);
  } catch (err) {
    queueMicrotask(() => listener.error(err));
    return () => {};
  }
  lc.acquire();
  unfollow = lc.follow({
    onEntry(entry) {
      if (!active) return;
      if (buffer) buffer.push(entry);
      else deliver([entry]);
    },
    onContinuityLost() {
      if (!active) return;
      buffer ??= [];
      void backfill({ untilAttach: true });
    },
    onFailure: fail,
  });
  lc.attached().then(
    () => {
      if (!active) return;
      // Channel already attached by someone else and messages delivered since: history must reach them.
      const floor = lc.lastSeen;
      void backfill(floor === null ? { untilAttach: true } : { floor });
    },
    fail,
  );
  return stop;
}
