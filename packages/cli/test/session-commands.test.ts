import { infraNames } from '@durable-sessions/conformance/infra';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tailSession } from '../src/commands/tail.js';
import { connect } from '../src/index.js';
import type { CliContext } from '../src/output.js';
import { finished, lines, runCli, startCli, stdoutUntil, stopStrays } from './run-cli.js';

/** A context that records what a command prints. */
function recorder(): CliContext & { lines: string[] } {
  const out: string[] = [];
  return { lines: out, out: (line) => out.push(line), err: () => {}, onInterrupt: () => () => {} };
}

describe('tail (in-process, memory://)', () => {
  it('prints history and live events as JSON lines and stops after $end', async () => {
    // memory:// data lives in one process, so the events are appended here through the package's own export.
    const store = await connect('memory://cli-tail-test');
    try {
      const session = store.session('chat/1');
      const first = await session.append({ type: 'token', data: { text: 'hel' } });
      const ctx = recorder();
      const tail = tailSession(store, { session: 'chat/1' }, ctx);
      await session.append({ type: 'token', data: new Uint8Array([1, 2, 255]) });
      await session.end({ reason: 'complete' });
      expect(await tail).toBe(3);
      const events = ctx.lines.map((l) => JSON.parse(l) as { offset: string; type: string; data: unknown; sessionId: string });
      expect(events.map((e) => e.type)).toEqual(['token', 'token', '$end']);
      expect(events[0]!.offset).toBe(first);
      expect(events[0]!.sessionId).toBe('chat/1');
      expect(events[1]!.data).toEqual({ $base64: Buffer.from([1, 2, 255]).toString('base64') });
      expect(events[2]!.data).toEqual({ reason: 'complete' });
    } finally {
      await store.close();
    }
  });

  it('starts after an offset with from, and stops on abort (Ctrl-C)', async () => {
    const store = await connect('memory://cli-tail-test-2');
    try {
      const session = store.session('s');
      const [a] = await session.append([{ type: 'a' }, { type: 'b' }]);
      const ctx = recorder();
      const ac = new AbortController();
      const tail = tailSession(store, { session: 's', from: a!, signal: ac.signal }, ctx);
      await expect.poll(() => ctx.lines.length).toBe(1);
      ac.abort();
      expect(await tail).toBe(1);
      expect(JSON.parse(ctx.lines[0]!).type).toBe('b');
      expect(store.stats().subscriptions).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('append, end and tail through the binary', () => {
  it('rejects data that is not JSON with exit code 2', async () => {
    const result = await runCli(['append', 's', '{nope', '--url', 'memory:']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('INVALID_EVENT');
  });

  it('rejects a bad URL with exit code 2 and CONFIG_INVALID', async () => {
    for (const args of [['append', 's', '1', '--url', 'nosuch://host'], ['tail', 's', '--url', 'foo://bar'], ['end', 's', '--url', 'memory:x']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('CONFIG_INVALID');
    }
  });

  it('uses $DURABLE_SESSIONS_URL when --url is absent', async () => {
    const result = await runCli(['append', 's', '1'], { DURABLE_SESSIONS_URL: 'nosuch://x' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nosuch');
  });

  it('prints the offset of an appended event (memory:, inside that one process)', async () => {
    const result = await runCli(['append', 'chat', '{"text":"hi"}', '--type', 'token', '--url', 'memory:']);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toHaveLength(1);
    expect(result.stdout.trim()).toMatch(/^\S+$/);
  });
});

// memory: cannot be shared between processes, so the cross-process round trip runs against a real redis-server
// started by the CLI's own `infra redis`.
describe.skipIf(!infraNames().includes('redis'))('append → tail round trip across processes (real redis via infra)', () => {
  let infra: ReturnType<typeof startCli>;
  let infraExit: ReturnType<typeof finished>;
  let url = '';

  beforeAll(async () => {
    infra = startCli(['infra', 'redis']);
    infraExit = finished(infra);
    const out = await stdoutUntil(infra, (l) => l.length >= 1);
    url = out[0]!.replace(/^URL=/, '');
  });

  afterAll(async () => {
    if (!infra) return;
    infra.kill('SIGINT');
    expect((await infraExit).code).toBe(0);
  });

  // A test that failed half-way must not leave its tail running; the redis server stays for the next test.
  afterEach(() => stopStrays([infra]));

  it('tail prints what append and end wrote, then exits 0', async () => {
    const session = `cli-${Date.now().toString(36)}`;
    const appended = await runCli(['append', session, '{"text":"hello"}', '--type', 'token', '--url', url]);
    expect(appended.code).toBe(0);
    const ended = await runCli(['end', session, '--reason', 'complete', '--url', url]);
    expect(ended.code).toBe(0);
    const tail = await runCli(['tail', session, '--url', url]);
    expect(tail.code).toBe(0);
    const events = lines(tail.stdout).map((l) => JSON.parse(l) as { offset: string; type: string; data: unknown });
    expect(events).toMatchObject([
      { offset: appended.stdout.trim(), type: 'token', data: { text: 'hello' } },
      { offset: ended.stdout.trim(), type: '$end', data: { reason: 'complete' } },
    ]);
  });

  it('a running tail receives live events and stops on SIGINT with exit 0', async () => {
    const session = `cli-live-${Date.now().toString(36)}`;
    // From the start of a fresh session, so nothing appended after the tail starts can be missed.
    const tail = startCli(['tail', session, '--url', url]);
    const exit = finished(tail);
    const first = stdoutUntil(tail, (l) => l.length >= 1);
    const appended = await runCli(['append', session, '42', '--url', url]);
    const got = await first;
    expect(JSON.parse(got[0]!)).toMatchObject({ offset: appended.stdout.trim(), data: 42, type: 'message' });
    tail.kill('SIGINT');
    expect((await exit).code).toBe(0);
  });
});
