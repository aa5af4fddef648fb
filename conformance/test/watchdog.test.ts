/**
 * Servers started by the launchers must die with the process that launched them, even when that process is
 * SIGKILLed (a vitest worker killed on timeout runs no exit hook). A child node process starts a real server
 * through a launcher and reports the server processes it spawned; the test SIGKILLs the child and waits until those
 * servers are gone and their port refuses connections. Runs the built launchers (`npx tsup` in conformance).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../dist/infra.js', import.meta.url));

/** The child: starts launcher `argv[2]`, prints its URL and the pids of the processes it spawned, then idles. */
const CHILD = `
import { readdirSync, readFileSync } from 'node:fs';
const { infraLauncher } = await import(process.argv[1]);
const running = await (await infraLauncher(process.argv[2])).start();
const children = [];
for (const entry of readdirSync('/proc')) {
  if (!/^\\d+$/.test(entry)) continue;
  try {
    const stat = readFileSync('/proc/' + entry + '/stat', 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmd = readFileSync('/proc/' + entry + '/cmdline', 'utf8').split('\\0').filter(Boolean);
    if (ppid === process.pid) children.push({ pid: Number(entry), cmd });
  } catch {}
}
process.stdout.write(JSON.stringify({ url: running.url, children }) + '\\n');
setInterval(() => {}, 1 << 30);
`;

interface Launched {
  url: string;
  children: Array<{ pid: number; cmd: string[] }>;
}

/** Whether `pid` is a live process (a zombie waiting for its reaper counts as dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether 127.0.0.1:`port` accepts a TCP connection. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts the child for `launcher` and resolves with what it printed. */
function launchInChild(launcher: string, started: ChildProcess[]): Promise<Launched> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(DIST).href, launcher], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.indexOf('\n');
      if (line >= 0) resolve(JSON.parse(out.slice(0, line)) as Launched);
    });
    child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    child.once('exit', (code, signal) => reject(new Error(`the launching child exited (${signal ?? code}) before reporting:\n${err}`)));
  });
}

describe.skipIf(process.platform !== 'linux')('launched servers die with the process that launched them', () => {
  const started: ChildProcess[] = [];
  const servers: number[] = [];

  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // Should the watchdog have failed, the test must not leave its servers behind.
    for (const pid of servers.splice(0)) {
      try {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  });

  it.each(['redis', 'nats', 'kafka'])('%s: SIGKILL of the launching process kills the server and its watchdog', async (launcher) => {
    expect(existsSync(DIST), `${DIST} is missing: build the conformance package first (npx tsup)`).toBe(true);
    const launched = await launchInChild(launcher, started);
    // The watchdog's last argument is the pid of the server it guards.
    const watchdog = launched.children.find((c) => c.cmd.includes('durable-sessions-watchdog'));
    expect(watchdog, JSON.stringify(launched.children)).toBeDefined();
    const server = launched.children.find((c) => String(c.pid) === watchdog!.cmd[watchdog!.cmd.length - 1]);
    expect(server, JSON.stringify(launched.children)).toBeDefined();
    servers.push(server!.pid);
    // nats-server keeps its arguments; redis-server retitles itself `redis-server 127.0.0.1:<port>`; Kafka's port
    // is in its properties file, so for the JVM only the process is watched.
    const portArg = server!.cmd.findIndex((arg) => arg === '--port' || arg === '-p');
    const port = Number(portArg >= 0 ? server!.cmd[portArg + 1] : /127\.0\.0\.1:(\d+)/.exec(server!.cmd.join(' '))?.[1]);
    if (launcher !== 'kafka') {
      expect(port, server!.cmd.join(' ')).toBeGreaterThan(0);
      expect(await accepts(port)).toBe(true);
    }

    started[0]!.kill('SIGKILL');
    await waitUntil(() => !alive(server!.pid), `${launcher} server ${server!.pid} to die`);
    if (launcher !== 'kafka') await waitUntil(async () => !(await accepts(port)), `port ${port} to stop accepting connections`);
    await waitUntil(() => !alive(watchdog!.pid), `watchdog ${watchdog!.pid} to exit`);
  });

  it('a normal stop kills the server and its watchdog, leaving nothing behind', async () => {
    const { infraLauncher } = (await import(pathToFileURL(DIST).href)) as typeof import('../src/infra/index.js');
    const running = await (await infraLauncher('redis'))!.start();
    const ours = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .flatMap((entry) => {
        try {
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          return ppid === process.pid && /redis-server|durable-sessions-watchdog/.test(cmd) ? [Number(entry)] : [];
        } catch {
          return [];
        }
      });
    expect(ours.length).toBeGreaterThanOrEqual(2);
    servers.push(...ours);
    await running.stop();
    for (const pid of ours) await waitUntil(() => !alive(pid), `process ${pid} to exit`);
  });
});
