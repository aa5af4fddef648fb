import type { SessionEvent, SessionStore } from '@durable-sessions/core';
import { GatewayError } from '../errors.js';
import type { Segment } from './meta.js';
import { formatDsOffset, ZERO_OFFSET, type DsPosition } from './offsets.js';

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

/** A page read from a stream view. */
export interface ViewPage {
  messages: DsMessage[];
  /** The DS offset after everything examined. */
  next: string;
  /** The stream's own data was read to its current end. */
  upToDate: boolean;
  /** The stream is closed and this page reached its end. */
  closed: boolean;
  /** The core offset of the own segment's last examined event (for live waits), or null. */
  ownAfter: string | null;
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
 * Reads a stream view from a position: ancestor segments up to their fork points, then the stream's own session.
 * Stops after about `maxBytes` of data (a large stream is read over several requests) or `maxMessages` messages.
 */
export async function readView(
  store: SessionStore,
  segments: Segment[],
  from: DsPosition,
  json: boolean,
  options: { maxBytes?: number; maxMessages?: number } = {},
): Promise<ViewPage> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const maxMessages = options.maxMessages ?? Infinity;
  const own = segments.length - 1;
  let index = from.start ? 0 : from.segment;
  if (!from.start && index > own) throw new GatewayError('INVALID_OFFSET', 'The offset does not belong to this stream.');
  let after = from.start ? 'start' : from.offset;
  let next = from.start ? ZERO_OFFSET : formatDsOffset(index, after);
  const messages: DsMessage[] = [];
  let bytes = 0;
  let ownAfter: string | null = index === own && after !== 'start' ? after : null;
  while (index <= own) {
    const segment = segments[index]!;
    if (segment.until !== undefined && after !== 'start' && after >= segment.until) {
      index++;
      after = 'start';
      continue;
    }
    const session = store.session(segment.session);
    let page;
    try {
      page = await session.read({ from: after, limit: 500 });
    } finally {
      await session.close({ leave: false });
    }
    let segmentDone = page.upToDate;
    for (const event of page.events) {
      if (segment.until !== undefined && event.offset > segment.until) {
        segmentDone = true;
        break;
      }
      after = event.offset;
      next = formatDsOffset(index, event.offset);
      if (index === own) ownAfter = event.offset;
      if (event.type === MESSAGE_TYPE) {
        const data = messageData(event, json);
        messages.push({ data, offset: next });
        bytes += size(data);
        if (bytes >= maxBytes || messages.length >= maxMessages) {
          const atEnd = index === own && page.upToDate && event === page.events[page.events.length - 1];
          return { messages, next, upToDate: atEnd, closed: atEnd && page.ended, ownAfter };
        }
      }
      if (segment.until !== undefined && event.offset >= segment.until) {
        segmentDone = true;
        break;
      }
    }
    if (!segmentDone) continue;
    if (index === own) return { messages, next, upToDate: true, closed: page.ended, ownAfter };
    index++;
    after = 'start';
  }
  return { messages, next, upToDate: true, closed: false, ownAfter };
}

/** The DS offset of a stream's tail (after its last event), and whether it is closed. */
export async function tailOf(store: SessionStore, segments: Segment[]): Promise<{ offset: string; closed: boolean; ownLast: string | null }> {
  const own = segments.length - 1;
  const session = store.session(segments[own]!.session);
  let info;
  try {
    info = await session.info();
  } finally {
    await session.close({ leave: false });
  }
  if (info.lastOffset !== null) return { offset: formatDsOffset(own, info.lastOffset), closed: info.ended, ownLast: info.lastOffset };
  for (let i = own - 1; i >= 0; i--) {
    const until = segments[i]!.until;
    if (until !== undefined) return { offset: formatDsOffset(i, until), closed: false, ownLast: null };
  }
  return { offset: ZERO_OFFSET, closed: false, ownLast: null };
}

/**
 * Waits until the stream's own session has an event after `after` (null: any event), for at most `timeoutMs`.
 * Resolves true when one arrived, false on timeout or abort.
 */
export async function waitForData(store: SessionStore, segments: Segment[], after: string | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const session = store.session(segments[segments.length - 1]!.session);
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
