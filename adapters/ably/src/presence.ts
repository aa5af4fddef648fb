import type { BackendPresence, BackendPresenceEntry, PresenceRef } from '@durable-sessions/core';
import type { HttpPaginatedResponse, PresenceMessage, Realtime, RealtimeChannel } from 'ably';
import { toAblyError } from './errors.js';

/** What a member's Ably presence data holds: the core's opaque payload and its expiry. */
interface MemberData {
  p: string;
  x: number;
}

/** The REST API version `request()` asks for (presence listing). */
const PROTOCOL_VERSION = 3;

/** The data of a deliberate leave, so observers tell it from a connection that died. */
const LEFT = JSON.stringify({ left: true });

function parseData(data: unknown): MemberData | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const value = JSON.parse(data) as Partial<MemberData>;
    return typeof value.p === 'string' && typeof value.x === 'number' ? { p: value.p, x: value.x } : undefined;
  } catch {
    return undefined;
  }
}

/** One presence channel: members this backend entered, watchers, and members whose connection died. */
interface PresenceChannel {
  channel: RealtimeChannel;
  ours: Set<string>;
  watchers: Set<() => void>;
  /**
   * Members Ably removed because their connection went away (not a deliberate leave). The core decides when a
   * member is gone by `expiresAt`, so they are listed until then: a crashed agent is reported as timed out.
   */
  ghosts: Map<string, BackendPresenceEntry>;
  refs: number;
  idle?: ReturnType<typeof setTimeout>;
  listener: (message: PresenceMessage) => void;
}

/**
 * Native Ably presence on a third channel per session (`<prefix>:<key>:presence`). Each session handle is one Ably
 * member whose clientId is the handle's connection id, entered with `enterClient` (so one Ably connection carries
 * every handle of a process); its data carries the core's payload and expiry.
 */
export class AblyPresence implements BackendPresence {
  private readonly channels = new Map<string, PresenceChannel>();

  constructor(
    private readonly client: () => Promise<Realtime>,
    private readonly channelName: (ref: PresenceRef) => string,
    private readonly idleMs: number,
  ) {}

  async put(ref: PresenceRef, entry: BackendPresenceEntry): Promise<void> {
    await this.use(ref, async (pc) => {
      const data = JSON.stringify({ p: entry.payload, x: entry.expiresAt } satisfies MemberData);
      if (pc.ours.has(entry.connectionId)) await pc.channel.presence.updateClient(entry.connectionId, data);
      else await pc.channel.presence.enterClient(entry.connectionId, data);
      pc.ours.add(entry.connectionId);
    }, 'Entering presence');
  }

  async remove(ref: PresenceRef, connectionId: string): Promise<void> {
    await this.use(ref, async (pc) => {
      pc.ours.delete(connectionId);
      await pc.channel.presence.leaveClient(connectionId, LEFT);
    }, 'Leaving presence');
  }

  async list(ref: PresenceRef): Promise<BackendPresenceEntry[]> {
    const name = this.channelName(ref);
    // The server's presence set over REST, not this connection's copy: a member another process entered (and got
    // acknowledged) is listed even before its enter event reached this connection.
    const raw: Array<{ clientId?: unknown; data?: unknown }> = [];
    try {
      const client = await this.client();
      let page: HttpPaginatedResponse<{ clientId?: unknown; data?: unknown }> | null = await client.request(
        'get',
        `/channels/${encodeURIComponent(name)}/presence`,
        PROTOCOL_VERSION,
        { limit: '1000' },
      );
      while (page) {
        if (!page.success) throw { code: page.errorCode, statusCode: page.statusCode, message: page.errorMessage };
        raw.push(...page.items);
        page = page.hasNext() ? ((await page.next()) as HttpPaginatedResponse<{ clientId?: unknown; data?: unknown }> | null) : null;
      }
    } catch (err) {
      throw toAblyError(err, `Listing presence on ${name} failed`);
    }
    const pc = this.channels.get(name);
    if (pc && pc.channel.state === 'attached') {
      // This connection's copy still holds a member whose connection just died until its leave event arrives (and
      // becomes a ghost): without it a poll in between would see the member vanish and report it as having left.
      raw.push(...(await pc.channel.presence.get().catch(() => [])));
    }
    const byId = new Map<string, BackendPresenceEntry>();
    // One handle may appear twice (re-entered through another connection before the first one went away).
    for (const member of raw) {
      const data = parseData(member.data);
      if (!data || typeof member.clientId !== 'string') continue;
      const known = byId.get(member.clientId);
      if (!known || known.expiresAt < data.x) byId.set(member.clientId, { connectionId: member.clientId, payload: data.p, expiresAt: data.x });
    }
    if (pc) {
      const now = Date.now();
      for (const [id, ghost] of pc.ghosts) {
        if (ghost.expiresAt <= now) pc.ghosts.delete(id);
        else if (!byId.has(id)) byId.set(id, ghost);
      }
    }
    return [...byId.values()];
  }

  watch(ref: PresenceRef, onChange: () => void): () => void {
    let pc: PresenceChannel | undefined;
    let stopped = false;
    void this.acquire(ref).then(
      async (acquired) => {
        pc = acquired;
        if (stopped) return this.release(acquired);
        pc.watchers.add(onChange);
        await pc.channel.attach().catch(() => {});
      },
      () => {},
    );
    return () => {
      if (stopped) return;
      stopped = true;
      if (pc) {
        pc.watchers.delete(onChange);
        this.release(pc);
      }
    };
  }

  /** Leaves every member this backend entered (for close with a client the user owns). */
  async leaveAll(): Promise<void> {
    await Promise.allSettled(
      [...this.channels.values()].flatMap((pc) => [...pc.ours].map((id) => pc.channel.presence.leaveClient(id, LEFT))),
    );
    this.channels.clear();
  }

  private async use<T>(ref: PresenceRef, action: (pc: PresenceChannel) => Promise<T>, what: string): Promise<T> {
    const pc = await this.acquire(ref);
    try {
      return await action(pc);
    } catch (err) {
      throw toAblyError(err, `${what} on ${pc.channel.name} failed`);
    } finally {
      this.release(pc);
    }
  }

  private async acquire(ref: PresenceRef): Promise<PresenceChannel> {
    const name = this.channelName(ref);
    let pc = this.channels.get(name);
    if (!pc) {
      const client = await this.client();
      pc = this.channels.get(name);
      if (!pc) {
        const created: PresenceChannel = {
          channel: client.channels.get(name),
          ours: new Set(),
          watchers: new Set(),
          ghosts: new Map(),
          refs: 0,
          listener: (message) => this.observe(created, message),
        };
        // Subscribing from the start keeps the ghost list complete for every later list().
        void created.channel.presence.subscribe(created.listener).catch(() => {});
        this.channels.set(name, created);
        pc = created;
      }
    }
    pc.refs++;
    clearTimeout(pc.idle);
    return pc;
  }

  private release(pc: PresenceChannel): void {
    if (--pc.refs > 0) return;
    pc.idle = setTimeout(() => {
      // Detaching would make this connection's members leave: keep the channel while any of them is entered.
      if (pc.refs > 0 || pc.ours.size > 0) return;
      const name = pc.channel.name;
      this.channels.delete(name);
      pc.channel.presence.unsubscribe();
      void this.client()
        .then(async (client) => {
          await pc.channel.detach();
          if (!this.channels.has(name) && pc.channel.state === 'detached') client.channels.release(name);
        })
        .catch(() => {});
    }, this.idleMs);
    pc.idle.unref?.();
  }

  private observe(pc: PresenceChannel, message: PresenceMessage): void {
    if (typeof message.clientId === 'string') {
      if (message.action === 'leave' && message.data !== LEFT) {
        const data = parseData(message.data);
        if (data && data.x > Date.now()) pc.ghosts.set(message.clientId, { connectionId: message.clientId, payload: data.p, expiresAt: data.x });
      } else {
        pc.ghosts.delete(message.clientId);
      }
    }
    for (const watcher of pc.watchers) watcher();
  }
}
