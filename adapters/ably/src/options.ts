import { DurableSessionError, type RetentionOptions } from '@durable-sessions/core';
import type { ClientOptions, Realtime } from 'ably';
import { NAME } from './errors.js';

/** Options of the Ably backend. */
export interface AblyOptions {
  /**
   * An API key, `appId.keyId:secret`. The key (or token) must allow publish, subscribe, presence and history on the
   * channels of {@link AblyOptions.channelPrefix}, and the connection must not be bound to one clientId: presence
   * members are entered with `enterClient` per session handle.
   * @default process.env.ABLY_API_KEY when neither `client`, `token` nor `clientOptions.authCallback`/`authUrl` is given
   */
  key?: string;
  /** A token string instead of a key (it must have a wildcard clientId). @default undefined */
  token?: string;
  /**
   * Your own `Realtime` client. It is used as is and never closed by the backend; it must be authenticated with a
   * key or a wildcard-clientId token, keep `echoMessages` on, and should not set `clientId`.
   * @default a client created from the other options
   */
  client?: Realtime;
  /** Ably endpoint (routing policy or host name); `127.0.0.1` for the local emulator. @default Ably's default endpoint */
  endpoint?: string;
  /** Port for both REST and realtime (a non-default port disables fallback hosts). @default 443 (80 without TLS) */
  port?: number;
  /** Whether to use TLS. @default true */
  tls?: boolean;
  /** Further options for the client the backend creates (`authCallback`, `logLevel`, `useBinaryProtocol`, …). @default {} */
  clientOptions?: ClientOptions;
  /**
   * First segment of every channel name, which is also the Ably namespace the channel rules apply to:
   * `<prefix>:<session key>:events`, `…:control` and `…:presence`. Letters, digits, `_` and `-`.
   * @default 'ds'
   */
  channelPrefix?: string;
  /**
   * Largest message Ably accepts on the app (64 KiB unless your package raises it). One append is split into as
   * many publishes as this limit requires.
   * @default 65536
   */
  maxMessageSize?: number;
  /** Most events one append call may carry. @default 1000 */
  maxBatchSize?: number;
  /** How long a channel stays attached after its last tail or append, so bursts do not re-attach. @default 30000 */
  idleDetachMs?: number;
  /**
   * How many history pages (of 1,000 messages) the backend searches for the state of a producer it has not seen in
   * this process (a producer resuming at seq > 0 after a restart of its process).
   * @default 10
   */
  producerScanPages?: number;
  /**
   * Not supported: Ably's history retention is set by channel rules (2 minutes by default; with the
   * "persist all messages" rule 24 hours on the Free package, 72 hours by default on paid ones), not per session.
   * Passing limits fails with `CONFIG_INVALID`.
   */
  retention?: RetentionOptions;
}

/** Fully resolved options. */
export interface ResolvedAblyOptions {
  client?: Realtime;
  clientOptions: ClientOptions;
  channelPrefix: string;
  maxMessageSize: number;
  maxBatchSize: number;
  idleDetachMs: number;
  producerScanPages: number;
}

/** Validates options and builds the client options of the client the backend creates. */
export function resolveOptions(options: AblyOptions): ResolvedAblyOptions {
  const retention = options.retention ?? {};
  if (retention.maxAgeMs !== undefined || retention.maxEvents !== undefined) {
    throw new DurableSessionError(
      'CONFIG_INVALID',
      'Ably keeps history per channel rule (2 minutes by default; with "persist all messages" 24 hours on Free, 72 hours by default on paid packages); per-store retention limits are not supported.',
      { backend: NAME },
    );
  }
  const channelPrefix = options.channelPrefix ?? 'ds';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(channelPrefix)) {
    throw new DurableSessionError('CONFIG_INVALID', `channelPrefix must be 1-64 letters, digits, "_" or "-"; got ${JSON.stringify(channelPrefix)}.`, { backend: NAME });
  }
  const clientOptions: ClientOptions = { ...options.clientOptions };
  if (options.endpoint !== undefined) clientOptions.endpoint = options.endpoint;
  if (options.port !== undefined) {
    if (options.tls === false) clientOptions.port = options.port;
    else clientOptions.tlsPort = options.port;
  }
  if (options.tls !== undefined) clientOptions.tls = options.tls;
  if (options.key !== undefined) clientOptions.key = options.key;
  if (options.token !== undefined) clientOptions.token = options.token;
  const hasAuth = clientOptions.key ?? clientOptions.token ?? clientOptions.tokenDetails ?? clientOptions.authCallback ?? clientOptions.authUrl;
  if (!options.client && !hasAuth) {
    const fromEnv = process.env.ABLY_API_KEY?.trim();
    if (!fromEnv) {
      throw new DurableSessionError('CONFIG_INVALID', 'The Ably backend needs a key (options.key, ABLY_API_KEY, or a key in the URL), a token, or a client.', { backend: NAME });
    }
    clientOptions.key = fromEnv;
  }
  if (clientOptions.clientId !== undefined) {
    throw new DurableSessionError('CONFIG_INVALID', 'Do not set an Ably clientId: presence members are entered per session handle with enterClient.', { backend: NAME });
  }
  // A local endpoint (the emulator) has no internet to probe and no fallback hosts.
  if (clientOptions.endpoint !== undefined && /^(127\.|localhost$|\[?::1\]?$)/.test(clientOptions.endpoint)) {
    clientOptions.disableConnectivityCheck ??= true;
  }
  const result: ResolvedAblyOptions = {
    clientOptions,
    channelPrefix,
    maxMessageSize: positiveInt(options.maxMessageSize, 64 * 1024, 'maxMessageSize'),
    maxBatchSize: positiveInt(options.maxBatchSize, 1_000, 'maxBatchSize'),
    idleDetachMs: positiveInt(options.idleDetachMs, 30_000, 'idleDetachMs'),
    producerScanPages: positiveInt(options.producerScanPages, 10, 'producerScanPages'),
  };
  if (options.client) result.client = options.client;
  return result;
}

const NUMERIC_PARAMS = ['disconnectedRetryTimeout', 'suspendedRetryTimeout', 'realtimeRequestTimeout', 'httpRequestTimeout'] as const;

/**
 * Parses `ably://<keyName>:<secret>@<host>[:<port>][?tls=false&…]` (or `ably:` / `ably://` for Ably's default
 * endpoint with the key from `ABLY_API_KEY`) into options. Query parameters: `tls`, `useBinaryProtocol`, `prefix`,
 * `maxMessageSize`, and the SDK timeouts `disconnectedRetryTimeout`, `suspendedRetryTimeout`, `realtimeRequestTimeout`,
 * `httpRequestTimeout` (ms).
 */
export function parseAblyUrl(url: string): AblyOptions {
  // Not `new URL()`: `ably://key:secret@` (credentials, no host) is valid here and invalid for WHATWG URLs.
  // The secret may hold `/` and `+` (Ably secrets are base64): everything up to the last `@` belongs to it.
  const match = /^ably:(?:\/\/(?:([^:@/?#]*)(?::(.*))?@)?(\[[^\]@]*\]|[^:/?#@]*)(?::(\d+))?)?\/?(?:\?([^#@]*))?$/i.exec(url.trim());
  if (!match) {
    throw new DurableSessionError('CONFIG_INVALID', 'Malformed Ably URL: use ably://<keyName>:<secret>@<host>:<port>?tls=false, ably://<keyName>:<secret>@ or ably:', {
      backend: NAME,
    });
  }
  const [, user, secret, host, port, query] = match;
  const options: AblyOptions = {};
  const clientOptions: ClientOptions = {};
  try {
    if (user) options.key = secret ? `${decodeURIComponent(user)}:${decodeURIComponent(secret)}` : decodeURIComponent(user);
  } catch (cause) {
    throw new DurableSessionError('CONFIG_INVALID', 'Malformed percent-encoding in the Ably URL credentials.', { backend: NAME, cause });
  }
  if (host) options.endpoint = host.replace(/^\[|\]$/g, '');
  const params = new URLSearchParams(query ?? '');
  const tls = params.get('tls');
  if (tls !== null) options.tls = tls !== 'false' && tls !== '0';
  if (port) options.port = Number(port);
  const binary = params.get('useBinaryProtocol');
  if (binary !== null) clientOptions.useBinaryProtocol = binary !== 'false' && binary !== '0';
  for (const name of NUMERIC_PARAMS) {
    const value = params.get(name);
    if (value !== null) clientOptions[name] = numberParam(name, value);
  }
  const prefix = params.get('prefix');
  if (prefix !== null) options.channelPrefix = prefix;
  const maxMessageSize = params.get('maxMessageSize');
  if (maxMessageSize !== null) options.maxMessageSize = numberParam('maxMessageSize', maxMessageSize);
  if (Object.keys(clientOptions).length > 0) options.clientOptions = clientOptions;
  return options;
}

function numberParam(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new DurableSessionError('CONFIG_INVALID', `URL parameter ${name} must be a positive integer.`, { backend: NAME });
  return n;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new DurableSessionError('CONFIG_INVALID', `${name} must be a positive integer.`, { backend: NAME });
  return value;
}
