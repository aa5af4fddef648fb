import { infraLauncher, type RunningInfra } from '@durable-sessions/conformance/infra';

/** Starts a launcher of the conformance package by name (`nats`, `nats-cluster`). */
export async function startInfra<T extends RunningInfra = RunningInfra>(name: string): Promise<T> {
  const launcher = await infraLauncher(name);
  if (!launcher) throw new Error(`no launcher ${name}`);
  return (await launcher.start()) as T;
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The extra fields of the `nats` launcher's instance (see conformance/src/infra/nats.ts). */
export interface RunningNats extends RunningInfra {
  readonly serverPort: number;
  readonly monitorUrl: string;
}

/** The extra fields of the `nats-cluster` launcher's instance. */
export interface RunningNatsCluster extends RunningInfra {
  readonly nodeUrls: readonly string[];
  leaderOf(stream: string): Promise<number>;
  killNode(index: number): Promise<void>;
  startNode(index: number): Promise<void>;
}
