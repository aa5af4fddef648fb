import { infraLauncher, type RunningInfra } from '@durable-sessions/conformance/infra';

/** Starts a launcher of the conformance package by name (`redis`, `upstash`). */
export async function startInfra(name: string): Promise<RunningInfra> {
  const launcher = await infraLauncher(name);
  if (!launcher) throw new Error(`no launcher ${name}: build @durable-sessions/conformance`);
  return launcher.start();
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fresh session id per test, so tests never share data. */
export function uniqueId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
