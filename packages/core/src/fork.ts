import type { Backend, LogRef } from './backend.js';
import { decodeEvent } from './codec.js';
import { DurableSessionError } from './errors.js';
import type { SessionEvent } from './types.js';

/**
 * Forks by reference (contract C21). A fork's own event log starts with one reserved `$fork` record naming its
 * source and fork point; the core then presents the source's events up to the fork point, followed by the fork's
 * own events, as one session. Nothing is copied, so forking is O(1) on every backend.
 *
 * Offsets: inherited events keep the exact offsets they have in the source (so a reader of the source can continue
 * on the branch from where it was), and the fork's own events get `<fork point>~<own offset>` (`~<own offset>` for a
 * fork at the start). `~` sorts above every character of an offset, so own offsets sort after every inherited one as
 * plain strings, also across forks of forks.
 */

/** The reserved type of a fork record. */
export const FORK_TYPE = '$fork';

/** Forks of forks of … deeper than this are refused: every level lengthens the offsets of the fork's own events. */
export const MAX_FORK_DEPTH = 32;

/** Separates a fork's point from its own offsets; sorts above every character an offset may hold. */
const OWN_MARK = '~';

/** Where a log's history comes from, as its first record says. */
export type LogOrigin = { readonly kind: 'plain' } | { readonly kind: 'empty' } | ForkOrigin;

/** The parentage of a forked session. */
export interface ForkOrigin {
  readonly kind: 'fork';
  /** The session forked from. */
  readonly source: string;
  /** The source offset of the last inherited position, or null for a fork at the start (nothing inherited). */
  readonly at: string | null;
  /** 1 for a fork of a plain session, n + 1 for a fork of a fork of depth n. */
  readonly depth: number;
  /** The core offset (`raw-tag`) of the fork record in the fork's own log: own events come strictly after it. */
  readonly record: string;
  /** Prefix of the public offsets of the fork's own events. */
  readonly prefix: string;
}

/** The stored data of a `$fork` record. */
export interface ForkRecordData {
  source: string;
  at: string | null;
  depth: number;
}

/** The public offset prefix of a fork's own events. */
export function ownPrefix(at: string | null): string {
  return `${at ?? ''}${OWN_MARK}`;
}

/** Builds the origin of a fork from its record's data and the record's core offset. */
export function forkOrigin(data: ForkRecordData, record: string): ForkOrigin {
  return { kind: 'fork', source: data.source, at: data.at, depth: data.depth, record, prefix: ownPrefix(data.at) };
}

/** Reads a `$fork` event's data, or undefined when the event is not a well-formed fork record. */
export function forkRecordData(event: SessionEvent): ForkRecordData | undefined {
  if (event.type !== FORK_TYPE) return undefined;
  const data = event.data as Partial<ForkRecordData> | null;
  if (data === null || typeof data !== 'object' || typeof data.source !== 'string') return undefined;
  if (data.at !== null && typeof data.at !== 'string') return undefined;
  return { source: data.source, at: data.at ?? null, depth: typeof data.depth === 'number' ? data.depth : 1 };
}

/** Reads the first retained record of a log and tells whether the session is a fork, plain, or still empty. */
export async function readOrigin(backend: Backend, log: LogRef, format: (raw: string) => string): Promise<LogOrigin> {
  const [first] = await backend.read(log, null, 1);
  if (!first) return { kind: 'empty' };
  // Decoded rather than matched as text, so the check does not depend on how the codec lays out a record.
  const offset = format(first.offset);
  let data: ForkRecordData | undefined;
  try {
    data = forkRecordData(decodeEvent(first.payload, offset, log.sessionId));
  } catch {
    // A corrupt first record is not a fork record; reads that reach it report it with its offset.
    data = undefined;
  }
  return data ? forkOrigin(data, offset) : { kind: 'plain' };
}

/**
 * Remembers the origin of sessions a store has seen. `plain` and `fork` never change once a log has a first record
 * (a fork needs an empty target), so they are cached; `empty` is not. Bounded: the oldest entries go first.
 */
export class OriginCache {
  private readonly entries = new Map<string, Exclude<LogOrigin, { kind: 'empty' }>>();

  constructor(private readonly max = 10_000) {}

  get(id: string): Exclude<LogOrigin, { kind: 'empty' }> | undefined {
    return this.entries.get(id);
  }

  set(id: string, origin: LogOrigin): void {
    if (origin.kind === 'empty') return;
    if (this.entries.size >= this.max && !this.entries.has(id)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, origin);
  }
}

/** Where a read of a fork starts: inside the inherited history (strictly after `after`), or in its own log. */
export type ForkPosition = { readonly phase: 'inherited'; readonly after: 'start' | (string & {}) } | { readonly phase: 'own'; readonly from: string };

/**
 * Maps a public position of a fork onto its phases. Own offsets lose their prefix (the own log validates them);
 * offsets at or before the fork point are the source's (the source validates them); anything else never belonged
 * to this fork.
 */
export function forkPosition(origin: ForkOrigin, from: string, sessionId: string): ForkPosition {
  if (from === 'start') return origin.at === null ? { phase: 'own', from: origin.record } : { phase: 'inherited', after: 'start' };
  if (from === 'now') return { phase: 'own', from: 'now' };
  if (from.startsWith(origin.prefix)) return { phase: 'own', from: from.slice(origin.prefix.length) };
  if (origin.at !== null && from <= origin.at) return { phase: 'inherited', after: from };
  throw new DurableSessionError('INVALID_OFFSET', `Offset ${JSON.stringify(from.slice(0, 300))} does not belong to session ${JSON.stringify(sessionId)} (a fork of ${JSON.stringify(origin.source)}).`, {
    details: { offset: from },
  });
}

/** The public form of an event of a fork's own log. */
export function ownEvent(origin: ForkOrigin, event: SessionEvent): SessionEvent {
  return { ...event, offset: origin.prefix + event.offset };
}

/** The public form of an inherited event: the source's offset, under the fork's session id. */
export function inheritedEvent(event: SessionEvent, sessionId: string): SessionEvent {
  return { ...event, sessionId };
}
