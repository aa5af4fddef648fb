import type { SessionEvent, SessionStore } from '@durable-sessions/core';
import { corePosition, formatDsOffset, ZERO_OFFSET, type DsPosition } from './offsets.js';

/** The event type of Durable Streams messages in a session. */
export const MESSAGE_TYPE = 'ds';
/** Marks a close by an idempotent producer (so a retried close is recognised); carries no data. */
export const CLOSE_MARK_TYPE = 'ds.close';

/** A message read from a stream view. */
export interface DsMessage {
  /** Bytes (binary and text streams) or an array of JSON values (one POST in JSON mode). */
  data: Uint8Array | unknown[];
  /** The DS offset after this message. */
  offset: string;
}

/** A page read from a stream. */
export interface ViewPage {
  messages: DsMessage[];
  /** The DS offset after everything examined. */
  next: string;
  /** The stream was read to its current end. */
  upToDate: boolean;
  /** The stream is closed and this page reached its end. */
  closed: boolean;
  /** The core offset of the last examined event (for live waits), or null when nothing was examined from the start. */
  last: string | null;
}

/** Decodes a session event into message data. */
export function messageData(event: SessionEvent, json: boolean): Uint8Array | unknown[] {
  const data = event.data;
  if (json) return Array.isArray(data) ? data : [data];
  if (data instanceof Uint8Array) return data;
  return new TextEncoder().encode(typeof data === 'string' ? data : JSON.stringify(data));
}

function size(data: Uint8Array | unknown[]): number {
  return data instanceof Uint8Array ? data.byteLength : data.length * 64;
}

/**
 * Reads a stream's session from a position (a fork's session includes its source's history: the core stitches it).
 * Stops after about `maxBytes` of data (a large stream is read over several requests) or `maxMessages` messages.
 */
export async function readView(
  store: SessionStore,
  sessionId: string,
  from: DsPosition,
  json: boolean,
  options: { maxBytes?: number; maxMessages?: number } = {},
): Promise<ViewPage> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const maxMessages = options.maxMessages ?? Infinity;
  let after = corePosition(from);
  let next = from.start ? ZERO_OFFSET : formatDsOffset(after);
  let last: string | null = from.start ? null : after;
  const messages: DsMessage[] = [];
  let bytes = 0;
  const session = store.session(sessionId);
  try {
    for (;;) {
      const page = await session.read({ from: after, limit: 500 });
      for (const event of page.events) {
        after = last = event.offset;
        next = formatDsOffset(event.offset);
        if (event.type !== MESSAGE_TYPE) continue;
        const data = messageData(event, json);
        messages.push({ data, offset: next });
        bytes += size(data);
        if (bytes >= maxBytes || messages.length >= maxMessages) {
          const atEnd = page.upToDate && event === page.events[page.events.length - 1];
          return { messages, next, upToDate: atEnd, closed: atEnd && page.ended, last };
        }
      }
      if (page.upToDate) return { messages, next, upToDate: true, closed: page.ended, last };
    }
  } finally {
    await session.close({ leave: false });
  }
}

/** The DS offset of a stream's tail (after its last event), and whether it is closed. */
export async function tailOf(store: SessionStore, sessionId: string): Promise<{ offset: string; closed: boolean }> {
  const session = store.session(sessionId);
  try {
    const info = await session.info();
    return { offset: info.lastOffset === null ? ZERO_OFFSET : formatDsOffset(info.lastOffset), closed: info.ended };
  } finally {
    await session.close({ leave: false });
  }
}

/**
 * Waits until the stream's session has an event after `after` (null: any event), for at most `timeoutMs`.
 * Resolves true when one arrived, false on timeout or abort.
 */
export async function waitForData(store: SessionStore, sessionId: string, after: string | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const session = store.session(sessionId);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const iterator = session.events({ from: after ?? 'start', signal: ac.signal, pageSize: 1 });
    const first = await iterator.next();
    await iterator.return?.();
    return !first.done;
  } catch (err) {
    if (ac.signal.aborted) return false;
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    await session.close({ leave: false });
  }
}
