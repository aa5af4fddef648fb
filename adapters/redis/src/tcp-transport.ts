import { DurableSessionError } from '@durable-sessions/core';
import { isNoScript, mapRedisError } from './errors.js';
import { isClusterClient, type ClusterTarget } from './options.js';
import type { LuaScript } from './scripts.js';
import type { ChannelHandlers, Transport } from './transport.js';

/**
 * The part of a node-redis (`redis` ≥ 5) client the adapter uses. A `createClient()` instance fits; pass it
 * connected or not (the adapter connects it), with `RESP: 2` or 3 (replies the adapter parses are shape-checked).
 */
export interface RedisClientLike {
  sendCommand(args: readonly string[], options?: CommandOptions): Promise<unknown>;
  duplicate(overrides?: any): RedisClientLike;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  readonly isReady: boolean;
  readonly isOpen: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener?: (message: string, channel: string) => void): Promise<unknown>;
}

/**
 * The part of a node-redis cluster client (`createCluster()`, `redis` ≥ 5) the adapter uses. Pass it connected or
 * not; it routes every command by its first key and follows MOVED/ASK redirections itself.
 */
export interface RedisClusterLike {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: CommandOptions): Promise<unknown>;
  getMasters(): unknown[];
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  readonly isReady: boolean;
  readonly isOpen: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(channel: string, listener: (message: string | Buffer, channel: string | Buffer) => void): Promise<unknown>;
  unsubscribe(channel: string, listener?: (message: string | Buffer, channel: string | Buffer) => void): Promise<unknown>;
}

/** How the TCP transport gets its client. */
export interface TcpTransportOptions {
  name: string;
  url?: string;
  /** A Redis Cluster to create a cluster client for (the URL form `redis+cluster://…`). */
  cluster?: ClusterTarget;
  client?: RedisClientLike | RedisClusterLike;
  clientOptions?: Record<string, unknown>;
  connectTimeoutMs: number;
}

type AnyClient = RedisClientLike | RedisClusterLike;

/** Reconnect delays: quick first retries (a dropped socket), capped so a restarted server is found within ~0.5 s. */
export function reconnectDelay(retries: number): number {
  return Math.min(500, 25 * 2 ** Math.min(retries, 5));
}

/**
 * node-redis over TCP. A single server: one command connection, dedicated duplicates for blocking reads and
 * pub/sub. A Redis Cluster: node-redis's cluster client (one connection per master, routed by key, redirections
 * followed), whose own pub/sub connection carries the wake-ups.
 */
export class TcpTransport implements Transport {
  private client: AnyClient | undefined;
  /** The client while its first connection is being made, so close() can stop it retrying. */
  private connecting: AnyClient | undefined;
  private starting: Promise<AnyClient> | undefined;
  private subscriber: Promise<AnyClient> | undefined;
  private readonly dedicated = new Set<RedisClientLike>();
  private readonly listeners = new Map<string, Set<ChannelHandlers>>();
  /** What this transport put on a client it does not own (a cluster client's pub/sub), to take off on close. */
  private readonly onLoan: Array<() => void> = [];
  private closed = false;
  /** True when talking to a Redis Cluster: multi-key commands across sessions are impossible (CROSSSLOT). */
  readonly isCluster: boolean;

  constructor(private readonly options: TcpTransportOptions) {
    this.isCluster = options.cluster !== undefined || (options.client !== undefined && isClusterClient(options.client));
  }

  /**
   * The command client, connected. While it reconnects, callers wait for it (up to `connectTimeoutMs`, then
   * BACKEND_UNAVAILABLE) instead of failing at once: a plain append right after a server restart should just work.
   */
  async connection(): Promise<AnyClient> {
    if (this.closed) throw new DurableSessionError('CLOSED', 'The redis backend is closed.', { backend: this.options.name });
    if (this.client) {
      if (!this.client.isReady && this.client.isOpen) await this.ready(this.client);
      return this.client;
    }
    if (!this.starting) {
      this.starting = this.start();
      this.starting.catch(() => (this.starting = undefined));
    }
    return withTimeout(this.starting, this.options.connectTimeoutMs, this.options.name);
  }

  private ready(client: AnyClient): Promise<void> {
    // A cluster client announces its (re)discovered topology with 'connect'; a single client with 'ready'.
    const event = this.isCluster ? 'connect' : 'ready';
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        client.off(event, done);
        resolve();
      };
      const timer = setTimeout(() => {
        client.off(event, done);
        reject(new DurableSessionError('BACKEND_UNAVAILABLE', `Redis did not come back within ${this.options.connectTimeoutMs} ms.`, { backend: this.options.name }));
      }, this.options.connectTimeoutMs);
      client.on(event, done);
      if (client.isReady) done();
    });
  }

  private async start(): Promise<AnyClient> {
    let client = this.options.client;
    if (!client && this.options.cluster) {
      client = await createClusterClient(this.options.cluster, this.options.clientOptions);
    } else if (!client) {
      const { createClient } = await import('redis');
      client = createClient({
        url: this.options.url,
        RESP: 2,
        disableOfflineQueue: true,
        ...this.options.clientOptions,
        socket: { reconnectStrategy: reconnectDelay, ...(this.options.clientOptions?.socket as object | undefined) },
      } as never) as unknown as RedisClientLike;
      client.on('error', ignore);
    }
    this.connecting = client;
    if (!client.isOpen) {
      try {
        await client.connect();
      } catch (err) {
        if (!this.options.client) client.destroy();
        throw err;
      }
    }
    if (this.closed) {
      if (!this.options.client) client.destroy();
      throw new DurableSessionError('CLOSED', 'The redis backend is closed.', { backend: this.options.name });
    }
    this.client = client;
    return client;
  }

  /** A new connection with the same options, owned by the caller until {@link release}. Single server only. */
  async dedicatedConnection(): Promise<RedisClientLike> {
    const base = await this.connection();
    if (isClusterClient(base)) throw new DurableSessionError('INTERNAL', 'A dedicated connection needs a single-server client.', { backend: this.options.name });
    const copy = base.duplicate({ disableOfflineQueue: true });
    copy.on('error', ignore);
    this.dedicated.add(copy);
    try {
      await copy.connect();
    } catch (err) {
      this.release(copy);
      throw err;
    }
    return copy;
  }

  release(client: RedisClientLike): void {
    if (!this.dedicated.delete(client)) return;
    try {
      client.destroy();
    } catch {
      // already gone
    }
  }

  /**
   * Several commands in one write (node-redis pipelines commands issued in the same tick); not atomic. On a cluster
   * they all go to the node owning `key`'s slot, so they must all be about that slot.
   */
  async pipeline(commands: string[][], key?: string, options?: readonly (CommandOptions | undefined)[]): Promise<unknown[]> {
    const client = await this.connection();
    return Promise.all(commands.map((args, i) => send(client, args, key, options?.[i])));
  }

  /** One command; on a cluster, routed by `key` (any node when absent). */
  async command(args: string[], key?: string): Promise<unknown> {
    const client = await this.connection();
    return send(client, args, key);
  }

  async evalScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const client = await this.connection();
    // On a cluster the first key routes the script; every key of one call shares a hash tag, hence a slot.
    const key = keys[0];
    try {
      return await send(client, ['EVALSHA', script.sha, String(keys.length), ...keys, ...args], key);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return send(client, ['EVAL', script.source, String(keys.length), ...keys, ...args], key);
    }
  }

  listen(channel: string, handlers: ChannelHandlers): () => void {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(handlers);
    const onMessage = (message: string | Buffer) => {
      for (const h of [...(this.listeners.get(channel) ?? [])]) h.message(String(message));
    };
    if (first) {
      const subscribe = (attempt: number): void => {
        void this.subscriberClient()
          .then(async (sub) => {
            if (this.listeners.get(channel) !== set) return;
            await sub.subscribe(channel, onMessage);
            if (this.isCluster && this.options.client) this.lend(() => void sub.unsubscribe(channel, onMessage).catch(ignore));
            for (const h of [...set!]) h.ready();
          })
          .catch(() => {
            // A single server's subscriber reconnects and resubscribes on its own ('ready' wakes everybody then). A
            // cluster refuses SUBSCRIBE outright while a node is down, so there the subscription is retried.
            if (!this.isCluster || this.closed || this.listeners.get(channel) !== set) return;
            setTimeout(() => subscribe(attempt + 1), reconnectDelay(attempt)).unref?.();
          });
      };
      subscribe(0);
    } else {
      queueMicrotask(() => handlers.ready());
    }
    return () => {
      set!.delete(handlers);
      // A cluster client drops its whole pub/sub connection when its last channel is unsubscribed, which races a
      // subscription made meanwhile (and loses it); there are at most 16 channels, so a cluster keeps them.
      if (set!.size > 0 || this.listeners.get(channel) !== set || this.isCluster) return;
      this.listeners.delete(channel);
      void this.subscriber?.then((sub) => sub.unsubscribe(channel)).catch(ignore);
    };
  }

  private subscriberClient(): Promise<AnyClient> {
    this.subscriber ??= (async () => {
      // A cluster client keeps its own pub/sub connection (to any node: PUBLISH reaches every node of a cluster).
      const sub = this.isCluster ? await this.connection() : await this.dedicatedConnection();
      // node-redis resubscribes after a reconnect; messages published meanwhile are lost, so everybody re-checks.
      // A cluster client reports each of its node connections (the pub/sub one included) with 'node-ready'.
      const recheck = () => {
        for (const set of this.listeners.values()) for (const h of [...set]) queueMicrotask(() => h.ready());
      };
      const event = this.isCluster ? 'node-ready' : 'ready';
      sub.on(event, recheck);
      if (this.isCluster && this.options.client) this.lend(() => sub.off(event, recheck));
      return sub;
    })();
    this.subscriber.catch(() => (this.subscriber = undefined));
    return this.subscriber;
  }

  /** Records how to undo a change made to a client the user owns; undoes it at once when already closed. */
  private lend(undo: () => void): void {
    if (this.closed) undo();
    else this.onLoan.push(undo);
  }

  mapError(err: unknown): Error {
    return mapRedisError(err, this.options.name, isErrorReply);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of [...this.dedicated]) this.release(client);
    this.listeners.clear();
    for (const undo of this.onLoan.splice(0)) undo();
    const client = this.client ?? this.connecting;
    if (client && !this.options.client) {
      if (!client.isReady) {
        try {
          client.destroy();
        } catch {
          // never connected
        }
        return;
      }
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    }
  }
}

/** Sends one command: a single client as is, a cluster client routed by `key`. */
function send(client: AnyClient, args: string[], key: string | undefined, options?: CommandOptions): Promise<unknown> {
  if (options === undefined) return isClusterClient(client) ? client.sendCommand(key, false, args) : client.sendCommand(args);
  return isClusterClient(client) ? client.sendCommand(key, false, args, options) : client.sendCommand(args, options);
}

/** The node-redis command options the adapter passes: a reply type mapping (bulk strings as Buffers, say). */
export interface CommandOptions {
  typeMapping?: Record<number, unknown>;
}

/**
 * Bulk strings as Buffers: a replayed page is then decoded from its bytes in one piece (see `toPage`). 36 is RESP's
 * `$` (node-redis's `RESP_TYPES.BLOB_STRING`), spelt as a number so this module needs no runtime import of `redis`.
 */
export const BUFFER_REPLIES: CommandOptions = { typeMapping: { 36: Buffer } };

/**
 * A node-redis cluster client for the seed nodes: RESP2 (replies are parsed generically), no offline queue on any
 * node (a command to a down master fails at once and the core retries it), the same reconnect delays as a single
 * client, and the URL's credentials and TLS for every node, discovered ones included.
 */
async function createClusterClient(target: ClusterTarget, clientOptions: Record<string, unknown> | undefined): Promise<RedisClusterLike> {
  const { createCluster } = await import('redis');
  const { defaults: extraDefaults, ...rest } = (clientOptions ?? {}) as { defaults?: Record<string, unknown> };
  const socket = { reconnectStrategy: reconnectDelay, ...(target.tls ? { tls: true } : {}), ...(extraDefaults?.socket as object | undefined) };
  const client = createCluster({
    rootNodes: target.nodes.map(({ host, port }) => ({ socket: { host, port, ...(target.tls ? { tls: true } : {}) } })),
    RESP: 2,
    ...rest,
    defaults: {
      disableOfflineQueue: true,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...extraDefaults,
      socket,
    },
  } as never) as unknown as RedisClusterLike;
  client.on('error', ignore);
  client.on('node-error', ignore);
  return client;
}

function isErrorReply(err: unknown): boolean {
  return err instanceof Error && err.constructor.name.endsWith('ErrorReply');
}

function ignore(): void {}

async function withTimeout<T>(promise: Promise<T>, ms: number, backend: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DurableSessionError('BACKEND_UNAVAILABLE', `Could not connect to Redis within ${ms} ms.`, { backend })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
