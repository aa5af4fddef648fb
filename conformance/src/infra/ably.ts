import { AblyEmulator, type AblyEmulatorOptions } from './ably/emulator.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';

export { AblyEmulator } from './ably/emulator.js';
export type { AblyEmulatorOptions } from './ably/emulator.js';

/** The running emulator, with the fault controls beyond {@link RunningInfra}. */
export interface RunningAbly extends RunningInfra {
  restart(): Promise<void>;
  dropConnections(): Promise<void>;
  /** While on, resumes fail: new connection id, channels attach without RESUMED (continuity lost). */
  refuseResumes(on: boolean): void;
  /** Drops every socket and forgets all connection state once, so every client loses continuity. */
  loseContinuity(): Promise<void>;
  /** The emulator itself, for tests that need more. */
  emulator: AblyEmulator;
}

/**
 * Starts the Ably emulator in this process (the CLI keeps it in the foreground). Limits not given as options are
 * read from `ABLY_EMULATOR_MAX_MESSAGE_SIZE` (bytes), `ABLY_EMULATOR_HISTORY_TTL_MS` and
 * `ABLY_EMULATOR_HISTORY_MEMORY_BYTES`, so the CLI can set them.
 */
export async function startAbly(options: InfraStartOptions & AblyEmulatorOptions = {}): Promise<RunningAbly> {
  const env = (name: string): number | undefined => {
    const value = Number(process.env[name]);
    return Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const maxMessageSize = options.maxMessageSize ?? env('ABLY_EMULATOR_MAX_MESSAGE_SIZE');
  const historyTtlMs = options.historyTtlMs ?? env('ABLY_EMULATOR_HISTORY_TTL_MS');
  const historyMemoryBytes = options.historyMemoryBytes ?? env('ABLY_EMULATOR_HISTORY_MEMORY_BYTES');
  const emulator = await AblyEmulator.start({
    ...options,
    ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
    ...(historyTtlMs !== undefined ? { historyTtlMs } : {}),
    ...(historyMemoryBytes !== undefined ? { historyMemoryBytes } : {}),
  });
  const [keyName, secret] = emulator.key.split(/:(.*)/s) as [string, string];
  const url = `ably://${keyName}:${encodeURIComponent(secret)}@127.0.0.1:${emulator.port}?tls=false`;
  options.log?.(`ably emulator listening on 127.0.0.1:${emulator.port}`);
  return {
    url,
    info: { ABLY_EMULATOR_PORT: String(emulator.port), ABLY_EMULATOR_KEY: emulator.key },
    stop: () => emulator.stop(),
    restart: () => emulator.restart(),
    dropConnections: () => emulator.dropConnections(),
    refuseResumes: (on) => emulator.refuseResumes(on),
    loseContinuity: () => emulator.loseContinuity(),
    emulator,
  };
}

/** The `ably` launcher: a local protocol-faithful emulator (Ably itself cannot be self-hosted). */
export const launcher: InfraLauncher = {
  name: 'ably',
  description: 'Ably emulator (realtime WebSocket + REST on one loopback port; emulator, not real Ably)',
  start: (options) => startAbly(options),
};
