import type { BackendPresence, BackendPresenceEntry, PresenceRef } from '@durable-sessions/core';
import { presenceKeys } from './keys.js';
import type { Notifications } from './notifications.js';
import { PRESENCE_LIST, PRESENCE_PUT, PRESENCE_REMOVE } from './scripts.js';
import type { Transport } from './transport.js';

/**
 * Presence storage: a hash of payloads and a sorted set of expiries per session, changed by small scripts that
 * publish a wake-up when membership or a payload changes (heartbeats only move the expiry and stay silent).
 */
export class RedisPresence implements BackendPresence {
  constructor(
    private readonly transport: Transport,
    private readonly notifications: Notifications,
    private readonly prefix: string,
    private readonly call: <T>(operation: () => Promise<T>) => Promise<T>,
  ) {}

  async put(ref: PresenceRef, entry: BackendPresenceEntry): Promise<void> {
    const keys = presenceKeys(ref, this.prefix);
    await this.call(() =>
      this.transport.evalScript(PRESENCE_PUT, [keys.hash, keys.expiry], [entry.connectionId, entry.payload, String(entry.expiresAt), keys.channel, keys.message]),
    );
  }

  async remove(ref: PresenceRef, connectionId: string): Promise<void> {
    const keys = presenceKeys(ref, this.prefix);
    await this.call(() => this.transport.evalScript(PRESENCE_REMOVE, [keys.hash, keys.expiry], [connectionId, keys.channel, keys.message]));
  }

  async list(ref: PresenceRef): Promise<BackendPresenceEntry[]> {
    const keys = presenceKeys(ref, this.prefix);
    const reply = (await this.call(() => this.transport.evalScript(PRESENCE_LIST, [keys.hash, keys.expiry], [String(Date.now())]))) as unknown[];
    const members: BackendPresenceEntry[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      members.push({ connectionId: String(reply[i]), payload: String(reply[i + 1]), expiresAt: Number(reply[i + 2]) });
    }
    return members;
  }

  watch(ref: PresenceRef, onChange: () => void): () => void {
    const keys = presenceKeys(ref, this.prefix);
    return this.notifications.watch(keys.channel, keys.message, onChange);
  }
}
