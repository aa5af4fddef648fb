import type { Backend, BackendConfig, BackendFactory } from './backend.js';
import type { RetentionOptions } from './capabilities.js';
import { DurableSessionError } from './errors.js';
import { findBackendByName, findBackendByScheme, registeredBackends } from './registry.js';

/** The environment variable `connect()` reads when called without a configuration. */
export const URL_ENV = 'DURABLE_SESSIONS_URL';

/** Presence timing for a store. */
export interface PresenceOptions {
  /** A member that sends no heartbeat for this long is gone (a crashed agent shows as gone after it). @default 15000 */
  timeoutMs?: number;
  /** How often a present member refreshes itself. @default timeoutMs / 3 */
  heartbeatMs?: number;
  /** How often `changes()` re-lists members to notice expiries. @default min(1000, timeoutMs / 4) */
  pollMs?: number;
}

/** Options of the store itself, whatever the backend. */
export interface StoreOptions {
  /** Who this process is (a user id, `agent:planner`): stamped on events and presence. */
  clientId?: string;
  /** Presence timing. */
  presence?: PresenceOptions;
  /** Retention limits for every session log, applied by the backend. */
  retention?: RetentionOptions;
  /**
   * How long a subscription keeps retrying a backend that is down before it fails with `BACKEND_UNAVAILABLE`.
   * @default 120000
   */
  reconnectTimeoutMs?: number;
}

/**
 * The options-object form of a configuration: `{ backend: 'redis', url: 'redis://…', clientId: 'agent' }`.
 * `backend` may also be a ready {@link Backend} (from an adapter's factory, e.g. `redis({ client })`) or a
 * {@link BackendFactory}. Every other field goes to the adapter.
 */
export interface ConnectOptions extends StoreOptions {
  /** A registered backend name, a backend instance, or a factory. */
  backend: string | Backend | BackendFactory;
  /** The backend URL, for backends configured by URL. */
  url?: string;
  /** Adapter options. */
  [option: string]: unknown;
}

/** What `connect()` accepts: a backend URL, or an options object. */
export type ConnectConfig = string | ConnectOptions;

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const STORE_KEYS = new Set(['clientId', 'presence', 'retention', 'reconnectTimeoutMs', 'backend']);

/** A configuration resolved to a backend instance and the store options. */
export interface ResolvedConfig {
  backend: Backend;
  store: StoreOptions;
}

/** Resolves a configuration: parses the URL, finds the adapter, loads it lazily and creates the backend. */
export async function resolveConfig(config: ConnectConfig | undefined, extra: StoreOptions = {}): Promise<ResolvedConfig> {
  if (config === undefined) {
    const fromEnv = process.env[URL_ENV]?.trim();
    config = fromEnv ? fromEnv : 'memory:';
  }
  if (typeof config === 'string') {
    const url = config.trim();
    const match = SCHEME.exec(url);
    if (!match) {
      throw new DurableSessionError('CONFIG_INVALID', `Backend URL ${JSON.stringify(redact(url))} has no scheme; expected e.g. memory:, redis://host:6379, nats://host:4222. ${knownSchemes()}`);
    }
    const scheme = match[1]!.toLowerCase();
    const registration = findBackendByScheme(scheme);
    if (!registration) {
      throw new DurableSessionError('CONFIG_INVALID', `Unknown backend URL scheme "${scheme}:". ${knownSchemes()}`, { details: { scheme } });
    }
    const factory = await registration.load();
    const backendConfig: BackendConfig = { url, ...(extra.retention ? { retention: extra.retention } : {}) };
    return { backend: await create(factory, backendConfig, registration.name), store: extra };
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new DurableSessionError('CONFIG_INVALID', `Configuration must be a backend URL or an options object with a "backend" field, got ${config === null ? 'null' : typeof config}.`);
  }
  const store: StoreOptions = { ...extra };
  const adapterOptions: BackendConfig = {};
  for (const [key, value] of Object.entries(config)) {
    if (STORE_KEYS.has(key)) (store as Record<string, unknown>)[key] = value;
    else adapterOptions[key] = value;
  }
  if (store.retention) adapterOptions.retention = store.retention;
  const { backend } = config;
  if (typeof backend === 'string') {
    const registration = findBackendByName(backend);
    if (!registration) {
      throw new DurableSessionError('CONFIG_INVALID', `Unknown backend "${backend}". Known: ${registeredBackends().map((r) => r.name).join(', ')}.`, { details: { backend } });
    }
    return { backend: await create(await registration.load(), adapterOptions, registration.name), store };
  }
  if (typeof backend === 'function') {
    return { backend: await create(backend as BackendFactory, adapterOptions, 'custom'), store };
  }
  if (isBackend(backend)) {
    if (store.retention) {
      // An instance was configured when it was created; silently ignoring retention here would keep data forever.
      throw new DurableSessionError('CONFIG_INVALID', 'retention cannot be applied to a ready backend instance: pass it to the adapter factory (e.g. memory({ retention })).');
    }
    return { backend, store };
  }
  throw new DurableSessionError('CONFIG_INVALID', 'Options field "backend" must be a backend name, a backend instance or a factory function.');
}

async function create(factory: BackendFactory, config: BackendConfig, name: string): Promise<Backend> {
  const backend = await factory(config);
  if (!isBackend(backend)) {
    throw new DurableSessionError('CONFIG_INVALID', `The ${name} adapter did not return a backend (append/read/info/tail/close).`);
  }
  return backend;
}

function isBackend(value: unknown): value is Backend {
  const candidate = value as Partial<Backend> | null;
  return (
    typeof candidate === 'object' && candidate !== null &&
    typeof candidate.append === 'function' && typeof candidate.read === 'function' &&
    typeof candidate.info === 'function' && typeof candidate.tail === 'function' &&
    typeof candidate.close === 'function' && typeof candidate.capabilities === 'object'
  );
}

function knownSchemes(): string {
  return `Known schemes: ${registeredBackends().flatMap((r) => r.schemes.map((s) => `${s}:`)).join(' ')}.`;
}

/** Hides credentials in URLs echoed in errors. */
export function redact(url: string): string {
  // Greedy up to the last `@` before any query: base64 secrets (Ably keys) may contain `/`.
  return url.replace(/\/\/([^?#]*)@/, '//***@').replace(/([?&](?:token|key|password|_token)=)[^&]*/gi, '$1***');
}
