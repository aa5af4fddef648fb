import { DurableSessionError } from '@durable-sessions/core';
import { isNoScript, mapRedisError } from './errors.js';
import type { LuaScript } from './scripts.js';
import { openSse } from './sse.js';
import type { ChannelHandlers, Transport } from './transport.js';

/** The part of an `@upstash/redis` client the adapter uses; create it with `automaticDeserialization: false`. */
export interface UpstashClientLike {
  evalsha(sha1: string, keys: string[], args: unknown[]): Promise<unknown>;
  eval(script: string, keys: string[], args: unknown[]): Promise<unknown>;
}

/** How the REST transport gets its client and its SSE endpoint. */
export interface UpstashTransportOptions {
  name: string;
  /** REST URL (`https://…upstash.io`, or `http://127.0.0.1:PORT` for a local bridge). */
  url?: string;
  token?: string;
  client?: UpstashClientLike;
  clientOptions?: Record<string, unknown>;
}

/** @upstash/redis over REST: scripts through the SDK (auto-pipelined), wake-ups through SSE subscribe. */
export class UpstashTransport implements Transport {
  private client: Promise<UpstashClientLike> | undefined;
  private readonly sse = new Map<string, { close: () => void; handlers: Set<ChannelHandlers>; ready: boolean }>();
  private closed = false;

  constructor(private readonly options: UpstashTransportOptions) {}

  private connection(): Promise<UpstashClientLike> {
    if (this.closed) return Promise.reject(new DurableSessionError('CLOSED', 'The redis backend is closed.', { backend: this.options.name }));
    this.client ??= (async () => {
      if (this.options.client) return this.options.client;
      const { Redis } = await import('@upstash/redis');
      return new Redis({
        url: this.options.url!,
        token: this.options.token!,
        // Strings must come back as stored; a payload "123" must not turn into a number.
        automaticDeserialization: false,
        // The SDK would resend a request whose response was lost, storing a plain append twice; the core retries
        // idempotently instead.
        retry: false,
        enableTelemetry: false,
        ...this.options.clientOptions,
      }) as unknown as UpstashClientLike;
    })();
    return this.client;
  }

  async evalScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const client = await this.connection();
    try {
      return await client.evalsha(script.sha, keys, args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.eval(script.source, keys, args);
    }
  }

  listen(channel: string, handlers: ChannelHandlers): () => void {
    let entry = this.sse.get(channel);
    if (!entry) {
      const created = { close: () => {}, handlers: new Set<ChannelHandlers>(), ready: false };
      this.sse.set(channel, (entry = created));
      created.close = openSse(this.options.url!, this.options.token!, channel, {
        message: (m) => {
          for (const h of [...created.handlers]) h.message(m);
        },
        ready: () => {
          created.ready = true;
          for (const h of [...created.handlers]) h.ready();
        },
      });
    } else if (entry.ready) {
      queueMicrotask(() => handlers.ready());
    }
    entry.handlers.add(handlers);
    const owner = entry;
    return () => {
      owner.handlers.delete(handlers);
      if (owner.handlers.size === 0 && this.sse.get(channel) === owner) {
        this.sse.delete(channel);
        owner.close();
      }
    };
  }

  mapError(err: unknown): Error {
    return mapRedisError(err, this.options.name, () => false);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.sse.values()) entry.close();
    this.sse.clear();
  }
}
