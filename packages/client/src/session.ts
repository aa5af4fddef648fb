import { filter, firstValueFrom } from 'rxjs';
import type { Connection, Stream } from './connection.js';
import { DurableSessionError } from './errors.js';
import { iterateLog, observeLog } from './log-stream.js';
import { createPresence } from './presence.js';
import type {
  AppendOptions,
  ClientControl,
  ClientSession,
  ControlMessage,
  ControlReceipt,
  EndOptions,
  EventInput,
  JsonValue,
  ReadOptions,
  ReadResult,
  SessionEvent,
  SessionInfo,
  StartPosition,
  SubscribeOptions,
} from './types.js';
import { fromWireEvent, toWireInput, type WireEvent } from './wire.js';
import { createWriter, type SessionWriter } from './writer.js';

const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/** Builds the handle of one session over the client's connection. */
export function createSession(conn: Connection, id: string, highWater: number, onClose: () => void): ClientSession {
  // Every subscription made through this handle, so close() can end them.
  const owned = new Set<Stream>();
  const writers = new Set<SessionWriter>();
  const presence = createPresence(conn, id, owned);

  function append(event: EventInput, options?: AppendOptions): Promise<string>;
  function append(events: EventInput[], options?: AppendOptions): Promise<string[]>;
  async function append(input: EventInput | EventInput[], options: AppendOptions = {}): Promise<string | string[]> {
    const many = Array.isArray(input);
    const list = many ? input : [input];
    if (list.length === 0) throw new DurableSessionError('INVALID_EVENT', 'append() needs at least one event.');
    const frame: Record<string, unknown> = { op: 'append', session: id, events: list.map(toWireInput) };
    if (options.producer) frame.producer = options.producer;
    // Only a stamped append can be resent after a lost answer: the gateway recognises the repeat.
    const answer = await conn.request(frame, { safe: options.producer !== undefined, signal: options.signal });
    const offsets = answer.offsets as string[];
    return many ? offsets : offsets[0]!;
  }

  const control: ClientControl = {
    async send(message: EventInput): Promise<ControlReceipt> {
      // The event log's head before sending: the agent's `$ack` can only come after it, so waiting starts there.
      const from = await conn.request({ op: 'info', session: id }, { safe: true }).then(
        (answer) => ((answer.info as SessionInfo | undefined)?.lastOffset ?? 'start') as StartPosition,
        () => 'start' as StartPosition,
      );
      const answer = await conn.request({ op: 'control', session: id, message: toWireInput(message) });
      const offset = answer.offset as string;
      return {
        offset,
        acknowledged(options = {}) {
          const timeoutMs = options.timeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
          const ac = new AbortController();
          const onAbort = () => ac.abort(new DurableSessionError('ABORTED', `Waiting for the acknowledgement of ${offset} was aborted.`));
          options.signal?.addEventListener('abort', onAbort, { once: true });
          const timer = setTimeout(() => ac.abort(new DurableSessionError('TIMEOUT', `No acknowledgement of control message ${offset} within ${timeoutMs} ms.`)), timeoutMs);
          const ack = firstValueFrom(observeLog(conn, id, 'events', { from, signal: ac.signal }).pipe(filter((e) => isAckFor(e, offset))));
          return ack
            .catch((err: unknown) => {
              if (ac.signal.aborted) throw ac.signal.reason;
              if ((err as Error)?.name === 'EmptyError') throw new DurableSessionError('SESSION_ENDED', `The session ended before control message ${offset} was acknowledged.`);
              throw err;
            })
            .finally(() => {
              clearTimeout(timer);
              options.signal?.removeEventListener('abort', onAbort);
              ac.abort();
            });
        },
      };
    },
    subscribe: (options: SubscribeOptions) => observeLog(conn, id, 'control', options, owned),
    events: (options: SubscribeOptions) => iterateLog(conn, id, 'control', options, highWater, owned),
    async ack(message: ControlMessage | string, data?: JsonValue): Promise<string> {
      const offset = typeof message === 'string' ? message : message?.offset;
      if (typeof offset !== 'string') throw new DurableSessionError('INVALID_OFFSET', 'ack() needs a control message or its offset.');
      const frame: Record<string, unknown> = { op: 'ack', session: id, control: offset };
      if (data !== undefined) frame.data = data;
      return (await conn.request(frame)).offset as string;
    },
  };

  return {
    id,
    connectionId: conn.connectionId,
    get presenceId() {
      return conn.presenceId;
    },
    append,
    writer(options) {
      const writer = createWriter(conn, id, options);
      writers.add(writer);
      return writer;
    },
    subscribe: (options: SubscribeOptions) => observeLog(conn, id, 'events', options, owned),
    events: (options: SubscribeOptions) => iterateLog(conn, id, 'events', options, highWater, owned),
    async read(options: ReadOptions = {}): Promise<ReadResult> {
      const frame: Record<string, unknown> = { op: 'read', session: id };
      if (options.from !== undefined) frame.from = options.from;
      if (options.limit !== undefined) frame.limit = options.limit;
      const answer = await conn.request(frame, { safe: true });
      return {
        events: ((answer.events as WireEvent[] | undefined) ?? []).map(fromWireEvent),
        next: answer.next as StartPosition,
        upToDate: answer.upToDate === true,
        ended: answer.ended === true,
      };
    },
    async end(options: EndOptions = {}): Promise<string> {
      const frame: Record<string, unknown> = { op: 'end', session: id };
      if (options.reason !== undefined) frame.reason = options.reason;
      if (options.data !== undefined) frame.data = options.data;
      return (await conn.request(frame)).offset as string;
    },
    async info(): Promise<SessionInfo> {
      return (await conn.request({ op: 'info', session: id }, { safe: true })).info as SessionInfo;
    },
    presence,
    control,
    async close(options = {}) {
      onClose();
      await Promise.allSettled([...writers].map((w) => w.close()));
      for (const stream of [...owned]) stream.stop();
      conn.removeStream(presence.membership);
      if (options.leave !== false && presence.membership.entered && conn.live) {
        presence.membership.entered = false;
        // Bound to this socket: closing never waits for a reconnect (offline, the member simply times out).
        await conn.request({ op: 'presence.leave', session: id }, { bound: true }).catch(() => {});
      }
    },
  };
}

function isAckFor(event: SessionEvent, offset: string): boolean {
  if (event.type !== '$ack') return false;
  const data = event.data as { control?: unknown } | null;
  return data !== null && typeof data === 'object' && !(data instanceof Uint8Array) && data.control === offset;
}
