import { Observable, type Subscriber } from 'rxjs';
import type { Connection, Frame, Stream } from './connection.js';
import { DurableSessionError, fromWire } from './errors.js';
import type { ClientPresence, JsonValue, PresenceChange, PresenceMember, ResumePoint } from './types.js';

/**
 * Presence changes that survive reconnects. The gateway replays an `enter` per member to every new presence
 * subscription, and says nothing about members who left while the socket was down, so after a reconnect the
 * stream compares the gateway's fresh member list with what it already reported and emits only the differences.
 */
class PresenceStream implements Stream {
  private readonly known = new Map<string, PresenceMember>();
  private wire: string | undefined;
  private started = false;
  private done = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly session: string,
    private readonly subscriber: Subscriber<PresenceChange>,
    private readonly owned?: Set<Stream>,
  ) {
    owned?.add(this);
  }

  start(): void {
    if (this.done || this.wire !== undefined || !this.conn.live) return;
    const wire = this.conn.route(this);
    this.wire = wire;
    const resumed = this.started;
    this.started = true;
    this.conn.request({ op: 'presence.subscribe', sub: wire, session: this.session }, { bound: true }).then(
      async () => {
        if (!resumed || this.wire !== wire) return;
        const answer = await this.conn.request({ op: 'presence.members', session: this.session }, { bound: true });
        if (this.wire !== wire || this.done) return;
        this.reconcile((answer.members as PresenceMember[] | undefined) ?? []);
      },
      (err: DurableSessionError) => this.failed(wire, err),
    ).catch((err: DurableSessionError) => this.failed(wire, err));
  }

  private reconcile(members: PresenceMember[]): void {
    const present = new Map(members.map((m) => [m.connectionId, m]));
    for (const [id, member] of this.known) {
      if (!present.has(id)) {
        this.known.delete(id);
        this.subscriber.next({ action: 'leave', member });
      }
    }
    for (const member of members) this.apply(member);
  }

  /** Applies one change to the known set and emits it unless it tells nothing new. */
  private apply(member: PresenceMember): void {
    const before = this.known.get(member.connectionId);
    if (before && before.updatedAt >= member.updatedAt) return;
    this.known.set(member.connectionId, member);
    // A member first seen through an `update` (its enter happened before we looked) is an enter to this observer.
    this.subscriber.next({ action: before ? 'update' : 'enter', member });
  }

  dropped(): void {
    this.wire = undefined;
    clearTimeout(this.retryTimer);
  }

  onFrame(frame: Frame): void {
    if (this.done || frame.sub !== this.wire) return;
    if (frame.op === 'presence') {
      const member = frame.member as PresenceMember | undefined;
      if (!member || typeof member.connectionId !== 'string') return;
      if (frame.action === 'leave') {
        if (!this.known.delete(member.connectionId)) return;
        const reason = frame.reason === 'left' || frame.reason === 'timeout' ? frame.reason : undefined;
        this.subscriber.next(reason ? { action: 'leave', member, reason } : { action: 'leave', member });
      } else if (frame.action === 'enter' || frame.action === 'update') {
        this.apply(member);
      }
    } else if (frame.op === 'error') {
      this.failed(this.wire!, fromWire(frame));
    }
  }

  private failed(wire: string, error: DurableSessionError): void {
    if (this.done || this.wire !== wire) return;
    this.conn.unroute(wire);
    this.wire = undefined;
    if (error.code === 'DISCONNECTED') return;
    if (error.retryable) {
      this.retryTimer = setTimeout(() => this.start(), 500);
      return;
    }
    this.stop(error);
  }

  resumePoint(): ResumePoint | undefined {
    return undefined;
  }

  stop(error?: DurableSessionError): void {
    if (this.done) return;
    this.close();
    if (error) this.subscriber.error(error);
    else this.subscriber.complete();
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.owned?.delete(this);
    clearTimeout(this.retryTimer);
    const wire = this.wire;
    this.wire = undefined;
    this.conn.removeStream(this);
    if (wire === undefined) return;
    this.conn.unroute(wire);
    if (this.conn.live) this.conn.request({ op: 'unsubscribe', sub: wire }, { bound: true }).catch(() => {});
  }
}

/**
 * This client's membership in one session's presence. The gateway keeps a member whose socket closed until the
 * presence timeout; entering again from the new socket (same connection id) keeps it present without a leave.
 */
class Membership implements Stream {
  data: JsonValue | undefined;
  entered = false;
  /** Enter/update requests of the application not yet answered: they re-enter by themselves when (re)sent. */
  pending = 0;

  constructor(
    private readonly conn: Connection,
    private readonly session: string,
  ) {}

  start(): void {
    if (this.entered && this.pending === 0) this.conn.request({ op: 'presence.enter', session: this.session, data: this.data ?? null }, { bound: true }).catch(() => {});
  }

  dropped(): void {}
  onFrame(): void {}
  resumePoint(): undefined {
    return undefined;
  }
  stop(): void {}
}

/** The presence API of one session handle. */
export function createPresence(conn: Connection, session: string, owned?: Set<Stream>): ClientPresence & { membership: Membership } {
  const membership = new Membership(conn, session);
  let registered = false;
  const register = () => {
    if (registered) return;
    registered = true;
    // Registered before the enter request is queued, so a reconnect in between re-enters too.
    conn.addStream(membership);
  };
  const announce = async (op: 'presence.enter' | 'presence.update', data: JsonValue) => {
    membership.data = data;
    membership.entered = true;
    membership.pending++;
    register();
    try {
      await conn.request({ op, session, data }, { safe: true });
    } catch (err) {
      // Not allowed to be present: do not keep re-entering after reconnects.
      if ((err as DurableSessionError).code === 'FORBIDDEN') membership.entered = false;
      throw err;
    } finally {
      membership.pending--;
    }
  };
  return {
    membership,
    enter(data: JsonValue = null) {
      return announce('presence.enter', data);
    },
    update(data: JsonValue) {
      return announce('presence.update', data);
    },
    async leave() {
      membership.entered = false;
      await conn.request({ op: 'presence.leave', session }, { safe: true });
    },
    async members() {
      const answer = await conn.request({ op: 'presence.members', session }, { safe: true });
      return (answer.members as PresenceMember[] | undefined) ?? [];
    },
    changes() {
      return new Observable<PresenceChange>((subscriber) => {
        const stream = new PresenceStream(conn, session, subscriber, owned);
        conn.addStream(stream);
        return () => stream.close();
      });
    },
  };
}
