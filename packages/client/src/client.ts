import type { Observable } from 'rxjs';
import { Connection } from './connection.js';
import { createSession } from './session.js';
import type { ClientOptions, ClientSession, ConnectionState } from './types.js';
import { validateSessionId } from './wire.js';

/** A client of one gateway: one WebSocket shared by every session handle. */
export interface DurableSessionsClient {
  /** The current connection state. */
  readonly state: ConnectionState;
  /** Every state change, starting with the current one; completes once the client is stopped. */
  readonly state$: Observable<ConnectionState>;
  /** The connection id this client asks the gateway for, kept across reconnects. */
  readonly connectionId: string;
  /** This client's identity in presence and on appended events, as the gateway assigned it; known once connected. */
  readonly presenceId: string | undefined;
  /** A handle on a session (one per id; asking twice returns the same handle). Throws `INVALID_SESSION_ID`. */
  session(id: string): ClientSession;
  /**
   * Stops the client: leaves presence on every session (unless `{ leave: false }`, which lets members expire after
   * the gateway's presence timeout), completes every subscription and closes the socket. The state becomes `stopped`.
   */
  close(options?: { leave?: boolean }): Promise<void>;
}

/**
 * Connects to a gateway. The socket opens at once and reconnects by itself (exponential back-off with jitter);
 * watch `state$` to show "live", "reconnecting, resuming from …" and "stopped".
 *
 * ```ts
 * import WebSocket from 'ws'; // Node 20 only; browsers and Node 22 have a global WebSocket
 * const client = createClient({ url: 'http://127.0.0.1:8080', getToken: () => fetchToken(), WebSocket });
 * client.session('chat-1').subscribe({ from: 'start' }).subscribe((event) => render(event));
 * ```
 */
export function createClient(options: ClientOptions): DurableSessionsClient {
  const conn = new Connection(options);
  const sessions = new Map<string, ClientSession>();
  const highWater = Math.max(2, options.iteratorHighWater ?? 1000);
  return {
    get state() {
      return conn.state;
    },
    get state$() {
      return conn.state$;
    },
    connectionId: conn.connectionId,
    get presenceId() {
      return conn.presenceId;
    },
    session(id: string): ClientSession {
      validateSessionId(id);
      let session = sessions.get(id);
      if (!session) {
        session = createSession(conn, id, highWater, () => sessions.delete(id));
        sessions.set(id, session);
      }
      return session;
    },
    async close(closeOptions = {}) {
      if (conn.isStopped) return;
      if (closeOptions.leave !== false && conn.live) {
        await Promise.allSettled([...sessions.values()].map((s) => s.close({ leave: true })));
      }
      sessions.clear();
      conn.close();
    },
  };
}
