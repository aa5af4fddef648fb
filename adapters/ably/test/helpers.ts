import { infraLauncher, type InfraStartOptions, type RunningInfra } from '@durable-sessions/conformance/infra';
import type { AblyEmulator, AblyEmulatorOptions } from '../../../conformance/src/infra/ably/emulator.js';

/** The launcher's result with the emulator-specific fault controls. */
export interface RunningAbly extends RunningInfra {
  restart(): Promise<void>;
  dropConnections(): Promise<void>;
  refuseResumes(on: boolean): void;
  loseContinuity(): Promise<void>;
  emulator: AblyEmulator;
}

/** Starts the project's Ably emulator through its launcher (as `durable-sessions infra ably` does), with `options`. */
export async function startEmulator(options: AblyEmulatorOptions = {}): Promise<RunningAbly> {
  const launcher = await infraLauncher('ably');
  if (!launcher) throw new Error('no ably launcher registered');
  // The ably launcher passes emulator options through its start options.
  return (await launcher.start(options as InfraStartOptions)) as RunningAbly;
}

/** Resolves when `check` returns true, polling; rejects after `timeoutMs` naming `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
