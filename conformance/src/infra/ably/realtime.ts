import type { WebSocket } from 'ws';
import type { ChannelState, StoredMessage, StoredPresence } from './channel.js';
import {
  Action,
  decodeWire,
  encodeWire,
  Flag,
  grantedModes,
  messageSize,
  normaliseIncoming,
  outgoing,
  PresenceAction,
  wireError,
  type Format,
  type Frame,
  type WireError,
} from './protocol.js';
import { AblyError, randomId, type EmulatorState, type Identity } from './state.js';

/**
 * Results of recent publishes a connection remembers, so a re-sent `msgSerial` is re-ACKed (RTN19a): at most this
 * many replies holding at most {@link ACK_MEMORY_SERIALS} serials together (the SDK re-sends only what was in
 * flight; an older re-send gets an ACK without serials, which the adapter resolves from history).
 */
const ACK_MEMORY = 1_000;
const ACK_MEMORY_SERIALS = 20_000;
/** Most messages a `rewind` may ask for, as on Ably. */
const MAX_REWIND = 100;

interface Attachment {
  modes: number;
  params?: Record<string, string>;
  /** False between a new socket and the re-ATTACH: nothing may be sent before ATTACHED (the SDK would drop it). */
  live: boolean;
}

/** What a connect URL asked for. */
export interface ConnectRequest {
  identity: Identity;
  format: Format;
  echo: boolean;
  heartbeats: boolean;
  resume?: string;
}

/**
 * One realtime connection: it outlives its sockets, so a client that reconnects with the connection key within
 * `connectionStateTtl` resumes it (same id, attachments, msgSerial state).
 */
export class Connection {
  readonly id = randomId(8);
  readonly key = `${randomId(6)}!${randomId(18)}-${this.id}`;
  socket: WebSocket | undefined;
  format: Format = 'json';
  heartbeats = false;
  readonly attachments = new Map<string, Attachment>();
  private nextMsgSerial = 0;
  private readonly replies = new Map<number, Frame>();
  private replySerials = 0;
  private ping: ReturnType<typeof setInterval> | undefined;
  private leaveTimer: ReturnType<typeof setTimeout> | undefined;
  private expireTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly realtime: Realtime,
    readonly identity: Identity,
    readonly echo: boolean,
  ) {}

  get clientId(): string | undefined {
    return this.identity.clientId;
  }

  /** Binds a (new) socket: starts pings, stops the disconnection timers, pauses delivery until re-ATTACH. */
  bind(socket: WebSocket, request: ConnectRequest): void {
    if (this.socket && this.socket !== socket) this.unbindSocket(this.socket, true);
    this.socket = socket;
    this.format = request.format;
    this.heartbeats = request.heartbeats;
    clearTimeout(this.leaveTimer);
    clearTimeout(this.expireTimer);
    for (const attachment of this.attachments.values()) attachment.live = false;
    const interval = Math.max(250, Math.floor(this.realtime.state.options.maxIdleIntervalMs / 3));
    this.ping = setInterval(() => {
      if (this.heartbeats) this.send({ action: Action.HEARTBEAT });
      else socket.ping();
    }, interval);
    this.ping.unref();
    socket.on('message', (data: Buffer, isBinary: boolean) => this.receive(isBinary ? data : data.toString('utf8')));
    socket.on('close', () => this.onSocketClosed(socket));
    socket.on('error', () => socket.terminate());
  }

  send(frame: Frame): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== socket.OPEN) return;
    socket.send(encodeWire(frame, this.format));
  }

  /** The CONNECTED frame (also the answer to AUTH). */
  connected(error?: WireError): Frame {
    const { options } = this.realtime.state;
    const frame: Frame = {
      action: Action.CONNECTED,
      connectionId: this.id,
      connectionDetails: {
        clientId: this.clientId,
        connectionKey: this.key,
        maxMessageSize: options.maxMessageSize,
        maxFrameSize: 512 * 1024,
        maxInboundRate: 1_000,
        maxOutboundRate: 1_000,
        connectionStateTtl: options.connectionStateTtlMs,
        maxIdleInterval: options.maxIdleIntervalMs,
        serverId: 'ably-emulator',
      },
    };
    if (error) frame.error = error;
    return frame;
  }

  /** Forgets everything: presence members leave now, the key stops resuming. */
  discard(graceful = false): void {
    clearTimeout(this.leaveTimer);
    clearTimeout(this.expireTimer);
    this.realtime.leaveAll(this);
    this.attachments.clear();
    this.realtime.forget(this);
    const socket = this.socket;
    if (socket) {
      this.unbindSocket(socket, !graceful);
      if (graceful) socket.close();
    }
  }

  /** Cuts the socket as a network failure would (state kept for a resume). */
  drop(): void {
    this.socket?.terminate();
  }

  private unbindSocket(socket: WebSocket, close: boolean): void {
    socket.removeAllListeners('message');
    socket.removeAllListeners('close');
    if (this.socket === socket) {
      this.socket = undefined;
      clearInterval(this.ping);
    }
    if (close) socket.terminate();
  }

  private onSocketClosed(socket: WebSocket): void {
    if (this.socket !== socket) return;
    this.unbindSocket(socket, false);
    const { options } = this.realtime.state;
    this.leaveTimer = setTimeout(() => this.realtime.leaveAll(this), options.presenceLeaveDelayMs);
    this.leaveTimer.unref();
    this.expireTimer = setTimeout(() => this.discard(), options.connectionStateTtlMs);
    this.expireTimer.unref();
  }

  private receive(data: Buffer | string): void {
    let frame: Frame;
    try {
      frame = decodeWire(data, this.format) as Frame;
      if (!frame || typeof frame.action !== 'number') throw new Error('no action');
    } catch {
      this.send({ action: Action.ERROR, error: wireError(40000, 400, 'Malformed protocol message') });
      return;
    }
    try {
      this.handle(frame);
    } catch (err) {
      const error = err instanceof AblyError ? err.error : wireError(50000, 500, String((err as Error)?.message ?? err));
      if (typeof frame.msgSerial === 'number') this.reply(frame.msgSerial, { action: Action.NACK, msgSerial: frame.msgSerial, count: 1, error });
      else this.send({ action: Action.ERROR, channel: frame.channel, error });
    }
  }

  private handle(frame: Frame): void {
    switch (frame.action) {
      case Action.HEARTBEAT:
        this.send(frame.id === undefined ? { action: Action.HEARTBEAT } : { action: Action.HEARTBEAT, id: frame.id });
        return;
      case Action.ATTACH:
        return this.attach(frame);
      case Action.DETACH: {
        const name = String(frame.channel);
        this.attachments.delete(name);
        const channel = this.realtime.state.channels.get(name);
        if (channel) this.realtime.leave(this, channel);
        this.send({ action: Action.DETACHED, channel: name });
        return;
      }
      case Action.MESSAGE:
      case Action.PRESENCE:
        return this.publish(frame);
      case Action.AUTH: {
        const token = (frame.auth as { accessToken?: string } | undefined)?.accessToken;
        const identity = token ? this.realtime.state.authToken(token) : undefined;
        if (identity?.clientId !== undefined && this.clientId !== undefined && identity.clientId !== this.clientId) {
          throw new AblyError(wireError(40102, 401, 'Mismatched clientId on reauthorisation'));
        }
        this.send(this.connected());
        return;
      }
      case Action.CLOSE:
        this.send({ action: Action.CLOSED });
        this.discard(true);
        return;
      default:
        return;
    }
  }

  private attach(frame: Frame): void {
    const name = String(frame.channel);
    const channel = this.realtime.state.channel(name);
    const previous = this.attachments.get(name);
    const modes = grantedModes(frame.flags as number | undefined);
    const params = (frame.params as Record<string, string> | undefined) ?? undefined;
    const cursor = typeof frame.channelSerial === 'string' && frame.channelSerial ? frame.channelSerial : undefined;
    let flags = modes;
    let channelSerial = channel.lastSerial;
    let backlog: StoredMessage[] = [];
    let error: WireError | undefined;
    if (cursor !== undefined) {
      // A channel resumes only within a connection that still has it: a new connection lost its continuity.
      const missed = previous ? channel.messagesAfter(cursor) : null;
      if (missed) {
        flags |= Flag.RESUMED;
        backlog = missed;
        channelSerial = cursor;
      } else {
        error = wireError(90003, 400, 'Unable to recover channel (message continuity lost)');
      }
    } else if (params?.rewind !== undefined && !previous) {
      backlog = rewind(channel, params.rewind);
      if (backlog.length > 0) flags |= Flag.HAS_BACKLOG;
    }
    if (!this.echo) backlog = backlog.filter((m) => m.connectionId !== this.id);
    const hasPresence = channel.presence.size > 0 && (modes & Flag.PRESENCE_SUBSCRIBE) !== 0;
    if (hasPresence) flags |= Flag.HAS_PRESENCE;
    const reply: Frame = { action: Action.ATTACHED, channel: name, flags, channelSerial };
    if (params) reply.params = params;
    if (error) reply.error = error;
    const attachment: Attachment = { modes, live: false };
    if (params) attachment.params = params;
    this.attachments.set(name, attachment);
    this.send(reply);
    if (hasPresence) {
      const members = [...channel.presence.values()].map((m) => outgoing({ ...m, action: PresenceAction.PRESENT }, this.format));
      this.send({ action: Action.SYNC, channel: name, channelSerial: `${randomId(6)}:`, presence: members });
    }
    for (const message of backlog) {
      this.send({ action: Action.MESSAGE, channel: name, channelSerial: message.serial, messages: [outgoing(message, this.format)] });
    }
    attachment.live = true;
  }

  private publish(frame: Frame): void {
    const msgSerial = frame.msgSerial;
    if (typeof msgSerial !== 'number') throw new AblyError(wireError(40000, 400, 'Publish without msgSerial'));
    if (msgSerial < this.nextMsgSerial) {
      // A re-send after a resume (RTN19a): answer as before, publish nothing.
      this.send(this.replies.get(msgSerial) ?? { action: Action.ACK, msgSerial, count: 1 });
      return;
    }
    this.nextMsgSerial = msgSerial + 1;
    const channel = this.realtime.state.channel(String(frame.channel));
    if (frame.action === Action.MESSAGE) {
      const serials = this.realtime.publishMessages(channel, frame.messages, this, `${this.id}:${msgSerial}`);
      this.reply(msgSerial, { action: Action.ACK, msgSerial, count: 1, res: [{ serials }] });
    } else {
      this.realtime.publishPresence(channel, frame.presence, this, msgSerial);
      this.reply(msgSerial, { action: Action.ACK, msgSerial, count: 1 });
    }
  }

  private reply(msgSerial: number, frame: Frame): void {
    this.replies.set(msgSerial, frame);
    this.replySerials += serialCount(frame);
    while (this.replies.size > ACK_MEMORY || (this.replySerials > ACK_MEMORY_SERIALS && this.replies.size > 1)) {
      const [oldest, old] = this.replies.entries().next().value!;
      this.replies.delete(oldest);
      this.replySerials -= serialCount(old);
    }
    if (frame.action === Action.ACK && this.realtime.loseNextAck) {
      // The publish is stored but its ACK never arrives: the client must resume and re-send the same msgSerial.
      this.realtime.loseNextAck = false;
      this.drop();
      return;
    }
    this.send(frame);
  }
}

/** The realtime side: connections by id and key, publishing and fan-out. */
export class Realtime {
  readonly connections = new Map<string, Connection>();
  private readonly byKey = new Map<string, Connection>();
  /** When true, every resume fails: the client gets a new connection and its channels lose continuity. */
  refuseResumes = false;
  /** When true, the next ACK is not sent and its socket is cut (a lost ACK); reset once used. */
  loseNextAck = false;

  constructor(readonly state: EmulatorState) {}

  /** Accepts a socket: resumes the connection its key names when allowed, else starts a new one. */
  accept(socket: WebSocket, request: ConnectRequest): void {
    const previous = request.resume !== undefined ? this.byKey.get(request.resume) : undefined;
    let connection: Connection;
    let error: WireError | undefined;
    if (previous && !this.refuseResumes && previous.identity.keyName === request.identity.keyName) {
      connection = previous;
    } else {
      if (previous) previous.discard();
      connection = new Connection(this, request.identity, request.echo);
      this.connections.set(connection.id, connection);
      this.byKey.set(connection.key, connection);
      if (request.resume !== undefined) error = wireError(80008, 400, 'Unable to recover connection (connection state lost)');
    }
    connection.bind(socket, request);
    this.state.options.log?.(`ably-emulator: connection ${connection.id} ${connection === previous ? 'resumed' : 'opened'}`);
    connection.send(connection.connected(error));
  }

  forget(connection: Connection): void {
    this.connections.delete(connection.id);
    this.byKey.delete(connection.key);
  }

  /** Drops every socket; connection state stays, so clients resume. */
  dropAll(): void {
    for (const connection of this.connections.values()) connection.drop();
  }

  /** Discards every connection (a restart): no resume will succeed, presence sets empty. */
  discardAll(): void {
    for (const connection of [...this.connections.values()]) connection.discard();
    for (const channel of this.state.channels.values()) channel.clearPresence();
  }

  /** Validates, stores and fans out one publish; returns the serials. Shared by realtime and REST publishes. */
  publishMessages(channel: ChannelState, raw: unknown, from: Connection | { id: string; clientId?: string }, idBase: string): string[] {
    if (!Array.isArray(raw) || raw.length === 0) throw new AblyError(wireError(40000, 400, 'No messages to publish'));
    checkClientIds(raw as Array<{ id?: unknown }>);
    const { maxMessageSize } = this.state.options;
    let size = 0;
    const items = raw.map((input: Record<string, unknown>) => {
      const message = normaliseIncoming(input as { data?: unknown; encoding?: string });
      const m = message as Record<string, unknown>;
      // Ably's limit applies to everything one publish carries, not to each message alone.
      size += messageSize(m);
      if (size > maxMessageSize) {
        throw new AblyError(wireError(40009, 413, `Maximum size of messages that can be published at once exceeded (size ${size}, limit ${maxMessageSize})`));
      }
      const clientId = checkClientId(m.clientId, from.clientId);
      const item: Parameters<ChannelState['publish']>[0][number] = { connectionId: from.id };
      if (typeof m.id === 'string') item.id = m.id;
      if (typeof m.name === 'string') item.name = m.name;
      if (m.data !== undefined && m.data !== null) item.data = m.data;
      if (typeof m.encoding === 'string') item.encoding = m.encoding;
      if (clientId !== undefined) item.clientId = clientId;
      if (m.extras !== undefined) item.extras = m.extras;
      return item;
    });
    const outcome = channel.publish(items, idBase);
    if (outcome.stored.length > 0) this.fanOut(channel, outcome.stored, from.id);
    return outcome.serials;
  }

  publishPresence(channel: ChannelState, raw: unknown, from: Connection, msgSerial: number): void {
    if (!Array.isArray(raw) || raw.length === 0) throw new AblyError(wireError(40000, 400, 'No presence messages'));
    const now = Date.now();
    raw.forEach((input: Record<string, unknown>, index) => {
      const p = normaliseIncoming(input as { data?: unknown; encoding?: string }) as Record<string, unknown>;
      const action = p.action;
      if (action !== PresenceAction.ENTER && action !== PresenceAction.LEAVE && action !== PresenceAction.UPDATE) {
        throw new AblyError(wireError(40000, 400, `Invalid presence action ${String(action)}`));
      }
      const clientId = checkClientId(p.clientId, from.clientId);
      if (clientId === undefined || clientId === '*') {
        throw new AblyError(wireError(91000, 400, 'Unable to enter presence channel: no clientId'));
      }
      const event: StoredPresence = { id: `${from.id}:${msgSerial}:${index}`, action, clientId, connectionId: from.id, timestamp: now };
      if (p.data !== undefined && p.data !== null) event.data = p.data;
      if (typeof p.encoding === 'string') event.encoding = p.encoding;
      this.broadcastPresence(channel, channel.applyPresence(event));
    });
  }

  /** Removes every member a connection entered on a channel (detach, close, disconnection timeout). */
  leave(connection: Connection, channel: ChannelState): void {
    const now = Date.now();
    for (const member of channel.membersOf(connection.id)) {
      const event: StoredPresence = { ...member, id: `${connection.id}:leave:${randomId(4)}`, action: PresenceAction.LEAVE, timestamp: now };
      this.broadcastPresence(channel, channel.applyPresence(event));
    }
  }

  leaveAll(connection: Connection): void {
    for (const channel of this.state.channels.values()) this.leave(connection, channel);
  }

  private broadcastPresence(channel: ChannelState, event: StoredPresence | undefined): void {
    if (!event) return;
    for (const connection of this.connections.values()) {
      const attachment = connection.attachments.get(channel.name);
      if (!attachment?.live || (attachment.modes & Flag.PRESENCE_SUBSCRIBE) === 0) continue;
      connection.send({ action: Action.PRESENCE, channel: channel.name, presence: [outgoing(event, connection.format)] });
    }
  }

  private fanOut(channel: ChannelState, messages: StoredMessage[], fromId: string): void {
    const channelSerial = messages[messages.length - 1]!.serial;
    for (const connection of this.connections.values()) {
      const attachment = connection.attachments.get(channel.name);
      if (!attachment?.live || (attachment.modes & Flag.SUBSCRIBE) === 0) continue;
      if (!connection.echo && connection.id === fromId) continue;
      connection.send({
        action: Action.MESSAGE,
        channel: channel.name,
        channelSerial,
        messages: messages.map((m) => outgoing(m, connection.format)),
      });
    }
  }
}

/**
 * Ably's rule for client-supplied message ids (error 40031): never empty, and the messages of one publish either
 * carry none or all carry `<one base>:<position>`, so the idempotency scope of the group is unambiguous.
 */
function checkClientIds(messages: Array<{ id?: unknown }>): void {
  const ids = messages.map((m) => m.id);
  if (ids.every((id) => id === undefined || id === null)) return;
  if (ids.some((id) => typeof id !== 'string' || id.length === 0)) {
    throw new AblyError(wireError(40031, 400, 'Client-specified message id cannot be empty'));
  }
  if (ids.length === 1) return;
  const base = (ids[0] as string).slice(0, (ids[0] as string).lastIndexOf(':'));
  if (!ids.every((id, position) => id === `${base}:${position}`)) {
    throw new AblyError(wireError(40031, 400, 'Client-specified message ids do not match the required format for multi-message ProtocolMessages'));
  }
}

/** The client id a message is published with, enforcing the connection's identity (error 40012). */
function checkClientId(requested: unknown, own: string | undefined): string | undefined {
  if (requested === undefined || requested === null) return own === '*' ? undefined : own;
  if (typeof requested !== 'string') throw new AblyError(wireError(40012, 400, 'clientId must be a string'));
  if (own !== undefined && own !== '*' && requested !== own) {
    throw new AblyError(wireError(40012, 400, `Mismatched clientId ${JSON.stringify(requested)} for a connection of ${JSON.stringify(own)}`));
  }
  return requested;
}

/** Messages a `rewind` param selects: the last N (`"10"`) or a time window (`"30s"`, `"2m"`). */
function rewind(channel: ChannelState, value: string): StoredMessage[] {
  const count = /^\d+$/.exec(value);
  if (count) {
    const n = Math.min(MAX_REWIND, Number(value));
    return n === 0 ? [] : channel.newest(n);
  }
  const window = /^(\d+)(s|m)$/.exec(value);
  if (!window) throw new AblyError(wireError(40000, 400, `Invalid rewind ${JSON.stringify(value)}`));
  const since = Date.now() - Number(window[1]) * (window[2] === 'm' ? 60_000 : 1_000);
  return channel.since(since, MAX_REWIND);
}

/** How many serials an ACK frame carries. */
function serialCount(frame: Frame): number {
  const res = frame.res as Array<{ serials?: unknown[] }> | undefined;
  return res?.reduce((n, r) => n + (r.serials?.length ?? 0), 0) ?? 0;
}
