// A client whose socket is cut mid-stream resumes strictly after the last event it delivered: nothing lost,
// nothing repeated, and the state goes live → reconnecting (resuming from that offset) → live.
import type { SessionStore } from '@durable-sessions/core';
import type { RunningGateway } from '@durable-sessions/gateway';
import { lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionState, PresenceChange, SessionEvent } from '../src/index.js';
import { client, closeAll, gateway, memoryStore, proxy, recordingWebSocket, sessionId, stateWhere, token, waitFor, type Proxy } from './helpers.js';

let store: SessionStore;
let gw: RunningGateway;
let px: Proxy;

beforeAll(async () => {
  store = await memoryStore();
  gw = await gateway(store);
  px = await proxy(gw.port);
});
afterEach(closeAll);
afterAll(async () => {
  await px.close();
  await gw.close();
  await store.close();
});

/** Appends `count` events one by one from the server side (an agent), returning their offsets in order. */
async function produce(id: string, count: number, onEach?: (i: number) => Promise<void> | void): Promise<string[]> {
  const agent = store.session(id);
  const offsets: string[] = [];
  for (let i = 0; i < count; i++) {
    offsets.push(await agent.append({ type: 'token', data: `t${i}` }));
    await onEach?.(i);
  }
  await agent.close();
  return offsets;
}

describe('reconnect', () => {
  it('resumes after a network cut mid-stream with nothing lost or repeated', async () => {
    const id = sessionId('cut');
    const c = client(px.url, { token: await token(id) });
    const received: SessionEvent[] = [];
    const states: ConnectionState[] = [];
    const resumes: Array<{ resuming: unknown; lastDelivered: string | undefined }> = [];
    c.state$.subscribe((s) => {
      states.push(s);
      if (s.status === 'reconnecting') resumes.push({ resuming: s.resuming, lastDelivered: received.at(-1)?.offset });
    });
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e));
    await stateWhere(c, (s) => s.status === 'live');

    // The producer keeps going while the socket is cut, so events land before, during and after each outage.
    const written = await produce(id, 300, async (i) => {
      if (i === 80 || i === 200) {
        await waitFor(() => received.length > i - 40, 'events before the cut');
        px.cut();
      }
    });
    await waitFor(() => received.length >= written.length, 'every event');
    await stateWhere(c, (s) => s.status === 'live');
    expect(received.map((e) => e.offset)).toEqual(written);
    expect(received.map((e) => e.data)).toEqual(written.map((_, i) => `t${i}`));
    expect(resumes.length).toBeGreaterThanOrEqual(2);
    for (const r of resumes) {
      expect(r.lastDelivered).toBeDefined();
      expect(r.resuming).toEqual([{ session: id, log: 'events', from: r.lastDelivered }]);
    }
    const path = states.map((s) => s.status).filter((s, i, all) => s !== all[i - 1]);
    expect(path).toEqual(['connecting', 'live', 'reconnecting', 'live', 'reconnecting', 'live']);
  });

  it('resumes across a gateway restart on the same port, including events appended while it was down', async () => {
    const id = sessionId('restart');
    const store2 = await memoryStore();
    let gw2 = await gateway(store2);
    const port = gw2.port;
    const c = client(gw2.url, { token: await token(id) });
    const received: string[] = [];
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e.offset));
    const agent = store2.session(id);
    const written: string[] = [];
    for (let i = 0; i < 30; i++) written.push(await agent.append({ type: 'token', data: i }));
    await waitFor(() => received.length === 30, 'events before the restart');

    const reconnecting = stateWhere(c, (s) => s.status === 'reconnecting');
    await gw2.close();
    const state = await reconnecting;
    expect(state).toMatchObject({ status: 'reconnecting', resuming: [{ session: id, log: 'events', from: written[29] }] });
    for (let i = 30; i < 60; i++) written.push(await agent.append({ type: 'token', data: i }));
    gw2 = await gateway(store2, { port });
    await stateWhere(c, (s) => s.status === 'live');
    for (let i = 60; i < 90; i++) written.push(await agent.append({ type: 'token', data: i }));
    await waitFor(() => received.length >= 90, 'every event');
    expect(received).toEqual(written);
    await agent.close();
    await c.close();
    await gw2.close();
    await store2.close();
  });

  it('pins "now" to an offset, so a reconnect before the first event loses nothing', async () => {
    const id = sessionId('now');
    await produce(id, 3);
    const log = recordingWebSocket();
    const c = client(px.url, { token: await token(id), WebSocket: log.ctor });
    const received: string[] = [];
    c.session(id).subscribe({ from: 'now' }).subscribe((e) => received.push(e.offset));
    await waitFor(() => log.sent.some((f) => f.op === 'subscribe'), 'the subscribe');
    const reconnecting = stateWhere(c, (s) => s.status === 'reconnecting');
    px.cut();
    await reconnecting;
    const written = await produce(id, 5);
    await waitFor(() => received.length >= 5, 'events appended during the gap');
    expect(received).toEqual(written);
    const froms = log.sent.filter((f) => f.op === 'subscribe').map((f) => f.from);
    expect(froms.every((f) => f !== 'now')).toBe(true);
  });

  it('resends an idempotent append whose answer was lost, and never stores it twice', async () => {
    const id = sessionId('idem');
    const c = client(px.url, { token: await token(id) });
    const session = c.session(id);
    await stateWhere(c, (s) => s.status === 'live');
    const offsets: Promise<string>[] = [];
    for (let seq = 0; seq < 20; seq++) offsets.push(session.append({ type: 'token', data: seq }, { producer: { id: 'p1', seq } }));
    px.cut();
    const results = await Promise.all(offsets);
    const stored = await session.read({ from: 'start', limit: 100 });
    expect(stored.events.map((e) => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(new Set(results).size).toBe(20);
  });

  it('keeps presence across a reconnect: no leave, and reconciles what changed meanwhile', async () => {
    const id = sessionId('presence');
    const a = client(px.url, { token: await token(id) });
    const watcher = client(gw.url, { token: await token(id) });
    const watched: PresenceChange[] = [];
    watcher.session(id).presence.changes().subscribe((ch) => watched.push(ch));
    const seenByA: PresenceChange[] = [];
    a.session(id).presence.changes().subscribe((ch) => seenByA.push(ch));
    await a.session(id).presence.enter({ who: 'a' });
    await waitFor(() => watched.some((ch) => ch.member.connectionId === a.presenceId), 'a to enter');
    await waitFor(() => seenByA.length === 1, 'a to see itself');

    const reconnecting = stateWhere(a, (s) => s.status === 'reconnecting');
    px.cut();
    await reconnecting;
    // While a is away, the watcher enters.
    await watcher.session(id).presence.enter({ who: 'w' });
    await stateWhere(a, (s) => s.status === 'live');
    await waitFor(() => seenByA.some((ch) => ch.action === 'enter' && ch.member.connectionId === watcher.presenceId), 'a to learn of the watcher');
    expect(seenByA.filter((ch) => ch.member.connectionId === a.presenceId && ch.action === 'enter')).toHaveLength(1);
    expect(watched.some((ch) => ch.action === 'leave')).toBe(false);
    expect((await watcher.session(id).presence.members()).map((m) => m.connectionId).sort()).toEqual([a.presenceId, watcher.presenceId].sort());
  });

  it('detects a silent (half-open) socket by pings and resumes', async () => {
    const id = sessionId('silent');
    const c = client(px.url, { token: await token(id), pingIntervalMs: 100 });
    const received: string[] = [];
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e.offset));
    await stateWhere(c, (s) => s.status === 'live');
    const before = await produce(id, 5);
    await waitFor(() => received.length === 5, 'events before the freeze');
    const reconnecting = stateWhere(c, (s) => s.status === 'reconnecting');
    px.freeze();
    const during = await produce(id, 5);
    expect(await reconnecting).toMatchObject({ error: { code: 'TIMEOUT' }, resuming: [{ from: before[4] }] });
    await stateWhere(c, (s) => s.status === 'live');
    await waitFor(() => received.length === 10, 'events appended while the socket was silent');
    expect(received).toEqual([...before, ...during]);
  });

  it('re-enters presence after a reconnect and leaves on close', async () => {
    const id = sessionId('reenter');
    const log = recordingWebSocket();
    const a = client(px.url, { token: await token(id), WebSocket: log.ctor });
    const watcher = client(gw.url, { token: await token(id) });
    const watched: PresenceChange[] = [];
    watcher.session(id).presence.changes().subscribe((ch) => watched.push(ch));
    await a.session(id).presence.enter({ who: 'a' });
    await waitFor(() => watched.some((ch) => ch.action === 'enter'), 'a to enter');
    const reconnecting = stateWhere(a, (s) => s.status === 'reconnecting');
    px.cut();
    await reconnecting;
    await stateWhere(a, (s) => s.status === 'live');
    await waitFor(() => log.sent.filter((f) => f.op === 'presence.enter').length === 2, 'the re-enter');
    expect(log.sent.filter((f) => f.op === 'presence.enter').map((f) => f.data)).toEqual([{ who: 'a' }, { who: 'a' }]);
    await a.close();
    await waitFor(() => watched.some((ch) => ch.action === 'leave'), 'a to leave');
    expect(watched.filter((ch) => ch.action === 'leave')).toMatchObject([{ reason: 'left', member: { connectionId: a.presenceId } }]);
    expect(a.state).toEqual({ status: 'stopped' });
  });

  it('streams tokens through a writer across a cut, each stored once and in order', async () => {
    const id = sessionId('writer');
    const c = client(px.url, { token: await token(id) });
    const session = c.session(id);
    await stateWhere(c, (s) => s.status === 'live');
    const writer = session.writer({ lingerMs: 1, maxBatch: 16 });
    const offsets: Promise<string>[] = [];
    for (let i = 0; i < 400; i++) {
      offsets.push(writer.write({ type: 'token', data: i }));
      if (i === 150 || i === 300) {
        // Cut while a batch is in flight.
        await waitFor(() => writer.pending < 140, 'some batches to be sent');
        px.cut();
      }
    }
    await writer.close();
    const stored = await lastValueFrom(session.subscribe({ from: 'start' }).pipe(take(400), toArray()));
    expect(stored.map((e) => e.data)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(stored.map((e) => e.offset)).toEqual(await Promise.all(offsets));
    expect((await session.info()).lastOffset).toBe(stored.at(-1)!.offset);
    await expect(writer.write({ type: 'token' })).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
