import { Observable } from 'rxjs';
import type { Backend, BackendPresence, BackendPresenceEntry, PresenceRef } from './backend.js';
import { DurableSessionError } from './errors.js';
import { backendError } from './subscription.js';
import type { JsonValue, PresenceChange, PresenceMember, SessionPresence } from './types.js';

/** Presence timing, resolved. */
export interface PresenceTiming {
  timeoutMs: number;
  heartbeatMs: number;
  pollMs: number;
}

/** Defaults chosen so a crashed agent is shown as gone within ~15 s while heartbeats stay cheap (one write per 5 s). */
export function presenceTiming(options: { timeoutMs?: number; heartbeatMs?: number; pollMs?: number } = {}): PresenceTiming {
  const timeoutMs = positive(options.timeoutMs, 15_000, 'presence.timeoutMs');
  const heartbeatMs = positive(options.heartbeatMs, Math.max(1, Math.floor(timeoutMs / 3)), 'presence.heartbeatMs');
  if (heartbeatMs >= timeoutMs) {
    throw new DurableSessionError('CONFIG_INVALID', `presence.heartbeatMs (${heartbeatMs}) must be below presence.timeoutMs (${timeoutMs}).`);
  }
  const pollMs = positive(options.pollMs, Math.max(1, Math.min(1_000, Math.floor(timeoutMs / 4))), 'presence.pollMs');
  return { timeoutMs, heartbeatMs, pollMs };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new DurableSessionError('CONFIG_INVALID', `${name} must be a positive number of milliseconds.`);
  }
  return value;
}

interface EncodedMember {
  c?: string;
  n: string;
  d: JsonValue;
  e: number;
  u: number;
}

function decodeMember(entry: BackendPresenceEntry): PresenceMember {
  const m = JSON.parse(entry.payload) as EncodedMember;
  return { clientId: m.c, connectionId: m.n, data: m.d, enteredAt: m.e, updatedAt: m.u };
}

/** Live members of a listing, keyed by connection id. */
function liveMembers(entries: BackendPresenceEntry[], now: number): Map<string, BackendPresenceEntry> {
  const live = new Map<string, BackendPresenceEntry>();
  for (const entry of entries) if (entry.expiresAt > now) live.set(entry.connectionId, entry);
  return live;
}

/**
 * Presence emulated on the backend's presence storage: this handle's membership with heartbeats, and change
 * streams computed by diffing listings (woken by the backend's watch when it has one, and by a poll that notices
 * members whose heartbeats stopped).
 */
export class EmulatedPresence implements SessionPresence {
  private entered: { data: JsonValue; enteredAt: number; updatedAt: number } | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly store: BackendPresence | undefined;
  /** Open change streams, completed when the handle closes so their polls stop. */
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly backend: Backend,
    private readonly ref: PresenceRef,
    private readonly identity: { clientId: string | undefined; connectionId: string },
    private readonly timing: PresenceTiming,
  ) {
    this.store = backend.capabilities.presence === 'none' ? undefined : backend.presence;
  }

  async enter(data: JsonValue = null): Promise<void> {
    const now = Date.now();
    this.entered = { data, enteredAt: this.entered?.enteredAt ?? now, updatedAt: now };
    await this.put();
    this.heartbeat ??= setInterval(() => {
      // A missed heartbeat is retried by the next one; the timeout is three heartbeats long for that reason.
      this.put().catch(() => {});
    }, this.timing.heartbeatMs);
    this.heartbeat.unref?.();
  }

  async update(data: JsonValue): Promise<void> {
    return this.enter(data);
  }

  async leave(): Promise<void> {
    const store = this.requireStore();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const wasPresent = this.entered !== undefined;
    this.entered = undefined;
    if (wasPresent) await store.remove(this.ref, this.identity.connectionId).catch((err: unknown) => Promise.reject(backendError({ backend: this.backend }, err)));
  }

  async members(): Promise<PresenceMember[]> {
    const entries = await this.list();
    return [...liveMembers(entries, Date.now()).values()].map(decodeMember);
  }

  changes(): Observable<PresenceChange> {
    return new Observable<PresenceChange>((subscriber) => {
      const store = this.store;
      if (!store) {
        subscriber.error(this.notSupported());
        return;
      }
      let known = new Map<string, BackendPresenceEntry>();
      let running = false;
      let again = false;
      let closed = false;
      const refresh = async () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        try {
          do {
            again = false;
            const entries = await this.list();
            // Taken after the listing: a member that expired while it was in flight left by timeout, not by leave.
            const now = Date.now();
            const next = liveMembers(entries, now);
            if (closed) return;
            for (const [id, entry] of known) {
              if (!next.has(id)) {
                subscriber.next({ action: 'leave', member: decodeMember(entry), reason: entry.expiresAt <= now ? 'timeout' : 'left' });
              }
            }
            for (const [id, entry] of next) {
              const before = known.get(id);
              if (!before) subscriber.next({ action: 'enter', member: decodeMember(entry) });
              else if (before.payload !== entry.payload) subscriber.next({ action: 'update', member: decodeMember(entry) });
            }
            known = next;
          } while (again && !closed);
        } catch (err) {
          const error = backendError({ backend: this.backend }, err);
          // Listing failures while the backend restarts are retried by the next poll; anything else ends the stream.
          if (!error.retryable) subscriber.error(error);
        } finally {
          running = false;
        }
      };
      const unwatch = store.watch?.(this.ref, () => void refresh());
      // Not unref'd: a leave by timeout is only noticed by polling, so an open change stream is live work.
      const poll = setInterval(() => void refresh(), this.timing.pollMs);
      const teardown = () => {
        closed = true;
        clearInterval(poll);
        unwatch?.();
        this.streams.delete(complete);
      };
      const complete = () => {
        teardown();
        subscriber.complete();
      };
      this.streams.add(complete);
      void refresh();
      return teardown;
    });
  }

  /** Stops heartbeats and, unless `leave` is false, leaves: a member left behind expires after its timeout. */
  async dispose(leave: boolean): Promise<void> {
    for (const complete of [...this.streams]) complete();
    if (leave) {
      if (this.entered) await this.leave().catch(() => {});
      return;
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.entered = undefined;
  }

  private async put(): Promise<void> {
    const store = this.requireStore();
    const entered = this.entered;
    if (!entered) return;
    const member: EncodedMember = { n: this.identity.connectionId, d: entered.data, e: entered.enteredAt, u: entered.updatedAt };
    if (this.identity.clientId !== undefined) member.c = this.identity.clientId;
    await store
      .put(this.ref, { connectionId: this.identity.connectionId, payload: JSON.stringify(member), expiresAt: Date.now() + this.timing.timeoutMs })
      .catch((err: unknown) => Promise.reject(backendError({ backend: this.backend }, err)));
  }

  private async list(): Promise<BackendPresenceEntry[]> {
    return this.requireStore().list(this.ref).catch((err: unknown) => Promise.reject(backendError({ backend: this.backend }, err)));
  }

  private requireStore(): BackendPresence {
    if (!this.store) throw this.notSupported();
    return this.store;
  }

  private notSupported(): DurableSessionError {
    return new DurableSessionError('NOT_SUPPORTED', `The ${this.backend.name} backend has no presence.`, { backend: this.backend.name });
  }
}
