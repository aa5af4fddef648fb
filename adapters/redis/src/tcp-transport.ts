import { DurableSessionError } from '@durable-sessions/core';
import { isNoScript, mapRedisError } from './errors.js';
import type { LuaScript } from './scripts.js';
import type { ChannelHandlers, Transport } from './transport.js';

/**
 * The part of a node-redis (`redis` ≥ 5) client the adapter uses. A `createClient()` instance fits; pass it
 * connected or not (the adapter connects it), with `RESP: 2` or 3 (replies the adapter parses are shape-checked).
 */
export interface RedisClientLike {
  sendCommand(args: readonly string[]): Promise<unknown>;
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

/** How the TCP transport gets its client. */
export interface TcpTransportOptions {
  name: string;
  url?: string;
  client?: RedisClientLike;
  clientOptions?: Record<string, unknown>;
  connectTimeoutMs: number;
}

/** Reconnect delays: quick first retries (a dropped socket), capped so a restarted server is found within ~0.5 s. */
export function reconnectDelay(retries: number): number {
  return Math.min(500, 25 * 2 ** Math.min(retries, 5));
}

/** node-redis over TCP: one command connection, dedicated duplicates for blocking reads and pub/sub. */
export class TcpTransport implements Transport {
  private client: RedisClientLike | undefined;
  /** The client while its first connection is being made, so close() can stop it retrying. */
  private connecting: RedisClientLike | undefined;
  private starting: Promise<RedisClientLike> | undefined;
  private subscriber: Promise<RedisClientLike> | undefined;
  private readonly dedicated = new Set<RedisClientLike>();
  private readonly listeners = new Map<string, Set<ChannelHandlers>>();
  private closed = false;

  constructor(private readonly options: TcpTransportOptions) {}

  /**
   * The command client, connected. While it reconnects, callers wait for it (up to `connectTimeoutMs`, then
   * BACKEND_UNAVAILABLE) instead of failing at once: a plain append right after a server restart should just work.
   */
  async connection(): Promise<RedisClientLike> {
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

  private ready(client: RedisClientLike): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(() => {
        client.off('ready', done);
        reject(new DurableSessionError('BACKEND_UNAVAILABLE', `Redis did not come back within ${this.options.connectTimeoutMs} ms.`, { backend: this.options.name }));
      }, this.options.connectTimeoutMs);
      client.on('ready', done);
      if (client.isReady) done();
    });
  }

  private async start(): Promise<RedisClientLike> {
    let client = this.options.client;
    if (!client) {
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

  /** A new connection with the same options, owned by the caller until {@link release}. */
  async dedicatedConnection(): Promise<RedisClientLike> {
    const base = await this.connection();
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

  /** Several commands in one write (node-redis pipelines commands issued in the same tick); not atomic. */
  async pipeline(commands: string[][]): Promise<unknown[]> {
    const client = await this.connection();
    return Promise.all(commands.map((args) => client.sendCommand(args)));
  }

  async command(args: string[]): Promise<unknown> {
    const client = await this.connection();
    return client.sendCommand(args);
  }

  async evalScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const client = await this.connection();
    try {
      return await client.sendCommand(['EVALSHA', script.sha, String(keys.length), ...keys, ...args]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.sendCommand(['EVAL', script.source, String(keys.length), ...keys, ...args]);
    }
  }

  listen(channel: string, handlers: ChannelHandlers): () => void {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(handlers);
    const onMessage = (message: string) => {
      for (const h of [...(this.listeners.get(channel) ?? [])]) h.message(message);
    };
    if (first) {
      void this.subscriberClient()
        .then(async (sub) => {
          if (this.listeners.get(channel) !== set) return;
          await sub.subscribe(channel, onMessage);
          for (const h of [...set!]) h.ready();
        })
        .catch(() => {
          // The subscriber reconnects on its own; its 'ready' handler wakes everybody then.
        });
    } else {
      queueMicrotask(() => handlers.ready());
    }
    return () => {
      set!.delete(handlers);
      if (set!.size > 0 || this.listeners.get(channel) !== set) return;
      this.listeners.delete(channel);
      void this.subscriber?.then((sub) => sub.unsubscribe(channel)).catch(ignore);
    };
  }

  private subscriberClient(): Promise<RedisClientLike> {
    this.subscriber ??= (async () => {
      const sub = await this.dedicatedConnection();
      // node-redis resubscribes after a reconnect; messages published meanwhile are lost, so everybody re-checks.
      sub.on('ready', () => {
        for (const set of this.listeners.values()) for (const h of [...set]) queueMicrotask(() => h.ready());
      });
      return sub;
    })();
    this.subscriber.catch(() => (this.subscriber = undefined));
    return this.subscriber;
  }

  mapError(err: unknown): Error {
    return mapRedisError(err, this.options.name, isErrorReply);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of [...this.dedicated]) this.release(client);
    this.listeners.clear();
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
