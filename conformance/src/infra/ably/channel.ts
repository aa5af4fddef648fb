import { PresenceAction, type Payload } from './protocol.js';

/** A published message as the emulator stores it (history survives a restart, like Ably's persisted history). */
export interface StoredMessage extends Payload {
  id: string;
  name?: string;
  clientId?: string;
  connectionId: string;
  timestamp: number;
  serial: string;
  extras?: unknown;
  action: 0;
}

/** A presence event or member as stored. */
export interface StoredPresence extends Payload {
  id: string;
  action: number;
  clientId: string;
  connectionId: string;
  timestamp: number;
}

/** What a publish receives from {@link ChannelState.publish}. */
export interface PublishOutcome {
  /** One serial per submitted message (the original serial for a de-duplicated id). */
  serials: string[];
  /** The messages actually stored (duplicates left out), for fan-out. */
  stored: StoredMessage[];
}

const SERIAL_SERIES = 'emu';

/**
 * One channel: its message history with serials, its id de-duplication window and its presence set.
 *
 * Serials follow Ably's shape (`<14-digit ms>-<counter>@<series>:<index>`) and sort lexicographically in publish
 * order: the time part never goes backwards and the counter grows with every publish on the channel.
 */
export class ChannelState {
  readonly messages: StoredMessage[] = [];
  readonly presence = new Map<string, StoredPresence>();
  readonly presenceHistory: StoredPresence[] = [];
  /** Serial of the newest message removed by retention, or null. */
  trimmedThrough: string | null = null;
  private readonly ids = new Map<string, { serial: string; at: number }>();
  private counter = 0;
  private lastTs = 0;
  private last: string;

  constructor(
    readonly name: string,
    private readonly limits: { historyTtlMs: number; idempotencyWindowMs: number },
  ) {
    this.last = serialOf(0, 0, 0);
  }

  /** The serial of the newest message (a floor below every future serial when the channel is empty). */
  get lastSerial(): string {
    return this.last;
  }

  /** Stores a batch of messages from one publish, assigning serials; ids seen within the window are skipped. */
  publish(items: Array<Omit<StoredMessage, 'serial' | 'timestamp' | 'action' | 'id'> & { id?: string }>, idBase: string): PublishOutcome {
    const now = Date.now();
    this.prune(now);
    const ts = (this.lastTs = Math.max(this.lastTs, now));
    const counter = ++this.counter;
    const serials: string[] = [];
    const stored: StoredMessage[] = [];
    items.forEach((item, index) => {
      const known = item.id !== undefined ? this.ids.get(item.id) : undefined;
      if (known) {
        serials.push(known.serial);
        return;
      }
      const serial = serialOf(ts, counter, index);
      const message: StoredMessage = { ...item, id: item.id ?? `${idBase}:${index}`, timestamp: now, serial, action: 0 };
      if (item.id !== undefined) this.ids.set(item.id, { serial, at: now });
      this.messages.push(message);
      stored.push(message);
      serials.push(serial);
      this.last = serial;
    });
    return { serials, stored };
  }

  /** Messages with a serial strictly after `serial`, or null when retention removed some of them. */
  messagesAfter(serial: string): StoredMessage[] | null {
    this.prune(Date.now());
    if (this.trimmedThrough !== null && serial < this.trimmedThrough) return null;
    return this.messages.filter((m) => m.serial > serial);
  }

  /** The retained history. */
  history(): StoredMessage[] {
    this.prune(Date.now());
    return this.messages;
  }

  /** Applies a presence action from `connectionId`; returns the event to broadcast, or undefined for a no-op. */
  applyPresence(event: StoredPresence): StoredPresence | undefined {
    const key = memberKey(event.connectionId, event.clientId);
    const existing = this.presence.get(key);
    let broadcast: StoredPresence | undefined;
    if (event.action === PresenceAction.LEAVE) {
      if (!existing) return undefined;
      this.presence.delete(key);
      broadcast = event.data === undefined ? { ...event, data: existing.data, ...(existing.encoding ? { encoding: existing.encoding } : {}) } : event;
    } else {
      // An enter by a present member is reported as an update, an update by an absent one as an enter, as on Ably.
      const action = existing ? PresenceAction.UPDATE : PresenceAction.ENTER;
      broadcast = { ...event, action };
      this.presence.set(key, { ...event, action: PresenceAction.PRESENT });
    }
    this.presenceHistory.push(broadcast);
    return broadcast;
  }

  /** Members a connection entered, for leaves when it goes away. */
  membersOf(connectionId: string): StoredPresence[] {
    return [...this.presence.values()].filter((m) => m.connectionId === connectionId);
  }

  /** Forgets the presence set (a restart loses it: presence is connection state). */
  clearPresence(): void {
    this.presence.clear();
  }

  private prune(now: number): void {
    const cutoff = now - this.limits.historyTtlMs;
    let drop = 0;
    while (drop < this.messages.length && this.messages[drop]!.timestamp < cutoff) drop++;
    if (drop > 0) {
      this.trimmedThrough = this.messages[drop - 1]!.serial;
      this.messages.splice(0, drop);
    }
    const idCutoff = now - this.limits.idempotencyWindowMs;
    for (const [id, entry] of this.ids) {
      if (entry.at >= idCutoff) break;
      this.ids.delete(id);
    }
    let presenceDrop = 0;
    while (presenceDrop < this.presenceHistory.length && this.presenceHistory[presenceDrop]!.timestamp < cutoff) presenceDrop++;
    if (presenceDrop > 0) this.presenceHistory.splice(0, presenceDrop);
  }
}

/** The presence-set key of a member: Ably identifies members by connection and client id (RTP17h). */
export function memberKey(connectionId: string, clientId: string): string {
  return `${connectionId}:${clientId}`;
}

function serialOf(ts: number, counter: number, index: number): string {
  return `${String(ts).padStart(14, '0')}-${String(counter).padStart(9, '0')}@${SERIAL_SERIES}:${String(index).padStart(3, '0')}`;
}
