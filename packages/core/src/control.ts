import { firstValueFrom, filter, Observable } from 'rxjs';
import { ACK_TYPE } from './codec.js';
import { DurableSessionError } from './errors.js';
import type { ControlMessage, ControlReceipt, EventInput, JsonValue, SessionControl, SessionEvent, SubscribeOptions } from './types.js';

/** The parts of a session the control channel uses. */
export interface ControlHost {
  appendControl(message: EventInput): Promise<string>;
  appendAck(controlOffset: string, data: JsonValue | undefined): Promise<string>;
  /** The event log's current last offset, or 'start' when empty: where to wait for an ack from. */
  eventHead(): Promise<string>;
  subscribeEvents(options: SubscribeOptions): Observable<SessionEvent>;
  subscribeControl(options: SubscribeOptions): Observable<ControlMessage>;
  iterateControl(options: SubscribeOptions): AsyncIterableIterator<ControlMessage>;
  parseControlOffset(offset: string): void;
  /** Whether the handle was closed (a wait that ends because of it is CLOSED, not SESSION_ENDED). */
  isClosed(): boolean;
}

const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/** True when `event` is the agent's `$ack` for the control message at `offset`. */
export function isAckFor(event: SessionEvent, offset: string): boolean {
  if (event.type !== ACK_TYPE) return false;
  const data = event.data as { control?: unknown } | null;
  return typeof data === 'object' && data !== null && data.control === offset;
}

/**
 * The control channel: a second log per session. Sending returns a receipt whose `acknowledged()` waits, from the
 * event log position taken before sending, for the agent's `$ack` — the two-phase result of a steer.
 */
export class Control implements SessionControl {
  constructor(private readonly host: ControlHost) {}

  async send(message: EventInput): Promise<ControlReceipt> {
    // Taken before the send, so an ack can never land before the position we wait from.
    const from = await this.host.eventHead();
    const offset = await this.host.appendControl(message);
    const host = this.host;
    return {
      offset,
      acknowledged(options = {}) {
        const timeoutMs = options.timeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
        const ac = new AbortController();
        const onAbort = () => ac.abort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const timer = setTimeout(() => ac.abort(new DurableSessionError('TIMEOUT', `No acknowledgement of control message ${offset} within ${timeoutMs} ms.`)), timeoutMs);
        const ack = firstValueFrom(host.subscribeEvents({ from, signal: ac.signal }).pipe(filter((e) => isAckFor(e, offset))));
        return ack
          .catch((err: unknown) => {
            if (ac.signal.aborted) {
              throw ac.signal.reason instanceof DurableSessionError
                ? ac.signal.reason
                : new DurableSessionError('ABORTED', `Waiting for the acknowledgement of ${offset} was aborted.`);
            }
            if (host.isClosed()) {
              throw new DurableSessionError('CLOSED', `The session handle was closed while waiting for the acknowledgement of ${offset}.`);
            }
            if ((err as Error)?.name === 'EmptyError') {
              throw new DurableSessionError('SESSION_ENDED', `The session ended before control message ${offset} was acknowledged.`);
            }
            throw err;
          })
          .finally(() => {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', onAbort);
            ac.abort();
          });
      },
    };
  }

  subscribe(options: SubscribeOptions): Observable<ControlMessage> {
    return this.host.subscribeControl(options);
  }

  events(options: SubscribeOptions): AsyncIterableIterator<ControlMessage> {
    return this.host.iterateControl(options);
  }

  ack(message: ControlMessage | string, data?: JsonValue): Promise<string> {
    const offset = typeof message === 'string' ? message : message?.offset;
    if (typeof offset !== 'string') {
      return Promise.reject(new DurableSessionError('INVALID_OFFSET', 'ack() needs a control message or its offset.'));
    }
    try {
      this.host.parseControlOffset(offset);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.host.appendAck(offset, data);
  }
}
