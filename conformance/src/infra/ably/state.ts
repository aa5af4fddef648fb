import { randomBytes } from 'node:crypto';
import { HistoryBudget } from './budget.js';
import { ChannelState } from './channel.js';
import { wireError, type WireError } from './protocol.js';

/** Options of the Ably emulator. */
export interface AblyEmulatorOptions {
  /** Port to listen on (127.0.0.1). @default a free port chosen by the OS */
  port?: number;
  /** API keys the emulator accepts, `keyName → secret` (key names look like `appId.keyId`). @default `{ 'emu.key': 'emulator-secret' }` */
  keys?: Record<string, string>;
  /** Largest message (name + data + clientId + extras) accepted, in bytes; Ably's default is 64 KiB. @default 65536 */
  maxMessageSize?: number;
  /** How long history is kept (Ably: 2 minutes by default, 24–72 h with the persistence channel rule). @default 86400000 */
  historyTtlMs?: number;
  /**
   * Most heap (estimated bytes) all channel histories may take together; beyond it the least recently published
   * channels lose their oldest messages first, as if retention had expired them. An emulator bound (real Ably
   * bounds history by time only) that keeps long benchmarks from growing it without limit.
   * @default 268435456 (256 MiB, roughly two million short messages)
   */
  historyMemoryBytes?: number;
  /** How long a client-supplied message id de-duplicates republishes (Ably: 2 minutes). @default 120000 */
  idempotencyWindowMs?: number;
  /** How long a disconnected connection stays resumable (`connectionStateTtl`). @default 120000 */
  connectionStateTtlMs?: number;
  /** How long presence members of a disconnected connection stay before they leave (Ably: 15 s). @default 15000 */
  presenceLeaveDelayMs?: number;
  /** `maxIdleInterval` promised to clients; the server pings at a third of it. @default 15000 */
  maxIdleIntervalMs?: number;
  /** Receives one line per notable event (connections, faults), for debugging. */
  log?: (line: string) => void;
}

/** The resolved options. */
export type ResolvedOptions = Required<Omit<AblyEmulatorOptions, 'port' | 'log'>> & Pick<AblyEmulatorOptions, 'log'>;

/** The default key, usable as `emu.key:emulator-secret`. */
export const DEFAULT_KEY_NAME = 'emu.key';
const DEFAULT_SECRET = 'emulator-secret';

/** Resolves defaults. */
export function resolveOptions(options: AblyEmulatorOptions): ResolvedOptions {
  return {
    keys: options.keys ?? { [DEFAULT_KEY_NAME]: DEFAULT_SECRET },
    maxMessageSize: options.maxMessageSize ?? 64 * 1024,
    historyTtlMs: options.historyTtlMs ?? 24 * 60 * 60 * 1000,
    historyMemoryBytes: options.historyMemoryBytes ?? 256 * 1024 * 1024,
    idempotencyWindowMs: options.idempotencyWindowMs ?? 120_000,
    connectionStateTtlMs: options.connectionStateTtlMs ?? 120_000,
    presenceLeaveDelayMs: options.presenceLeaveDelayMs ?? 15_000,
    maxIdleIntervalMs: options.maxIdleIntervalMs ?? 15_000,
    log: options.log,
  };
}

/** An issued token. */
export interface Token {
  keyName: string;
  clientId?: string;
  expires: number;
  capability: string;
}

/** Who a request or connection authenticated as. */
export interface Identity {
  keyName: string;
  /** The token's or connection's client id; `*` is the wildcard. */
  clientId?: string;
}

/** Thrown by handlers; carries the Ably error to send. */
export class AblyError extends Error {
  constructor(readonly error: WireError) {
    super(error.message);
  }
}

/** A fresh random id in Ably's style (URL-safe base64). */
export function randomId(bytes = 9): string {
  return randomBytes(bytes).toString('base64url');
}

/** State shared by the realtime and REST sides: channels (kept across restarts) and tokens. */
export class EmulatorState {
  readonly channels = new Map<string, ChannelState>();
  readonly tokens = new Map<string, Token>();
  /** The memory bound of all histories together. */
  readonly budget: HistoryBudget;

  constructor(readonly options: ResolvedOptions) {
    this.budget = new HistoryBudget(options.historyMemoryBytes);
  }

  channel(name: string): ChannelState {
    if (typeof name !== 'string' || name.length === 0 || name.length > 2048 || name.startsWith('[') || /[\u0000-\u001f*]/.test(name)) {
      throw new AblyError(wireError(40010, 400, `Invalid channel name ${JSON.stringify(name)}`));
    }
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new ChannelState(name, this.options, this.budget);
      this.channels.set(name, channel);
    }
    return channel;
  }

  /** Checks `keyName:secret`. */
  authKey(key: string): Identity {
    const cut = key.indexOf(':');
    const keyName = cut > 0 ? key.slice(0, cut) : key;
    const secret = this.options.keys[keyName];
    if (secret === undefined) throw new AblyError(wireError(40400, 404, `No key ${JSON.stringify(keyName)} (invalid key name)`));
    if (key.slice(cut + 1) !== secret) throw new AblyError(wireError(40101, 401, 'Invalid credentials (wrong key secret)'));
    return { keyName };
  }

  /** Checks a token (raw or base64, as the SDK sends it in a Bearer header). */
  authToken(token: string): Identity {
    let found = this.tokens.get(token);
    if (!found) {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      found = this.tokens.get(decoded);
    }
    if (!found) throw new AblyError(wireError(40140, 401, 'Token not recognised'));
    if (found.expires <= Date.now()) throw new AblyError(wireError(40142, 401, 'Token expired'));
    return found.clientId === undefined ? { keyName: found.keyName } : { keyName: found.keyName, clientId: found.clientId };
  }
}
