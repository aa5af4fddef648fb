/**
 * Two gateway PROCESSES (started with `runServeCommand`, as `durable-sessions serve` does) over one real backend
 * (redis-server, nats-server) started by the project's launcher: append through one, receive through the other, reconnect to
 * the other and resume with nothing lost or repeated. Needs the built gateway and adapters (dist).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { infraLauncher, type RunningInfra } from '@durable-sessions/conformance/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket } from './helpers.js';

const infras: RunningInfra[] = [];
const children: ChildProcess[] = [];

/** Starts `serve <url> --no-auth` in a child process and resolves with the URL it prints first. */
function serve(backend: string): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', "const m = await import('@durable-sessions/gateway'); await m.runServeCommand(process.argv.slice(1));", '--', backend, '--no-auth'], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => (line.startsWith('URL=') ? resolve(line.slice(4)) : reject(new Error(`first line was ${line}`))));
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  await Promise.all(infras.map((i) => i.stop()));
});

describe.each(['redis', 'nats'])('two gateway processes over one %s backend', (backend) => {
  let infra: RunningInfra;
  beforeAll(async () => {
    infra = await (await infraLauncher(backend))!.start();
    infras.push(infra);
  }, 60_000);

  it('serve the same session: append through one, receive through the other, reconnect to the other and resume', async () => {
    const [one, two] = await Promise.all([serve(infra.url), serve(infra.url)]);
    expect(one).not.toBe(two);
    const id = `two-${backend}-${process.pid}`;
    const reader = await TestSocket.open(two);
    const writer = await TestSocket.open(one);
    await reader.request({ op: 'subscribe', sub: 'r', session: id, from: 'start' });
    for (let i = 0; i < 20; i++) expect(await writer.request({ op: 'append', session: id, event: { type: 'n', data: i } })).toMatchObject({ op: 'ok' });
    await reader.next(() => reader.events('r').length === 20, 10_000);
    const last = reader.events('r')[19]!.offset;
    await reader.cut();
    for (let i = 20; i < 40; i++) await writer.request({ op: 'append', session: id, event: { type: 'n', data: i } });
    await writer.request({ op: 'end', session: id });
    const resumed = await TestSocket.open(one);
    await resumed.request({ op: 'subscribe', sub: 'r', session: id, from: last });
    await resumed.next((f) => f.op === 'complete', 10_000);
    const numbers = [...reader.events('r'), ...resumed.events('r')].filter((e) => e.type === 'n').map((e) => e.data);
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // The Durable Streams view of the same backend works through either gateway.
    const put = await fetch(`${one}/v1/stream/ds-${id}`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
    expect(put.status).toBe(201);
    const read = await fetch(`${two}/v1/stream/ds-${id}?offset=-1`);
    expect(await read.text()).toBe('hello');
    await Promise.all([writer.close(), resumed.close()]);
  }, 60_000);
});
