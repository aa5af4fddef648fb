import { connect, isDurableSessionError, type SessionEvent } from '@durable-sessions/core';
import { idToOffset, offsetToId, redis } from '@durable-sessions/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, uniqueId, waitFor } from './helpers.js';
import type { RunningInfra } from '@durable-sessions/conformance/infra';

let infra: RunningInfra;
let admin: ReturnType<typeof createClient>;

beforeAll(async () => {
  infra = await startInfra('redis');
  admin = createClient({ url: infra.url, RESP: 2 });
  admin.on('error', () => {});
  await admin.connect();
});

afterAll(async () => {
  await admin?.close().catch(() => {});
  await infra?.stop();
});

async function clientCount(): Promise<number> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
  return list.split('\n').filter((line) => line.trim()).length;
}

describe('the append script', () => {
  it('returns the stored offsets for a retried batch and stores it once', async () => {
    const store = await connect(infra.url);
    const session = store.session(uniqueId('idem'));
    const batch = [{ type: 'a' }, { type: 'b' }, { type: 'c' }];
    const first = await session.append(batch, { producer: { id: 'p1', seq: 0 } });
    const retry = await session.append(batch, { producer: { id: 'p1', seq: 0 } });
    expect(retry).toEqual(first);
    await session.append({ type: 'd' }, { producer: { id: 'p1', seq: 1 } });
    expect(await session.append(batch, { producer: { id: 'p1', seq: 0 } })).toEqual(first);
    const page = await session.read();
    expect(page.events.map((e) => e.type)).toEqual(['a', 'b', 'c', 'd']);
    await store.close();
  });

  it('rejects a sequence gap with the expected seq, a stale epoch, and fences older epochs', async () => {
    const store = await connect(infra.url);
    const session = store.session(uniqueId('gap'));
    await session.append({ type: 'a' }, { producer: { id: 'p', seq: 0 } });
    const gap = await session.append({ type: 'x' }, { producer: { id: 'p', seq: 5 } }).catch((e: unknown) => e);
    expect(isDurableSessionError(gap, 'SEQUENCE_GAP')).toBe(true);
    expect((gap as { details: { expectedSeq: number } }).details.expectedSeq).toBe(1);
    const badStart = await session.append({ type: 'x' }, { producer: { id: 'p', epoch: 1, seq: 3 } }).catch((e: unknown) => e);
    expect((badStart as { details: { expectedSeq: number } }).details.expectedSeq).toBe(0);
    await session.append({ type: 'b' }, { producer: { id: 'p', epoch: 1, seq: 0 } });
    const stale = await session.append({ type: 'x' }, { producer: { id: 'p', epoch: 0, seq: 1 } }).catch((e: unknown) => e);
    expect(isDurableSessionError(stale, 'STALE_PRODUCER')).toBe(true);
    expect((await session.read()).events.map((e) => e.type)).toEqual(['a', 'b']);
    await store.close();
  });

  it('refuses every append after the end, with and without a producer', async () => {
    const store = await connect(infra.url);
    const session = store.session(uniqueId('end'));
    await session.append({ type: 'a' });
    await session.end({ reason: 'complete' });
    for (const attempt of [
      () => session.append({ type: 'late' }),
      () => session.append({ type: 'late' }, { producer: { id: 'q', seq: 0 } }),
      () => session.end(),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(isDurableSessionError(err, 'SESSION_ENDED')).toBe(true);
    }
    expect((await session.info()).ended).toBe(true);
    expect((await session.read()).events.map((e) => e.type)).toEqual(['a', '$end']);
    await store.close();
  });
});

describe('keys and offsets', () => {
  it('keeps every key of a session under one hash tag (one Redis Cluster slot)', async () => {
    const id = uniqueId('layout');
    const store = await connect(infra.url);
    const session = store.session(id);
    await session.append({ type: 'a' }, { producer: { id: 'p', seq: 0 } });
    await session.control.send({ type: 'stop' });
    await session.presence.enter({ here: true });
    const keys = (await admin.sendCommand(['KEYS', `ds:*${id}*`])) as string[];
    const tag = `{${id}}`;
    // The control log has no meta hash yet: nothing (producer, end, trim) has been recorded for it.
    expect(keys.sort()).toEqual(
      [`ds:${tag}:control`, `ds:${tag}:events`, `ds:${tag}:events:meta`, `ds:${tag}:presence`, `ds:${tag}:presence:exp`].sort(),
    );
    const slots = await Promise.all(keys.map((key) => admin.sendCommand(['CLUSTER', 'KEYSLOT', key]).catch(() => null)));
    if (slots[0] !== null) expect(new Set(slots).size).toBe(1);
    expect(await admin.sendCommand(['TYPE', `ds:${tag}:events`])).toBe('stream');
    await store.close();
  });

  it('encodes stream ids so that string order is id order', () => {
    const ids = ['0-0', '0-1', '0-9', '0-10', '9-0', '10-0', '1795436854846-0', '1795436854846-2', '1795436854846-10', '1795436854847-0'];
    const offsets = ids.map(idToOffset);
    expect([...offsets].sort()).toEqual(offsets);
    expect(offsets.map(offsetToId)).toEqual(ids);
    expect(() => offsetToId('123')).toThrow(/not a Redis stream offset/);
  });

  it('gives a batch consecutive ids and keeps offsets increasing across many appends', async () => {
    const store = await connect(infra.url);
    const session = store.session(uniqueId('order'));
    const offsets: string[] = [];
    for (let i = 0; i < 20; i++) offsets.push(...(await session.append(Array.from({ length: 25 }, () => ({ type: 't' })))));
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]! > offsets[i - 1]!).toBe(true);
    const page = await session.read({ limit: 1000 });
    expect(page.events.map((e) => e.offset)).toEqual(offsets);
    await store.close();
  });
});

describe('the live tail multiplexer', () => {
  it('serves 200 subscribers of 200 sessions over a bounded number of connections', async () => {
    const before = await clientCount();
    const store = await connect(infra.url);
    const ids = Array.from({ length: 200 }, (_, i) => uniqueId(`mux${i}`));
    const received = new Map<string, string[]>();
    const subs = ids.map((id) =>
      store.session(id).subscribe({ from: 'start' }).subscribe({
        next: (e: SessionEvent) => received.set(id, [...(received.get(id) ?? []), e.type]),
      }),
    );
    await waitFor(() => store.stats().tails === 200, 'all subscriptions to go live');
    const writer = await connect(infra.url);
    await Promise.all(ids.map((id) => writer.session(id).append({ type: `live-${id}` })));
    await waitFor(() => ids.every((id) => received.get(id)?.length === 1), 'every subscriber to receive its event');
    for (const id of ids) expect(received.get(id)).toEqual([`live-${id}`]);
    // Two stores: each has a command connection; the subscribing one adds one XREAD connection. Nothing per tail.
    const during = await clientCount();
    expect(during - before).toBeLessThanOrEqual(4);
    for (const sub of subs) sub.unsubscribe();
    await store.close();
    await writer.close();
  });

  it('delivers to followers of one session at different positions without gaps or duplicates', async () => {
    const store = await connect(infra.url);
    const session = store.session(uniqueId('positions'));
    const early = await session.append(Array.from({ length: 10 }, (_, i) => ({ type: `e${i}` })));
    const seen: Record<string, string[]> = { start: [], mid: [], now: [] };
    const subs = [
      session.subscribe({ from: 'start' }).subscribe((e) => seen.start!.push(e.type)),
      session.subscribe({ from: early[4]! }).subscribe((e) => seen.mid!.push(e.type)),
      session.subscribe({ from: 'now' }).subscribe((e) => seen.now!.push(e.type)),
    ];
    await waitFor(() => store.stats().tails === 3, 'three live tails');
    await session.append([{ type: 'x' }, { type: 'y' }]);
    await waitFor(() => seen.now!.length === 2 && seen.start!.length === 12 && seen.mid!.length === 7, 'all followers to catch up');
    expect(seen.start).toEqual([...Array.from({ length: 10 }, (_, i) => `e${i}`), 'x', 'y']);
    expect(seen.mid).toEqual(['e5', 'e6', 'e7', 'e8', 'e9', 'x', 'y']);
    expect(seen.now).toEqual(['x', 'y']);
    for (const sub of subs) sub.unsubscribe();
    await store.close();
  });

  it('never hands a follower that joined behind the running XREAD a reply that starts after its cursor', async () => {
    const backend = redis({ url: infra.url });
    const writer = redis({ url: infra.url });
    const log = { sessionId: 'behind', key: uniqueId('behind'), kind: 'events' as const };
    const { offsets } = await writer.append(log, { records: Array.from({ length: 20 }, (_, i) => `r${i}`) });
    const received = new Map<number, string[]>();
    const tail = (index: number, after: string | null) =>
      backend.tail(log, after, {
        next: (entries) => received.set(index, [...(received.get(index) ?? []), ...entries.map((e) => e.payload)]),
        error: (err) => {
          throw err;
        },
      });
    // The leader keeps an XREAD running from the head of the log.
    const stops = [tail(0, offsets[19]!)];
    await waitFor(async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).includes('cmd=xread'), 'the multiplexed XREAD to block');
    // Followers join behind it while appends race their joining (an append issued just before a join usually
    // serves the running XREAD before the join interrupts it): each must still get every record after its cursor.
    for (let i = 1; i <= 19; i++) {
      void writer.append(log, { records: [`live${i}`] });
      stops.push(tail(i, offsets[19 - i]!));
    }
    const live = Array.from({ length: 19 }, (_, i) => `live${i + 1}`);
    await waitFor(() => [...Array(20).keys()].every((i) => (received.get(i)?.length ?? 0) >= i + 19), 'every follower to catch up');
    for (let i = 0; i <= 19; i++) {
      const got = received.get(i)!;
      expect(got.slice(0, i), `follower ${i} backlog`).toEqual(Array.from({ length: i }, (_, k) => `r${20 - i + k}`));
      expect([...got.slice(i)].sort(), `follower ${i} live`).toEqual([...live].sort());
      expect(got.length, `follower ${i} duplicates`).toBe(i + 19);
    }
    for (const stop of stops) stop();
    await backend.close();
    await writer.close();
  });

  it('keeps a live subscriber going through a redis-server restart without losing an event', async () => {
    const store = await connect(infra.url);
    const id = uniqueId('restart');
    const session = store.session(id);
    const seen: string[] = [];
    const sub = session.subscribe({ from: 'start' }).subscribe((e) => seen.push(e.type));
    await waitFor(() => store.stats().tails === 1, 'the live tail');
    await session.append({ type: 'before' });
    await waitFor(() => seen.length === 1, 'the first event');
    await infra.restart!();
    const writer = store.session(id).writer({ lingerMs: 0 });
    await Promise.all(['after-1', 'after-2', 'after-3'].map((type) => writer.write({ type })));
    await waitFor(() => seen.length === 4, 'the events appended after the restart', 30_000);
    expect(seen).toEqual(['before', 'after-1', 'after-2', 'after-3']);
    sub.unsubscribe();
    await store.close();
  });
});

describe('configuration', () => {
  it('rejects malformed URLs and options with CONFIG_INVALID', () => {
    for (const bad of [
      () => redis({ url: 'http://127.0.0.1:6379' }),
      () => redis({ url: '127.0.0.1:6379' }),
      () => redis({ url: 'upstash+https://example.upstash.io' }),
      () => redis({ maxBatchSize: 0 }),
      () => redis({ retention: { maxEvents: 1.5 } }),
      () => redis({ keyPrefix: 'a b' }),
    ]) {
      let error: unknown;
      try {
        bad();
      } catch (err) {
        error = err;
      }
      expect(isDurableSessionError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
    }
  });

  it('reports BACKEND_UNAVAILABLE, not a hang, when nothing listens at the URL', async () => {
    const backend = redis({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 });
    const err = await backend.info({ sessionId: 'x', key: 'x', kind: 'events' }).catch((e: unknown) => e);
    expect(isDurableSessionError(err, 'BACKEND_UNAVAILABLE')).toBe(true);
    await backend.close();
  });

  it('uses a client the application passes in and leaves it open on close', async () => {
    const client = createClient({ url: infra.url });
    client.on('error', () => {});
    await client.connect();
    const store = await connect({ backend: redis({ client }) });
    const session = store.session(uniqueId('own-client'));
    await session.append({ type: 'a' });
    const seen: string[] = [];
    const sub = session.subscribe({ from: 'start' }).subscribe((e) => seen.push(e.type));
    await waitFor(() => seen.length === 1, 'replay through a RESP3 client');
    await session.append({ type: 'b' });
    await waitFor(() => seen.length === 2, 'live delivery through a RESP3 client');
    sub.unsubscribe();
    await store.close();
    expect(client.isReady).toBe(true);
    await client.close();
  });
});
