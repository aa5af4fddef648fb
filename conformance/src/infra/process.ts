import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder for one launcher, removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `durable-sessions-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Options for {@link startProcess}. */
export interface ProcessSpec {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Resolves the start once a line of stdout/stderr matches. */
  readyLine?: RegExp;
  /** Or once this TCP port accepts connections. */
  readyPort?: number;
  /** How long to wait for readiness. @default 30000 */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** A child server process. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** SIGKILL (a crash, as the fault tests want) or SIGTERM, and wait for exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Running servers and their watchdogs. */
const live = new Map<ChildProcess, ChildProcess | undefined>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Servers must never outlive the process that started them (a test runner that crashes, an interrupted CLI).
  // This hook covers a normal exit; the watchdogs cover the deaths that run no hook (SIGKILL, a V8 abort).
  process.on('exit', () => {
    for (const [child, watchdog] of live) {
      signalGroup(watchdog, 'SIGKILL');
      signalGroup(child, 'SIGKILL');
    }
  });
}

/**
 * Signals a child's whole process group (servers and watchdogs are started as group leaders, so whatever they
 * spawned goes too), falling back to the child alone. Never throws.
 */
function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * The parent-death watchdog of a server: a detached `sh` whose stdin is a pipe only this process holds. However
 * this process dies, SIGKILL included, the kernel closes that pipe; `cat` then reads EOF and the shell kills the
 * server's process group. Nothing polls, and no hook in this process has to run. On a normal stop this process
 * kills the watchdog first, so it never signals a pid that may have been reused.
 */
function startWatchdog(server: ChildProcess): ChildProcess | undefined {
  if (process.platform === 'win32' || server.pid === undefined) return undefined;
  const script = 'cat >/dev/null; kill -9 -"$1" 2>/dev/null || kill -9 "$1" 2>/dev/null';
  const watchdog = spawn('/bin/sh', ['-c', script, 'durable-sessions-watchdog', String(server.pid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.once('error', () => {});
  watchdog.stdin!.on('error', () => {});
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return watchdog;
}

/** Starts a server process and waits until it is ready; rejects (killing it) if it exits or times out first. */
export function startProcess(spec: ProcessSpec): Promise<ServerProcess> {
  installExitHook();
  return new Promise((resolve, reject) => {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the watchdog and kill() reach everything the server spawns, and a Ctrl-C meant for
      // the launching process does not kill the server behind the launcher's back.
      detached: process.platform !== 'win32',
    });
    const watchdog = startWatchdog(child);
    live.set(child, watchdog);
    const recent: string[] = [];
    let ready = false;
    let buffer = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('exit', () => {
      live.delete(child);
      signalGroup(watchdog, 'SIGKILL');
    });
    const handle: ServerProcess = {
      child,
      async kill(signal = 'SIGKILL') {
        if (child.exitCode !== null || child.signalCode !== null) return;
        signalGroup(child, signal);
        await exited;
      },
    };
    const timer = setTimeout(() => fail(new Error(`${spec.command} was not ready within ${spec.timeoutMs ?? 30_000} ms`)), spec.timeoutMs ?? 30_000);
    const succeed = () => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      resolve(handle);
    };
    const fail = (err: Error) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      signalGroup(child, 'SIGKILL');
      err.message += recent.length ? `\n--- last output ---\n${recent.join('\n')}` : '';
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        recent.push(line);
        if (recent.length > 40) recent.shift();
        spec.log?.(line);
        if (!ready && spec.readyLine?.test(line)) succeed();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => fail(err));
    child.once('exit', (code, signal) => fail(new Error(`${spec.command} exited (${signal ?? code}) before it was ready`)));
    if (spec.readyPort !== undefined) {
      void waitForPort(spec.readyPort, spec.timeoutMs ?? 30_000).then(succeed, () => {});
    }
  });
}

/** Resolves once `port` on 127.0.0.1 accepts a TCP connection. */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
