import type { BackendPresence, BackendPresenceEntry, PresenceRef } from '@durable-sessions/core';
import type { KV } from '@nats-io/kv';
import { natsError, toNatsError } from './errors.js';

/** Attempts of a compare-and-set loop before giving up with CONFLICT (members heartbeating at once). */
const MAX_CAS_ATTEMPTS = 50;

type Members = Record<string, BackendPresenceEntry>;

/**
 * Presence on a KV bucket: ONE key per session holding every member, updated with compare-and-set on the
 * revision, so `list` is a single get (no consumer to create) and a watch on one key wakes every observer. The
 * bucket's TTL (max_age) removes the key of a session whose members all stopped heartbeating. On nats-server 2.9
 * nothing fires when a member times out: the core notices by re-listing and filtering by `expiresAt`, and every
 * write here drops members whose `expiresAt` has passed.
 */
export class KvPresence implements BackendPresence {
  constructor(
    private readonly kv: () => Promise<KV>,
    private readonly guard: <T>(request: () => Promise<T>) => Promise<T> = (request) => request(),
  ) {}

  async put(ref: PresenceRef, entry: BackendPresenceEntry): Promise<void> {
    await this.change(ref, (members) => {
      members[entry.connectionId] = entry;
      return true;
    });
  }

  async remove(ref: PresenceRef, connectionId: string): Promise<void> {
    await this.change(ref, (members) => {
      if (!(connectionId in members)) return false;
      delete members[connectionId];
      return true;
    });
  }

  async list(ref: PresenceRef): Promise<BackendPresenceEntry[]> {
    const kv = await this.kv();
    try {
      const { members } = await this.load(kv, ref);
      const now = Date.now();
      return Object.values(members).filter((e) => e.expiresAt > now);
    } catch (err) {
      throw toNatsError(err, 'Listing presence');
    }
  }

  watch(ref: PresenceRef, onChange: () => void): () => void {
    let stopped = false;
    let stop: (() => void) | undefined;
    void (async () => {
      const kv = await this.kv();
      const iter = await kv.watch({ key: ref.key, include: 'updates' });
      if (stopped) return iter.stop();
      stop = () => iter.stop();
      for await (const _ of iter) {
        if (stopped) break;
        onChange();
      }
    })().catch(() => {
      // Only a wake-up: the core's periodic re-list still sees every change.
    });
    return () => {
      stopped = true;
      stop?.();
    };
  }

  private async load(kv: KV, ref: PresenceRef): Promise<{ members: Members; revision: number }> {
    const entry = await this.guard(() => kv.get(ref.key));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return { members: {}, revision: entry?.revision ?? 0 };
    return { members: entry.json<Members>(), revision: entry.revision };
  }

  /** Read, modify, compare-and-set, retried when another member wrote in between. */
  private async change(ref: PresenceRef, modify: (members: Members) => boolean): Promise<void> {
    const kv = await this.kv();
    try {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const { members, revision } = await this.load(kv, ref);
        const now = Date.now();
        let changed = false;
        for (const [id, e] of Object.entries(members)) {
          if (e.expiresAt <= now) {
            delete members[id];
            changed = true;
          }
        }
        if (!modify(members) && !changed) return;
        const value = JSON.stringify(members);
        try {
          if (revision === 0) await this.guard(() => kv.create(ref.key, value));
          else await this.guard(() => kv.update(ref.key, value, revision));
          return;
        } catch (err) {
          if (!/wrong last sequence|exists/i.test(String((err as Error)?.message))) throw err;
        }
      }
      throw natsError('CONFLICT', 'Presence of this session is changing too fast to update.');
    } catch (err) {
      throw toNatsError(err, 'Updating presence');
    }
  }
}
