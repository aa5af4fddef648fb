import type { RetentionOptions } from '@durable-sessions/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsError } from './errors.js';

/** Options of the NATS JetStream backend. */
export interface NatsOptions {
  /**
   * Server URL(s): `nats://host:port`, several comma-separated (`nats://a:4222,nats://b:4222`) or as an array.
   * Credentials may sit in the URL (`nats://user:pass@host:4222`, `nats://token@host:4222`).
   * @default 'nats://127.0.0.1:4222'
   */
  servers?: string | string[];
  /** The same as {@link NatsOptions.servers}, as one URL string (what `connect('nats://…')` passes). @default undefined */
  url?: string;
  /**
   * A connection you opened yourself (`connect()` from `@nats-io/transport-node`). The backend uses it and never
   * closes it; `servers`/`url` are ignored then. @default undefined (the backend connects itself)
   */
  connection?: NatsConnection;
  /**
   * The JetStream stream holding every session log, created when missing. Retention is a property of the stream:
   * without an explicit name, a store configured with retention uses its own stream named after the limits
   * (`DS_SESSIONS_A60000_E100`), so stores with different limits never share (and never re-limit) one stream.
   * @default 'DS_SESSIONS'
   */
  stream?: string;
  /**
   * First subject token(s) of the stream's subjects (`<prefix>.ev.<session>` and `<prefix>.ctl.<session>`). Must not
   * overlap another stream's subjects. @default the stream name in lower case (`ds_sessions`)
   */
  subjectPrefix?: string;
  /** Stream (and KV bucket) replicas: 3 on a 3-node cluster survives losing a node. @default 1 */
  replicas?: number;
  /** Where JetStream keeps the stream. `memory` is not durable across a server restart. @default 'file' */
  storage?: 'file' | 'memory';
  /**
   * Retention per session log: `maxAgeMs` becomes the stream's max_age, `maxEvents` its max_msgs_per_subject
   * (one event per message then, see the docs). @default unlimited
   */
  retention?: RetentionOptions;
  /**
   * Largest encoded event, in bytes. @default the server's max_payload minus 4096 bytes kept for headers
   */
  maxPayloadBytes?: number;
  /** Most events per append call. @default 1000 */
  maxBatchSize?: number;
  /**
   * The stream's duplicate window: an idempotent producer's retry is recognised by its `Nats-Msg-Id` this long
   * after the original even when the producer state was not saved (a crash between publish and save).
   * @default 120000
   */
  duplicateWindowMs?: number;
  /**
   * Bucket-wide TTL of the presence KV bucket: must exceed the longest presence timeout of any store using it.
   * Entries are rewritten on every heartbeat, so this only bounds how long a crashed member's entry lingers.
   * @default 300000
   */
  presenceTtlMs?: number;
  /** Deadline of one JetStream request (publish ack, API call). @default 5000 */
  requestTimeoutMs?: number;
}

/** Options after defaults, as the backend uses them. */
export interface ResolvedNatsOptions {
  readonly servers: string[];
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly connection: NatsConnection | undefined;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly replicas: number;
  readonly storage: 'file' | 'memory';
  readonly retention: RetentionOptions;
  readonly maxPayloadBytes: number | undefined;
  readonly maxBatchSize: number;
  readonly duplicateWindowMs: number;
  readonly presenceTtlMs: number;
  readonly requestTimeoutMs: number;
}

/** Bytes of max_payload kept for headers (`Nats-Msg-Id` carries the session key, up to 350 characters). */
export const HEADER_RESERVE = 4096;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Applies defaults and checks every option, throwing `CONFIG_INVALID` with the offending field. */
export function resolveOptions(input: NatsOptions): ResolvedNatsOptions {
  const options = { ...urlOptions(input.url), ...input };
  const retention = { ...options.retention };
  for (const [key, value] of Object.entries(retention)) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)) {
      throw natsError('CONFIG_INVALID', `retention.${key} must be a positive integer.`);
    }
  }
  const stream = options.stream ?? defaultStream(retention);
  if (!STREAM_NAME.test(stream)) throw natsError('CONFIG_INVALID', `stream ${JSON.stringify(stream)} must match ${STREAM_NAME}.`);
  const subjectPrefix = options.subjectPrefix ?? stream.toLowerCase();
  if (!PREFIX.test(subjectPrefix)) {
    throw natsError('CONFIG_INVALID', `subjectPrefix ${JSON.stringify(subjectPrefix)} must be dot-separated tokens of [A-Za-z0-9_-] (no wildcards).`);
  }
  const storage = options.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') throw natsError('CONFIG_INVALID', 'storage must be "file" or "memory".');
  const parsed = parseServers(options.url ?? options.servers ?? 'nats://127.0.0.1:4222');
  return {
    ...parsed,
    connection: options.connection,
    stream,
    subjectPrefix,
    replicas: positiveInt(options.replicas, 1, 'replicas'),
    storage,
    retention,
    maxPayloadBytes: options.maxPayloadBytes === undefined ? undefined : positiveInt(options.maxPayloadBytes, 0, 'maxPayloadBytes'),
    maxBatchSize: positiveInt(options.maxBatchSize, 1_000, 'maxBatchSize'),
    duplicateWindowMs: positiveInt(options.duplicateWindowMs, 120_000, 'duplicateWindowMs'),
    presenceTtlMs: positiveInt(options.presenceTtlMs, 300_000, 'presenceTtlMs'),
    requestTimeoutMs: positiveInt(options.requestTimeoutMs, 5_000, 'requestTimeoutMs'),
  };
}

const URL_OPTIONS = new Set(['stream', 'subjectPrefix', 'replicas', 'storage']);

/**
 * Options given as URL query parameters (`nats://h:4222?stream=CHAT&replicas=3`), so URL-only tools such as the
 * CLI can reach every layout. Explicit options win over them.
 */
function urlOptions(url: string | undefined): Partial<NatsOptions> {
  const query = url?.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (!URL_OPTIONS.has(key)) throw natsError('CONFIG_INVALID', `Unknown NATS URL parameter "${key}"; known: ${[...URL_OPTIONS].join(', ')}.`);
    out[key] = key === 'replicas' ? Number(value) : value;
  }
  return out as Partial<NatsOptions>;
}

function defaultStream(retention: RetentionOptions): string {
  const parts = ['DS_SESSIONS'];
  if (retention.maxAgeMs !== undefined) parts.push(`A${retention.maxAgeMs}`);
  if (retention.maxEvents !== undefined) parts.push(`E${retention.maxEvents}`);
  return parts.join('_').slice(0, 64);
}

/**
 * Splits `nats://u:p@a:1,nats://b:2` (or `nats://a:1,b:2`) into server addresses and the credentials of the
 * first URL that has some, so credentials never end up in the client's server list (or its logs).
 */
export function parseServers(input: string | string[]): { servers: string[]; user: string | undefined; pass: string | undefined; token: string | undefined } {
  const items = (Array.isArray(input) ? input : input.replace(/\?.*$/, '').split(',')).map((s) => s.trim().replace(/\/$/, '')).filter(Boolean);
  if (items.length === 0) throw natsError('CONFIG_INVALID', 'No NATS server given.');
  let user: string | undefined;
  let pass: string | undefined;
  let token: string | undefined;
  const servers = items.map((item) => {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(item) ? item : `nats://${item}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch (cause) {
      throw natsError('CONFIG_INVALID', `Malformed NATS URL ${JSON.stringify(item.replace(/\/\/[^@/]*@/, '//***@'))}.`, cause);
    }
    const scheme = url.protocol.replace(/:$/, '').toLowerCase();
    if (scheme !== 'nats' && scheme !== 'tls+nats' && scheme !== 'tls') {
      throw natsError('CONFIG_INVALID', `Unsupported NATS URL scheme "${scheme}:"; use nats:// or tls+nats://.`);
    }
    if (url.username && user === undefined && token === undefined) {
      if (url.password) {
        user = decodeURIComponent(url.username);
        pass = decodeURIComponent(url.password);
      } else {
        token = decodeURIComponent(url.username);
      }
    }
    const host = url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname;
    const tls = scheme !== 'nats';
    return `${tls ? 'tls' : 'nats'}://${host}:${url.port || '4222'}`;
  });
  return { servers, user, pass, token };
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw natsError('CONFIG_INVALID', `${name} must be a positive integer.`);
  return value;
}
