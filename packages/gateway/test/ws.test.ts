/**
 * The WebSocket endpoint end to end (auth off): several sessions per socket, resume after a cut with nothing lost
 * or repeated, late joiners, presence bound to the connection, control, back-pressure, two gateways over one
 * backend, and hostile or malformed frames.
 */
import { connect, type SessionStore } from '@durable-sessions/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { TestSocket, waitFor } from './helpers.js';

let store: SessionStore;
let gateway: RunningGateway;
const sockets: TestSocket[] = [];
let counter = 0;
const sid = (name: string) => `ws-${name}-${process.pid}-${++counter}`;

async function open(query: Record<string, string> = {}, on = gateway): Promise<TestSocket> {
  const socket = await TestSocket.open(on.url, query);
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  store = await connect('memory:', { clientId: 'gw', presence: { timeoutMs: 600, heartbeatMs: 150, pollMs: 50 } });
  gateway = await startGateway({ store, auth: false, limits: { maxSubscriptions: 5, framesPerSecond: 1_000, maxFrameBytes: 64 * 1024, socketHighWaterBytes: 16 * 1024 } });
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close().catch(() => {})));
  await gateway.close();
  await store.close();
});

describe('WebSocket sessions', () => {
  it('says hello with a connection id and the limits', async () => {
    const socket = await open({ connectionId: 'tab-1' });
    const hello = socket.frames[0]!;
    expect(hello).toMatchObject({ op: 'hello', protocol: 1, connectionId: 'tab-1', auth: null });
    expect(hello.limits).toMatchObject({ maxSubscriptions: 5 });
  });

  it('subscribes to several sessions on one socket, appends, and completes after the end', async () => {
    const [a, b] = [sid('a'), sid('b')];
    const socket = await open();
    expect(await socket.request({ op: 'subscribe', sub: 'A', session: a, from: 'start' })).toMatchObject({ op: 'ok', sub: 'A' });
    expect(await socket.request({ op: 'subscribe', sub: 'B', session: b, from: 'start' })).toMatchObject({ op: 'ok', sub: 'B' });
    const appended = await socket.request({ op: 'append', session: a, events: [{ type: 'token', data: 'He' }, { type: 'token', data: 'llo' }] });
    expect(appended.op).toBe('ok');
    expect((appended.offsets as string[]).length).toBe(2);
    expect(await socket.request({ op: 'append', session: b, event: { type: 'blob', data: 'AAEC', encoding: 'base64' } })).toMatchObject({ op: 'ok' });
    await socket.request({ op: 'end', session: a, reason: 'complete' });
    await socket.next((f) => f.op === 'complete' && f.sub === 'A');
    expect(socket.events('A').map((e) => e.type)).toEqual(['token', 'token', '$end']);
    expect(socket.events('A').map((e) => e.offset).slice(0, 2)).toEqual(appended.offsets);
    await waitFor(() => socket.events('B').length === 1);
    expect(socket.events('B')[0]).toMatchObject({ type: 'blob', data: 'AAEC', encoding: 'base64' });
    const info = await socket.request({ op: 'info', session: a });
    expect(info.info).toMatchObject({ ended: true });
  });

  it('resumes after a cut socket from the last offset with nothing lost or repeated', async () => {
    const id = sid('cut');
    const producer = store.session(id);
    const writer = producer.writer({ lingerMs: 1 });
    const produce = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        void writer.write({ type: 'n', data: i });
        if (i % 20 === 0) await new Promise((r) => setImmediate(r));
      }
      await writer.flush();
    };
    const first = await open();
    await first.request({ op: 'subscribe', sub: 's', session: id, from: 'start' });
    const firstHalf = produce(0, 200);
    await waitFor(() => first.events('s').length >= 50, 20_000, '50 events');
    // Cut mid-stream: the producer is still writing, the rest of the session is written after the cut.
    await first.cut();
    await firstHalf;
    const seen = first.events('s');
    const last = seen[seen.length - 1]!.offset;
    const secondHalf = produce(200, 400).then(() => producer.end());
    const second = await open();
    await second.request({ op: 'subscribe', sub: 's', session: id, from: last });
    await secondHalf;
    await second.next((f) => f.op === 'complete', 30_000);
    expect(seen.length).toBeLessThan(401);
    const all = [...seen, ...second.events('s')].filter((e) => e.type === 'n').map((e) => e.data);
    expect(all).toEqual(Array.from({ length: 400 }, (_, i) => i));
    await producer.close();
  }, 60_000);

  it('completes a subscription resumed from the $end offset at once', async () => {
    const id = sid('resume-end');
    const s = store.session(id);
    await s.append({ type: 'n', data: 1 });
    const end = await s.end();
    const socket = await open();
    await socket.request({ op: 'subscribe', sub: 'e', session: id, from: end });
    await socket.next((f) => f.op === 'complete' && f.sub === 'e');
    expect(socket.events('e')).toEqual([]);
    await s.close();
  });

  it('gives a late client the whole session', async () => {
    const id = sid('late');
    const s = store.session(id);
    await s.append(Array.from({ length: 600 }, (_, i) => ({ type: 'n', data: i })));
    await s.append(Array.from({ length: 600 }, (_, i) => ({ type: 'n', data: 600 + i })));
    await s.end();
    const socket = await open();
    await socket.request({ op: 'subscribe', sub: 'late', session: id, from: 'start' });
    await socket.next((f) => f.op === 'complete', 30_000);
    const events = socket.events('late');
    expect(events.length).toBe(1_201);
    expect(events.slice(0, -1).map((e) => e.data)).toEqual(Array.from({ length: 1_200 }, (_, i) => i));
    await s.close();
  });

  it('delivers everything, in order, to a client that stops reading for a while (back-pressure)', async () => {
    const own = await connect('memory:');
    const slowGateway = await startGateway({ store: own, auth: false, limits: { socketHighWaterBytes: 64 * 1024 } });
    try {
      const id = sid('slow');
      const socket = await TestSocket.open(slowGateway.url);
      await socket.request({ op: 'subscribe', sub: 'slow', session: id, from: 'start' });
      const raw = (socket.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      raw.pause();
      const s = own.session(id);
      const payload = 'x'.repeat(10_000);
      for (let i = 0; i < 30; i++) await s.append(Array.from({ length: 100 }, (_, j) => ({ type: 'n', data: { i: i * 100 + j, payload } })));
      await s.end();
      // The client reads nothing while 30 MB wait: the gateway stops pulling, so the core pauses the subscription
      // (its live tail is released) instead of queueing everything in memory.
      await waitFor(() => own.stats().tails === 0 && own.stats().subscriptions === 1, 10_000, 'the paused subscription to release its tail');
      raw.resume();
      await socket.next((f) => f.op === 'complete' && f.sub === 'slow', 30_000);
      const numbers = socket.events('slow').filter((e) => e.type === 'n').map((e) => (e.data as { i: number }).i);
      expect(numbers).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
      await socket.close();
      await s.close();
    } finally {
      await slowGateway.close();
      await own.close();
    }
  }, 60_000);

  it('sends control messages and lets an agent acknowledge them', async () => {
    const id = sid('control');
    const client = await open();
    const agent = await open();
    await agent.request({ op: 'subscribe', sub: 'ctl', session: id, from: 'start', log: 'control' });
    await client.request({ op: 'subscribe', sub: 'ev', session: id, from: 'start' });
    const sent = await client.request({ op: 'control', session: id, message: { type: 'cancel', data: { why: 'user' } } });
    expect(sent.op).toBe('ok');
    await waitFor(() => agent.events('ctl').length === 1);
    expect(agent.events('ctl')[0]).toMatchObject({ type: 'cancel', offset: sent.offset });
    await agent.request({ op: 'ack', session: id, control: sent.offset, data: 'stopped' });
    await waitFor(() => client.events('ev').some((e) => e.type === '$ack'));
  });

  it('binds presence to the connection: a closed socket leaves only after the timeout, a reconnect in time never leaves', async () => {
    const id = sid('presence');
    const watcher = await open();
    await watcher.request({ op: 'presence.subscribe', sub: 'p', session: id });
    const member = await open({ connectionId: 'tab-p1' });
    await member.request({ op: 'presence.enter', session: id, data: { name: 'ada' } });
    await watcher.next((f) => f.op === 'presence' && f.action === 'enter');
    const handlesBefore = store.stats().handles;
    await member.close();
    await waitFor(() => store.stats().handles < handlesBefore, 5_000, 'the gateway to drop the socket');
    const listed = await watcher.request({ op: 'presence.members', session: id });
    expect((listed.members as Array<{ connectionId: string }>).map((m) => m.connectionId)).toContain('tab-p1');
    const back = await open({ connectionId: 'tab-p1' });
    await back.request({ op: 'presence.enter', session: id, data: { name: 'ada' } });
    const gone = await open({ connectionId: 'tab-p2' });
    await gone.request({ op: 'presence.enter', session: id, data: { name: 'bob' } });
    await watcher.next((f) => f.op === 'presence' && f.action === 'enter' && (f.member as { connectionId: string }).connectionId === 'tab-p2');
    await gone.cut();
    const leave = await watcher.next((f) => f.op === 'presence' && f.action === 'leave', 5_000);
    expect(leave).toMatchObject({ reason: 'timeout', member: { connectionId: 'tab-p2' } });
    expect(watcher.frames.some((f) => f.op === 'presence' && f.action === 'leave' && (f.member as { connectionId: string }).connectionId === 'tab-p1')).toBe(false);
    await back.request({ op: 'presence.leave', session: id });
    await watcher.next((f) => f.op === 'presence' && f.action === 'leave' && f.reason === 'left');
  });

  it('refuses a bad offset in subscribe with INVALID_OFFSET', async () => {
    const socket = await open();
    const reply = await socket.request({ op: 'subscribe', sub: 'x', session: sid('bad-offset'), from: 'nope' });
    expect(reply).toMatchObject({ op: 'error', code: 'INVALID_OFFSET' });
  });
});

describe('WebSocket limits and hostile input', () => {
  it('refuses malformed frames with INVALID_FRAME and keeps serving', async () => {
    const socket = await open();
    socket.raw('not json');
    socket.raw('[1,2]');
    socket.raw(Buffer.from([1, 2, 3]), true);
    socket.raw(JSON.stringify({ op: 'nope', id: 'u' }));
    socket.raw(JSON.stringify({ op: 'append', id: 'm', session: 'x' }));
    socket.raw(JSON.stringify({ op: 'ping', id: { evil: true } }));
    await waitFor(() => socket.frames.filter((f) => f.op === 'error').length === 6);
    expect(socket.frames.filter((f) => f.op === 'error').map((f) => f.code)).toEqual(['INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME']);
    expect(await socket.request({ op: 'ping' })).toMatchObject({ op: 'pong' });
  });

  it('refuses hostile session ids with INVALID_SESSION_ID', async () => {
    const socket = await open();
    for (const session of ['', 'a\u0000b', 'line\nbreak', '~ds/meta/x', 'x'.repeat(300), '\ud800', 42, null]) {
      const reply = await socket.request({ op: 'append', session, event: { type: 't' } });
      expect(reply, JSON.stringify(session)).toMatchObject({ op: 'error', code: 'INVALID_SESSION_ID' });
    }
    const reserved = await socket.request({ op: 'append', session: 'ok', event: { type: '$end' } });
    expect(reserved).toMatchObject({ op: 'error', code: 'INVALID_EVENT' });
  });

  it('closes the socket with 1009 on an oversized frame, and the gateway keeps serving', async () => {
    const socket = await open();
    socket.raw(JSON.stringify({ op: 'append', session: 'big', event: { type: 't', data: 'x'.repeat(100 * 1024) } }));
    await waitFor(() => socket.closeCode !== undefined);
    expect(socket.closeCode).toBe(1009);
    const other = await open();
    expect(await other.request({ op: 'ping' })).toMatchObject({ op: 'pong' });
  });

  it('caps subscriptions per socket with LIMIT_EXCEEDED', async () => {
    const socket = await open();
    const id = sid('cap');
    for (let i = 0; i < 5; i++) expect(await socket.request({ op: 'subscribe', sub: `s${i}`, session: id, from: 'now' })).toMatchObject({ op: 'ok' });
    expect(await socket.request({ op: 'subscribe', sub: 's5', session: id, from: 'now' })).toMatchObject({ op: 'error', code: 'LIMIT_EXCEEDED' });
    expect(await socket.request({ op: 'subscribe', sub: 's0', session: id, from: 'now' })).toMatchObject({ op: 'error', code: 'INVALID_ARGUMENT' });
    await socket.request({ op: 'unsubscribe', sub: 's0' });
    expect(await socket.request({ op: 'subscribe', sub: 's0', session: id, from: 'now' })).toMatchObject({ op: 'ok' });
  });

  it('rate-limits frames with RATE_LIMITED and a retry delay', async () => {
    const limited = await startGateway({ store, auth: false, limits: { framesPerSecond: 5 } });
    try {
      const socket = await TestSocket.open(limited.url);
      for (let i = 0; i < 30; i++) socket.raw(JSON.stringify({ op: 'ping', id: i }));
      const error = await socket.next((f) => f.op === 'error');
      expect(error.code).toBe('RATE_LIMITED');
      expect((error.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      await socket.close();
    } finally {
      await limited.close();
    }
  });
});

describe('two gateways over one backend', () => {
  it('append through one, receive through the other, reconnect to the other and resume', async () => {
    const [g1, g2] = await Promise.all([
      startGateway({ store: 'memory://gateway-shared', auth: false }),
      startGateway({ store: 'memory://gateway-shared', auth: false }),
    ]);
    try {
      const id = sid('two');
      const reader = await TestSocket.open(g2.url);
      const writer = await TestSocket.open(g1.url);
      await reader.request({ op: 'subscribe', sub: 'r', session: id, from: 'start' });
      for (let i = 0; i < 10; i++) await writer.request({ op: 'append', session: id, event: { type: 'n', data: i } });
      await waitFor(() => reader.events('r').length === 10);
      const last = reader.events('r')[9]!.offset;
      await reader.cut();
      for (let i = 10; i < 20; i++) await writer.request({ op: 'append', session: id, event: { type: 'n', data: i } });
      await writer.request({ op: 'end', session: id });
      const resumed = await TestSocket.open(g1.url);
      await resumed.request({ op: 'subscribe', sub: 'r', session: id, from: last });
      await resumed.next((f) => f.op === 'complete');
      const numbers = [...reader.events('r'), ...resumed.events('r')].filter((e) => e.type === 'n').map((e) => e.data);
      expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await Promise.all([writer.close(), resumed.close()]);
    } finally {
      await Promise.all([g1.close(), g2.close()]);
    }
  });
});
