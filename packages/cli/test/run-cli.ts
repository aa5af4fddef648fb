import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built binary: tests exercise exactly what `npx durable-sessions` runs. */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** What a finished CLI run printed, and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=durable-sessions)`);
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** Starts the CLI with `args`; the caller reads its streams and waits for its exit. */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * Stops CLI processes a failed test left running (except the `keep` fixtures): SIGINT first (so `infra` still stops its servers and removes
 * its folder), SIGKILL for whatever has not exited within `graceMs`.
 */
export async function stopStrays(keep: readonly ChildProcessWithoutNullStreams[] = [], graceMs = 10_000): Promise<void> {
  await Promise.all(
    [...running].filter((child) => !keep.includes(child)).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGINT');
        }),
    ),
  );
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = startCli(args, env);
  child.stdin.end();
  return finished(child);
}

/** Collects a started CLI's output until it exits. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves with the child's stdout lines once `done(lines)` holds; rejects if it exits first. */
export function stdoutUntil(child: ChildProcessWithoutNullStreams, done: (lines: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const lines: string[] = [];
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      if (done(lines)) {
        child.stdout.off('data', onData);
        child.off('close', onClose);
        resolve(lines);
      }
    };
    const onClose = (code: number | null) => reject(new Error(`CLI exited (${code}) first; stdout: ${lines.join('\n')}\nstderr: ${stderr}`));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.on('data', onData);
    child.once('close', onClose);
  });
}

/** Lines of a text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1);
}
