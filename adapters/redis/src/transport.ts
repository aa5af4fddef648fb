import type { LuaScript } from './scripts.js';

/** Handlers of one notification channel subscription. */
export interface ChannelHandlers {
  /** A message was published on the channel. */
  message(message: string): void;
  /**
   * The subscription is (again) in place. Messages published while it was not may have been missed, so listeners
   * re-check their state here.
   */
  ready(): void;
}

/**
 * What the backend needs from a connection to Redis, whatever carries it (node-redis over TCP, @upstash/redis over
 * REST). Every data operation is a Lua script, so both transports share one implementation of the semantics.
 */
export interface Transport {
  /** Runs a script (EVALSHA, loading it with EVAL on NOSCRIPT); the reply in RESP2 shape (arrays, strings, numbers). */
  evalScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown>;
  /** Subscribes to a notification channel; returns the unsubscribe function. */
  listen(channel: string, handlers: ChannelHandlers): () => void;
  /** Maps a client error to a typed one. */
  mapError(err: unknown): Error;
  /** Closes what the transport opened (never a client the user passed in). */
  close(): Promise<void>;
}
