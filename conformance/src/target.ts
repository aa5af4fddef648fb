import type { Backend, SessionStore, StoreOptions } from '@durable-sessions/core';

/** Fault hooks an adapter's test file may provide; tests that need a missing hook skip, saying why. */
export interface FaultHooks {
  /** Stops the backend server and starts it again on the same address, keeping its data where it is durable. */
  restart?(): Promise<void>;
  /** Drops every client connection (the server stays up), as a network blip would. */
  dropConnections?(): Promise<void>;
}

/**
 * What an adapter author hands the suite: how to get a store, and what faults can be injected.
 * `connect` is called for every test (with store options such as a short presence timeout) and the store is
 * closed by the suite afterwards.
 */
export interface ConformanceTarget {
  /** Shown in reports (`redis`, `nats 2.9`, …). */
  name: string;
  /**
   * Returns a connected store; must honour `options` (clientId, presence timing, retention). Every call must reach
   * the same data, as clients of one server do: tests open several stores to play several processes.
   */
  connect(options?: StoreOptions): Promise<SessionStore>;
  /**
   * A new backend instance reaching the same data as `connect` (honouring `options.retention`). With it the suite
   * can play a crashed process: it builds a store on a wrapper of this backend and cuts the wrapper off mid-test, so
   * heartbeats stop and no leave is ever sent. Tests that crash a client skip without it.
   */
  backend?(options?: StoreOptions): Backend | Promise<Backend>;
  /** Fault injection; omit what the backend cannot do. */
  faults?: FaultHooks;
  /** Tests to skip, by id, each with the reason (shown in the report). */
  skip?: Record<string, string>;
  /** Multiplies every timeout in the suite, for slow backends. @default 1 */
  timeScale?: number;
  /** Prefix for session ids, so concurrent runs against one server never collide. @default a random one per run */
  sessionPrefix?: string;
}
