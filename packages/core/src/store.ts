import type { Backend } from './backend.js';
import { resolveConfig, type ConnectConfig, type StoreOptions } from './config.js';
import { DurableSessionError } from './errors.js';
import { OriginCache } from './fork.js';
import { presenceTiming } from './presence.js';
import { SessionHandle, type SessionEnv } from './session.js';
import { encodeSessionKey, validateSessionId } from './session-id.js';
import type { DurableSession, ForkOptions, ForkResult, SessionHandleOptions, SessionStore, StoreCapabilities, StoreStats } from './types.js';

const MAX_CLIENT_ID = 256;
const CONNECTION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The store behind `connect()`: hands out session handles over one backend. */
class Store implements SessionStore {
  private readonly handles = new Set<SessionHandle>();
  private readonly env: SessionEnv;
  private closed = false;

  constructor(private readonly backendInstance: Backend, options: StoreOptions) {
    const { clientId } = options;
    if (clientId !== undefined && (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > MAX_CLIENT_ID)) {
      throw new DurableSessionError('CONFIG_INVALID', `clientId must be a string of 1–${MAX_CLIENT_ID} characters.`);
    }
    const reconnectTimeoutMs = options.reconnectTimeoutMs ?? 120_000;
    if (!Number.isFinite(reconnectTimeoutMs) || reconnectTimeoutMs < 0) {
      throw new DurableSessionError('CONFIG_INVALID', 'reconnectTimeoutMs must be a non-negative number.');
    }
    this.env = {
      backend: backendInstance,
      clientId,
      presence: presenceTiming(options.presence),
      reconnectTimeoutMs,
      stats: { tails: 0, subscriptions: 0 },
      origins: new OriginCache(),
      openInternal: (id) => new SessionHandle(id, encodeSessionKey(id), this.env, () => {}),
    };
  }

  get backend(): string {
    return this.backendInstance.name;
  }

  get capabilities(): StoreCapabilities {
    // Read through every time: some backends learn their limits when they connect (NATS max_payload).
    return { ...this.backendInstance.capabilities, fork: true };
  }

  get clientId(): string | undefined {
    return this.env.clientId;
  }

  stats(): StoreStats {
    return { handles: this.handles.size, subscriptions: this.env.stats.subscriptions, tails: this.env.stats.tails };
  }

  session(id: string, options: SessionHandleOptions = {}): DurableSession {
    if (this.closed) throw new DurableSessionError('CLOSED', 'The store is closed.');
    validateSessionId(id);
    const { connectionId } = options;
    if (connectionId !== undefined && (typeof connectionId !== 'string' || !CONNECTION_ID.test(connectionId))) {
      throw new DurableSessionError('INVALID_ARGUMENT', 'connectionId must be 1–64 characters of [A-Za-z0-9_-].');
    }
    const handle = new SessionHandle(id, encodeSessionKey(id), this.env, (h) => this.handles.delete(h), connectionId);
    this.handles.add(handle);
    return handle;
  }

  async fork(source: string, options: ForkOptions): Promise<ForkResult> {
    if (this.closed) throw new DurableSessionError('CLOSED', 'The store is closed.');
    validateSessionId(source);
    if (options === null || typeof options !== 'object') {
      throw new DurableSessionError('INVALID_ARGUMENT', "fork() needs options: { target, at? }.");
    }
    validateSessionId(options.target);
    if (options.target === source) throw new DurableSessionError('INVALID_ARGUMENT', 'A session cannot be forked into itself.', { details: { source } });
    const from = this.env.openInternal(source);
    const into = this.env.openInternal(options.target);
    try {
      const point = await from.forkPoint(options.at ?? 'end');
      await into.becomeFork(source, point);
      return { id: options.target, source, at: point.at };
    } finally {
      await Promise.allSettled([from.close({ leave: false }), into.close({ leave: false })]);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.handles].map((h) => h.close()));
    await this.backendInstance.close();
  }
}

/**
 * Connects to a backend chosen by configuration:
 * - a URL: `memory:`, `redis://…`, `rediss://…`, `upstash+https://…`, `nats://…`, `kafka://host:port[,host:port]`, `ably:…`;
 * - an options object: `{ backend: 'redis', url, clientId, …adapterOptions }`, or `{ backend: redis({ client }) }`;
 * - nothing: `DURABLE_SESSIONS_URL`, else the embedded memory backend.
 * Only the selected adapter is loaded. Bad configuration fails with `CONFIG_INVALID`, saying what to fix or install.
 */
export async function connect(config?: ConnectConfig, options: StoreOptions = {}): Promise<SessionStore> {
  const resolved = await resolveConfig(config, options);
  try {
    return new Store(resolved.backend, resolved.store);
  } catch (err) {
    await resolved.backend.close().catch(() => {});
    throw err;
  }
}
