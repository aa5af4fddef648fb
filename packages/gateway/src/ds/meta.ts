import type { JsonValue, SessionEvent, SessionStore } from '@durable-sessions/core';
import { GatewayError } from '../errors.js';
import { RESERVED_SESSION_PREFIX } from '../wire.js';

/**
 * Durable Streams metadata the core has no place for (content type, TTL, fork references, deletion, Stream-Seq) lives
 * in a companion session `~ds/meta/<stream>` IN the backend, so every gateway sees the same state. Records are
 * appended with an idempotent producer whose sequence number is the number of records the writer has read: a
 * writer working from a stale view gets a duplicate instead of an append, re-reads and retries (compare-and-set
 * on any backend with idempotent appends).
 */

/** How a stream was created. */
export interface StreamConfig {
  gen: number;
  contentType: string;
  ttlSeconds?: number;
  expiresAt?: string;
  closed: boolean;
  createdAt: number;
  /** The session holding the stream's data; for a fork, a core fork of the source's session (C21). */
  session: string;
  fork?: { source: string; sourceGen: number; offset: string; requestedOffset?: string; subOffset: number };
}

/** A stream's folded state. */
export interface StreamState extends StreamConfig {
  deleted: boolean;
  forks: number;
  lastAccess: number;
  lastSeq?: string;
  lastSeqProducer?: { id: string; epoch: number; seq: number };
  closedBy?: { id: string; epoch: number; seq: number };
}

/** A meta log, folded. */
export interface MetaView {
  path: string;
  count: number;
  lastOffset: string | null;
  stream: StreamState | undefined;
  /**
   * When the read of the meta log began: expiry is judged as of then, so a request that arrived before a stream
   * expired is served even when reading its meta log takes a while (a slow backend).
   */
  at: number;
}

/** What a path's stream looks like now. */
export type StreamStatus = 'none' | 'live' | 'soft-deleted';

const META_PRODUCER = 'ds-meta';
const MAX_ID_BYTES = 230;

/** The session of a stream's metadata. */
export function metaSession(path: string): string {
  return `${RESERVED_SESSION_PREFIX}meta/${path}`;
}

/** The session holding generation `gen` of a stream's own data: the stream's own id first, then a fresh one per re-creation. */
export function dataSession(path: string, gen: number): string {
  return gen === 0 ? path : `${RESERVED_SESSION_PREFIX}g${gen}/${path}`;
}

/** Checks a stream path (the session id of its data). */
export function checkStreamPath(path: string): void {
  if (path.length === 0) throw new GatewayError('INVALID_SESSION_ID', 'The stream path is empty.');
  if (path.startsWith(RESERVED_SESSION_PREFIX)) throw new GatewayError('INVALID_SESSION_ID', `Stream paths starting with "${RESERVED_SESSION_PREFIX}" are reserved.`);
  if (Buffer.byteLength(path) > MAX_ID_BYTES) throw new GatewayError('INVALID_SESSION_ID', `The stream path is longer than ${MAX_ID_BYTES} bytes.`);
}

/** Reads and folds a stream's meta log. */
export async function readMeta(store: SessionStore, path: string): Promise<MetaView> {
  const session = store.session(metaSession(path));
  try {
    const view: MetaView = { path, count: 0, lastOffset: null, stream: undefined, at: Date.now() };
    let from = 'start';
    for (;;) {
      const page = await session.read({ from, limit: 1000 });
      for (const event of page.events) fold(view, event);
      if (page.events.length > 0) from = page.events[page.events.length - 1]!.offset;
      if (page.upToDate) return view;
    }
  } finally {
    await session.close({ leave: false });
  }
}

function fold(view: MetaView, event: SessionEvent): void {
  view.count++;
  view.lastOffset = event.offset;
  const data = event.data as Record<string, JsonValue>;
  const s = view.stream;
  switch (event.type) {
    case 'create':
      view.stream = { ...(data as unknown as StreamConfig), deleted: false, forks: 0, lastAccess: (data.createdAt as number) ?? event.timestamp };
      return;
    case 'delete':
      if (s && s.gen === data.gen) s.deleted = true;
      return;
    case 'fork+':
      if (s && s.gen === data.gen) s.forks++;
      return;
    case 'fork-':
      if (s && s.gen === data.gen) s.forks = Math.max(0, s.forks - 1);
      return;
    case 'touch':
      if (s && s.gen === data.gen) s.lastAccess = Math.max(s.lastAccess, data.at as number);
      return;
    case 'seq':
      if (s && s.gen === data.gen) {
        s.lastSeq = data.seq as string;
        s.lastSeqProducer = data.producer as StreamState['lastSeqProducer'];
      }
      return;
    case 'closed-by':
      if (s && s.gen === data.gen) s.closedBy = data.producer as StreamState['closedBy'];
      return;
  }
}

/** Whether a stream has expired (absolute Expires-At, or sliding TTL since the last read or append). */
export function expired(stream: StreamState, now = Date.now()): boolean {
  if (stream.expiresAt !== undefined) {
    const at = new Date(stream.expiresAt).getTime();
    if (!Number.isFinite(at) || now >= at) return true;
  }
  return stream.ttlSeconds !== undefined && now >= stream.lastAccess + stream.ttlSeconds * 1000;
}

/** The status of a folded stream: gone streams (deleted or expired, no forks left) free their path. */
export function statusOf(view: MetaView): StreamStatus {
  const s = view.stream;
  if (!s) return 'none';
  if (s.deleted || expired(s, view.at)) return s.forks > 0 ? 'soft-deleted' : 'none';
  return 'live';
}

/**
 * Appends one meta record if nobody wrote since `view` was read. Returns false on a lost race (re-read and retry).
 */
export async function appendMeta(store: SessionStore, view: MetaView, type: string, data: JsonValue): Promise<boolean> {
  const session = store.session(metaSession(view.path));
  try {
    const offset = await session.append({ type, data }, { producer: { id: META_PRODUCER, epoch: 0, seq: view.count } });
    return typeof offset === 'string' && (view.lastOffset === null || offset > view.lastOffset);
  } catch (err) {
    if ((err as { code?: string }).code === 'SEQUENCE_GAP') return false;
    throw err;
  } finally {
    await session.close({ leave: false });
  }
}

/**
 * Read-decide-write on a stream's meta log, retried on lost races. `decide` returns the record to append (or
 * undefined for nothing) and the result.
 */
export async function mutateMeta<T>(
  store: SessionStore,
  path: string,
  decide: (view: MetaView) => Promise<{ record?: { type: string; data: JsonValue }; result: T }> | { record?: { type: string; data: JsonValue }; result: T },
): Promise<T> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const view = await readMeta(store, path);
    const { record, result } = await decide(view);
    if (!record) return result;
    if (await appendMeta(store, view, record.type, record.data)) return result;
  }
  throw new GatewayError('CONFLICT', 'Too many concurrent changes to this stream; retry.');
}

/**
 * Records an access for the sliding TTL, at most about four times per TTL period (`minGapMs` overrides that); a lost
 * race is harmless.
 */
export async function touch(store: SessionStore, view: MetaView, minGapMs?: number): Promise<void> {
  const s = view.stream;
  if (!s || s.ttlSeconds === undefined) return;
  const now = Date.now();
  if (now - s.lastAccess < (minGapMs ?? Math.min(5_000, (s.ttlSeconds * 1000) / 4))) return;
  await appendMeta(store, view, 'touch', { gen: s.gen, at: now }).catch(() => false);
}
