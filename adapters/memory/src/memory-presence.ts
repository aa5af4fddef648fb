import type { BackendPresence, BackendPresenceEntry, PresenceRef } from '@durable-sessions/core';

/** Presence storage in memory, with synchronous-free change signals for watchers. */
export class MemoryPresence implements BackendPresence {
  private readonly sets = new Map<string, Map<string, BackendPresenceEntry>>();
  private readonly watchers = new Map<string, Set<() => void>>();

  async put(ref: PresenceRef, entry: BackendPresenceEntry): Promise<void> {
    let members = this.sets.get(ref.key);
    if (!members) this.sets.set(ref.key, (members = new Map()));
    const before = members.get(entry.connectionId);
    members.set(entry.connectionId, entry);
    if (before?.payload !== entry.payload) this.notify(ref.key);
  }

  async remove(ref: PresenceRef, connectionId: string): Promise<void> {
    const members = this.sets.get(ref.key);
    if (!members?.delete(connectionId)) return;
    if (members.size === 0) this.sets.delete(ref.key);
    this.notify(ref.key);
  }

  async list(ref: PresenceRef): Promise<BackendPresenceEntry[]> {
    const members = this.sets.get(ref.key);
    if (!members) return [];
    const now = Date.now();
    // Expired members are reaped here; the core filters by expiresAt as well, this only bounds memory.
    for (const [id, entry] of members) if (entry.expiresAt <= now) members.delete(id);
    return [...members.values()];
  }

  watch(ref: PresenceRef, onChange: () => void): () => void {
    let set = this.watchers.get(ref.key);
    if (!set) this.watchers.set(ref.key, (set = new Set()));
    set.add(onChange);
    return () => {
      set!.delete(onChange);
      if (set!.size === 0) this.watchers.delete(ref.key);
    };
  }

  clear(): void {
    this.sets.clear();
    this.watchers.clear();
  }

  private notify(key: string): void {
    const set = this.watchers.get(key);
    if (set) for (const fn of set) queueMicrotask(fn);
  }
}
