import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { infraNames } from '@durable-sessions/conformance/infra';
import { afterAll, describe, expect, it } from 'vitest';
import { finished, lines, runCli, startCli, stdoutUntil, stopStrays } from './run-cli.js';

/** Whether something accepts TCP connections on a loopback port right now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('durable-sessions infra', () => {
  afterAll(() => stopStrays());

  it('--list prints every registered launcher', async () => {
    const result = await runCli(['infra', '--list']);
    expect(result.code).toBe(0);
    expect(lines(result.stdout).map((line) => line.split('\t')[0])).toEqual(infraNames());
  });

  it('an unknown name exits 2 and lists the available launchers', async () => {
    const result = await runCli(['infra', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown launcher "nope"');
    for (const name of infraNames()) expect(result.stderr).toContain(name);
  });

  it.skipIf(!infraNames().includes('redis'))('runs redis in the foreground: URL first, then stops everything on SIGINT with exit 0', async () => {
    const child = startCli(['infra', 'redis']);
    const exit = finished(child);
    const out = await stdoutUntil(child, (l) => l.length >= 1);
    expect(out[0]).toMatch(/^URL=redis:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(/:(\d+)$/.exec(out[0]!)![1]);
    expect(await listening(port)).toBe(true);
    child.kill('SIGINT');
    const result = await exit;
    expect(result.code).toBe(0);
    // KEY=value facts follow the URL; folders among them must be gone afterwards.
    expect(lines(result.stdout)[0]).toBe(out[0]);
    const facts = lines(result.stdout).filter((l) => /^[A-Z_]+=/.test(l));
    for (const dir of facts.filter((l) => /_DIR=/.test(l)).map((l) => l.slice(l.indexOf('=') + 1))) expect(existsSync(dir), dir).toBe(false);
    expect(await listening(port)).toBe(false);
    expect(result.stderr).toContain('redis stopped');
  });
});
