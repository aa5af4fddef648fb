// The session API over a real gateway on the memory backend: round trips, late joiners, unsubscribe freeing the
// gateway's subscription, bounded iterators, control with acknowledgement, and presence.
import type { SessionStore } from '@durable-sessions/core';
import type { RunningGateway } from '@durable-sessions/gateway';
import { lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, isDurableSessionError, type PresenceChange, type SessionEvent } from '../src/index.js';
import { client, closeAll, gateway, memoryStore, NodeWebSocket, recordingWebSocket, sessionId, stateWhere, token, waitFor } from './helpers.js';

let store: SessionStore;
let gw: RunningGateway;

beforeAll(async () => {
  store = await memoryStore();
  gw = await gateway(store);
});
afterEach(closeAll);
afterAll(async () => {
  await gw.close();
  await store.close();
});

describe('session over the gateway', () => {
  it('round-trips appends to a subscriber, bytes included, and goes live', async () => {
    const id = sessionId('roundtrip');
    const c = client(gw.url, { token: await token(id) });
    const session = c.session(id);
    const received: SessionEvent[] = [];
    const sub = session.subscribe({ from: 'start' }).subscribe((e) => received.push(e));
    await stateWhere(c, (s) => s.status === 'live');
    const one = await session.append({ type: 'token', data: 'Hel' });
    const many = await session.append([
      { type: 'token', data: 'lo', headers: { step: '1' } },
      { type: 'blob', data: new Uint8Array([0, 1, 2, 255]) },
    ]);
    expect(typeof one).toBe('string');
    expect(many).toHaveLength(2);
    await waitFor(() => received.length === 3, '3 events');
    expect(received.map((e) => e.offset)).toEqual([one, ...many]);
    expect(received[1]).toMatchObject({ type: 'token', data: 'lo', headers: { step: '1' }, sessionId: id });
    expect(received[2]!.data).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(received[0]!.producer.connectionId).toBe(c.presenceId);
    sub.unsubscribe();
  });

  it('runs on the platform\'s global WebSocket (the browser API) when none is passed', async () => {
    expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe('function');
    const id = sessionId('native');
    const c = createClient({ url: gw.url, getToken: () => token(id) });
    try {
      const received: SessionEvent[] = [];
      c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e));
      await c.session(id).append([{ type: 'a', data: { n: 1 } }, { type: 'b', data: new Uint8Array([7, 8]) }]);
      await waitFor(() => received.length === 2, 'both events');
      expect(received.map((e) => e.data)).toEqual([{ n: 1 }, new Uint8Array([7, 8])]);
      const forged = createClient({ url: gw.url, token: 'not-a-jwt' });
      expect(await stateWhere(forged, (s) => s.status === 'stopped')).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    } finally {
      await c.close();
    }
  });

  it('resumes strictly after an offset and reads pages and info', async () => {
    const id = sessionId('from-offset');
    const c = client(gw.url, { token: await token(id) });
    const session = c.session(id);
    const offsets = await session.append([{ type: 'a' }, { type: 'b' }, { type: 'c' }]);
    const after = await lastValueFrom(session.subscribe({ from: offsets[0]! }).pipe(take(2), toArray()));
    expect(after.map((e) => e.type)).toEqual(['b', 'c']);
    const page = await session.read({ from: 'start', limit: 2 });
    expect(page.events.map((e) => e.type)).toEqual(['a', 'b']);
    expect(page.upToDate).toBe(false);
    expect(await session.info()).toEqual({ id, lastOffset: offsets[2], ended: false });
  });

  it('gives a client that joins late the whole session, and completes after $end', async () => {
    const id = sessionId('late');
    const writer = client(gw.url, { token: await token(id) });
    const w = writer.session(id);
    const written: string[] = [];
    for (let i = 0; i < 25; i++) written.push(await w.append({ type: 'token', data: `t${i}` }));
    written.push(await w.end({ reason: 'complete' }));
    await writer.close();

    const late = client(gw.url, { token: await token(id, { rights: ['read'] }) });
    const all = await lastValueFrom(late.session(id).subscribe({ from: 'start' }).pipe(toArray()));
    expect(all.map((e) => e.offset)).toEqual(written);
    expect(all.at(-1)).toMatchObject({ type: '$end', data: { reason: 'complete' } });

    const viaIterator: string[] = [];
    for await (const e of late.session(id).events({ from: 'start' })) viaIterator.push(e.offset);
    expect(viaIterator).toEqual(written);
    await expect(late.session(id).end()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('frees the gateway subscription on unsubscribe, iterator return and abort', async () => {
    const id = sessionId('unsub');
    const c = client(gw.url, { token: await token(id) });
    const session = c.session(id);
    await stateWhere(c, (s) => s.status === 'live');
    const base = store.stats().subscriptions;
    const sub = session.subscribe({ from: 'start' }).subscribe();
    const iterator = session.events({ from: 'now' });
    const ac = new AbortController();
    const control = session.control.subscribe({ from: 'start', signal: ac.signal }).subscribe();
    const changes = session.presence.changes().subscribe();
    await waitFor(() => store.stats().subscriptions >= base + 3, 'gateway subscriptions to start');
    sub.unsubscribe();
    await iterator.return!();
    ac.abort();
    changes.unsubscribe();
    expect(control.closed).toBe(true);
    await waitFor(() => store.stats().subscriptions === base, 'gateway subscriptions to be freed');
  });

  it('pauses a slow iterator on the gateway and resumes it without loss or repeats', async () => {
    const id = sessionId('slow');
    const log = recordingWebSocket();
    const c = client(gw.url, { token: await token(id), iteratorHighWater: 10, WebSocket: log.ctor });
    const session = c.session(id);
    const written = await session.append(Array.from({ length: 120 }, (_, i) => ({ type: 'token', data: i })));
    const iterator = session.events({ from: 'start' });
    const first = await iterator.next();
    // The consumer stalls: the buffer reaches the high-water mark and the gateway subscription is paused.
    await waitFor(() => log.sent.some((f) => f.op === 'unsubscribe'), 'the iterator to pause');
    const got = [first.value!.offset];
    while (got.length < written.length) {
      const r = await iterator.next();
      if (r.done) break;
      got.push(r.value.offset);
    }
    await iterator.return!();
    expect(got).toEqual(written);
    const resumes = log.sent.filter((f) => f.op === 'subscribe').slice(1);
    expect(resumes.length).toBeGreaterThan(0);
    for (const r of resumes) expect(written).toContain(r.from);
  });

  it('sends a control message and learns when the agent acknowledged it', async () => {
    const id = sessionId('control');
    const c = client(gw.url, { token: await token(id) });
    const session = c.session(id);
    const agent = store.session(id);
    const seen: string[] = [];
    const agentSub = agent.control.subscribe({ from: 'start' }).subscribe((m) => {
      seen.push(m.type);
      void agent.control.ack(m, { ok: true });
    });
    const receipt = await session.control.send({ type: 'cancel', data: { why: 'test' } });
    const ack = await receipt.acknowledged({ timeoutMs: 10_000 });
    expect(ack).toMatchObject({ type: '$ack', data: { control: receipt.offset } });
    expect(seen).toEqual(['cancel']);
    const messages = await lastValueFrom(session.control.subscribe({ from: 'start' }).pipe(take(1), toArray()));
    expect(messages[0]).toMatchObject({ offset: receipt.offset, type: 'cancel' });
    agentSub.unsubscribe();
    await agent.close();
  });

  it('enters, updates and leaves presence, seen by another client', async () => {
    const id = sessionId('presence');
    const a = client(gw.url, { token: await token(id) });
    const b = client(gw.url, { token: await token(id) });
    const changes: PresenceChange[] = [];
    const sub = b.session(id).presence.changes().subscribe((ch) => changes.push(ch));
    await a.session(id).presence.enter({ role: 'user' });
    await waitFor(() => changes.some((ch) => ch.action === 'enter' && ch.member.connectionId === a.presenceId), 'enter');
    await a.session(id).presence.update({ role: 'user', typing: true });
    await waitFor(() => changes.some((ch) => ch.action === 'update'), 'update');
    expect((await b.session(id).presence.members()).map((m) => m.connectionId)).toEqual([a.presenceId]);
    await a.session(id).presence.leave();
    await waitFor(() => changes.some((ch) => ch.action === 'leave' && ch.reason === 'left'), 'leave');
    sub.unsubscribe();
  });

  it('paces requests below the gateway\'s advertised frame rate instead of being refused', async () => {
    const limited = await gateway(store, { limits: { framesPerSecond: 50 } });
    try {
      const id = sessionId('paced');
      const log = recordingWebSocket();
      const c = client(limited.url, { token: await token(id), WebSocket: log.ctor });
      const session = c.session(id);
      const started = Date.now();
      const offsets = await Promise.all(Array.from({ length: 150 }, (_, i) => session.append({ type: 'token', data: i })));
      expect(new Set(offsets).size).toBe(150);
      // 150 frames at 50 per second, after a burst of 50: about two seconds, and never refused.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      const stored = await session.read({ from: 'start', limit: 1000 });
      expect(stored.events.map((e) => e.data)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      expect(log.sent.filter((f) => f.op === 'append')).toHaveLength(150);
    } finally {
      await closeAll();
      await limited.close();
    }
  });

  it('refuses bad input with typed errors before sending', async () => {
    const id = sessionId('bad');
    const c = client(gw.url, { token: await token(id) });
    expect(() => c.session('')).toThrow(expect.objectContaining({ code: 'INVALID_SESSION_ID' }));
    expect(() => c.session('~ds/x')).toThrow(expect.objectContaining({ code: 'INVALID_SESSION_ID' }));
    await expect(c.session(id).append({ type: '$end' })).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    await expect(c.session(id).append([])).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    const err = await lastValueFrom(c.session(id).subscribe({ from: 'not-an-offset' })).catch((e: unknown) => e);
    expect(isDurableSessionError(err, 'INVALID_OFFSET')).toBe(true);
    expect(() => createClient({ url: 'ftp://example.com', WebSocket: NodeWebSocket })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => createClient({ url: gw.url, token: 't', getToken: async () => 't', WebSocket: NodeWebSocket })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    // Node 20 without a WebSocket implementation: a clear configuration error, not a crash on first use.
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      expect(() => createClient({ url: gw.url })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    } finally {
      g.WebSocket = saved;
    }
  });
});
