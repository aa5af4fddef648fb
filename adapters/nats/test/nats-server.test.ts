import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, encodeSessionKey, type LogRef, type SessionEvent } from '@durable-sessions/core';
import { nats, probeMessageTtl, type NatsBackend } from '@durable-sessions/nats';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfra, waitFor, type RunningNats, type RunningNatsCluster } from './helpers.js';

let infra: RunningNats;
let nc: NatsConnection;
beforeAll(async () => {
  infra = await startInfra<RunningNats>('nats');
  nc = await natsConnect({ servers: infra.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});
afterAll(async () => {
  await nc?.close();
  await infra?.stop();
});

const ref = (sessionId: string, kind: LogRef['kind'] = 'events'): LogRef => ({ sessionId, key: encodeSessionKey(sessionId), kind });

describe('server-version awareness (on the real server this suite starts)', () => {
  it('reads the version from the server and enables no 2.10+/2.11+ feature on 2.9', async () => {
    const { stdout } = await promisify(execFile)('nats-server', ['--version']);
    const version = /v?(\d+\.\d+\.\d+)/.exec(stdout)![1]!;
    const backend = nats({ connection: nc });
    await backend.ready();
    expect(backend.features?.version).toBe(version);
    if (version.startsWith('2.9.')) {
      expect(backend.features).toMatchObject({ multipleFilterSubjects: false, perMessageTtl: false, batchDirectGet: false, atomicBatchPublish: false });
    }
    expect(backend.capabilities.maxPayloadBytes).toBe(nc.info!.max_payload - 4096);
    await backend.close();
    expect(nc.isClosed()).toBe(false); // a connection the user passed is never closed by the backend
  });

  it('does not trust an accepted setting: the TTL probe checks what the server echoes back', async () => {
    const jsm = await jetstreamManager(nc);
    const enabled = await probeMessageTtl(jsm, 'DS_TEST_TTL_PROBE');
    // 2.9 creates the stream without complaint and silently drops allow_msg_ttl; 2.11+ echoes it.
    expect(enabled).toBe(!nc.info!.version.startsWith('2.9.') && !nc.info!.version.startsWith('2.10.'));
    expect(await jsm.streams.names().next()).not.toContain('DS_TEST_TTL_PROBE');
  });
});

describe('layout', () => {
  it('stores a batch as one message: consecutive record indexes of one sequence, readable from inside it', async () => {
    const backend = nats({ connection: nc });
    const log = ref('packed');
    const { offsets } = await backend.append(log, { records: ['a', 'b', 'c'] });
    expect(offsets.map((o) => o.slice(0, 16))).toEqual([offsets[0]!.slice(0, 16), offsets[0]!.slice(0, 16), offsets[0]!.slice(0, 16)]);
    expect(offsets.map((o) => o.slice(16))).toEqual(['.0000', '.0001', '.0002']);
    const { offsets: [single] } = await backend.append(log, { records: ['d'] });
    expect(single).toMatch(/^\d{16}$/);
    expect(await backend.read(log, offsets[0]!, 10)).toEqual([
      { offset: offsets[1], payload: 'b' },
      { offset: offsets[2], payload: 'c' },
      { offset: single, payload: 'd' },
    ]);
    expect(await backend.read(log, offsets[1]!, 1)).toEqual([{ offset: offsets[2], payload: 'c' }]);
    expect(await backend.info(log)).toEqual({ last: single, ended: false, trimmedThrough: null });
    await backend.close();
  });

  it('keeps one total order per log when two processes append concurrently (expected-sequence retries)', async () => {
    const [a, b] = [nats({ url: infra.url }), nats({ url: infra.url })];
    const log = ref('two-writers');
    const writes = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(log, { records: [`${i}.0`, `${i}.1`] }));
    const results = await Promise.all(writes);
    const stored = await a.read(log, null, 1_000);
    expect(stored).toHaveLength(80);
    expect([...stored.map((e) => e.offset)].sort()).toEqual(stored.map((e) => e.offset));
    // Each call's records are contiguous and at the offsets it was told.
    for (const [i, r] of results.entries()) {
      const at = stored.findIndex((e) => e.offset === r.offsets[0]);
      expect(stored.slice(at, at + 2).map((e) => e.payload)).toEqual([`${i}.0`, `${i}.1`]);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses appends after the end, also from another process whose cached head is stale', async () => {
    const [a, b] = [nats({ url: infra.url }), nats({ url: infra.url })];
    const log = ref('ended-elsewhere');
    await b.append(log, { records: ['x'] });
    await a.append(log, { records: ['y', '{"t":"$end","s":0,"n":"c"}'], end: true });
    await expect(b.append(log, { records: ['z'] })).rejects.toMatchObject({ code: 'SESSION_ENDED' });
    expect((await b.info(log)).ended).toBe(true);
    expect((await b.read(log, null, 10)).map((e) => e.payload)).toEqual(['x', 'y', '{"t":"$end","s":0,"n":"c"}']);
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a retry whose producer state was lost (crash between publish and save) from the Nats-Msg-Id window', async () => {
    const backend = nats({ url: infra.url });
    const log = ref('lost-state');
    const producer = { id: 'p1', epoch: 0, seq: 0 };
    const first = await backend.append(log, { records: ['a', 'b'], producer });
    // Simulate the crash: the producer state never reached the KV bucket.
    const kv = await new Kvm(nc).open('DS_SESSIONS_PRODUCERS');
    await kv.purge(`ev.${log.key}.p1`);
    const retry = await backend.append(log, { records: ['a', 'b'], producer });
    expect(retry).toEqual({ offsets: first.offsets, duplicate: true });
    expect(await backend.read(log, null, 10)).toHaveLength(2);
    await expect(backend.append(log, { records: ['c'], producer: { ...producer, seq: 2 } })).rejects.toMatchObject({ code: 'SEQUENCE_GAP' });
    await backend.append(log, { records: ['c'], producer: { ...producer, seq: 1 } });
    await expect(backend.append(log, { records: ['d'], producer: { id: 'p1', epoch: 1, seq: 0 } })).resolves.toBeTruthy();
    await expect(backend.append(log, { records: ['e'], producer: { id: 'p1', epoch: 0, seq: 2 } })).rejects.toMatchObject({ code: 'STALE_PRODUCER' });
    await backend.close();
  });
});

describe('retention', () => {
  it('a resume from an offset of a session whose records all aged out fails with OFFSET_TRIMMED in the process that knew it', async () => {
    const store = await connect({ backend: nats({ url: infra.url, retention: { maxAgeMs: 200 } }) });
    const s = store.session('all-aged-out');
    const first = await s.append({ type: 'a' });
    const last = await s.append({ type: 'b' });
    await waitFor(async () => (await s.read({ from: 'start' })).events.length === 0, 'every event to age out');
    await expect(s.read({ from: first })).rejects.toMatchObject({ code: 'OFFSET_TRIMMED' });
    expect((await s.read({ from: last })).events).toEqual([]);
    await store.close();
  });

  it('an append after every record aged out continues the chain: resuming from before it still fails with OFFSET_TRIMMED', async () => {
    const backend = nats({ url: infra.url, retention: { maxAgeMs: 200 } });
    const store = await connect({ backend });
    const s = store.session('aged-out-then-appended');
    const [first, second] = await s.append([{ type: 'a', data: 'old' }, { type: 'a', data: 'old too' }]);
    const jsm = await jetstreamManager(nc);
    const subject = backend.subjectOf(ref('aged-out-then-appended'));
    // The server must have dropped the record before the next append, which then meets an empty subject.
    await waitFor(async () => (await jsm.streams.getMessage(backend.stream, { last_by_subj: subject })) === null, 'the record to age out');
    const fresh = await s.append({ type: 'b', data: 'fresh' });
    expect(fresh > second!).toBe(true);
    await expect(s.read({ from: first! })).rejects.toMatchObject({ code: 'OFFSET_TRIMMED' });
    expect((await s.read({ from: second! })).events.map((e) => e.data)).toEqual(['fresh']);
    await store.close();
  });
});

describe('hostile session ids', () => {
  it('never widen a subscription: `*`, `>`, `a.b`, `a.*` and friends see only their own events', async () => {
    const ids = ['*', '>', 'a.b', 'a.*', 'a.>', 'a', 'b', ' ', 'a b', '..', '$JS.API.>', 'ünï🙂', 'x'.repeat(200), '_a', 'ds_sessions.ev.a'];
    const store = await connect({ backend: nats({ url: infra.url }) });
    const backend = nats({ url: infra.url });
    for (const id of ids) {
      const subject = backend.subjectOf(ref(id));
      expect(subject.split('.')).toHaveLength(3);
      expect(subject).not.toMatch(/[*> ]/);
    }
    const seen = new Map<string, SessionEvent[]>(ids.map((id) => [id, []]));
    const subscriptions = ids.map((id) => store.session(id).subscribe({ from: 'start' }).subscribe({ next: (e) => seen.get(id)!.push(e) }));
    for (const id of ids) await store.session(id).append({ type: 'mine', data: id });
    await waitFor(() => ids.every((id) => seen.get(id)!.length >= 1), 'every session to receive its own event');
    // A later event in one session must not show up anywhere else either.
    await store.session('a').append({ type: 'mine', data: 'a' });
    await waitFor(() => seen.get('a')!.length === 2, 'the second event of session a');
    for (const id of ids) {
      expect(seen.get(id)!.map((e) => e.data)).toEqual(id === 'a' ? ['a', 'a'] : [id]);
      expect(seen.get(id)!.every((e) => e.sessionId === id)).toBe(true);
    }
    for (const s of subscriptions) s.unsubscribe();
    await store.close();
    await backend.close();
  });
});

describe('faults', () => {
  it('plain appends (no producer) interrupted by dropped connections are stored once: resent only when they did not land', async () => {
    const backend = nats({ url: infra.url });
    const log = ref('drops-without-producer');
    const results = new Map<number, string>();
    const dropper = (async () => {
      for (let drop = 0; drop < 15; drop++) {
        await new Promise((r) => setTimeout(r, 40));
        await infra.dropConnections!();
      }
    })();
    let next = 0;
    const worker = async () => {
      while (next < 300) {
        const i = next++;
        try {
          const { offsets } = await backend.append(log, { records: [`r${i}`] });
          results.set(i, offsets[0]!);
        } catch (err) {
          // A failed append may or may not be stored (its outcome was unknown): only duplicates are wrong.
          expect((err as { code?: string }).code).toMatch(/BACKEND_UNAVAILABLE|TIMEOUT/);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker(), dropper]);
    const stored = await backend.read(log, null, 10_000);
    const payloads = stored.map((e) => e.payload);
    expect(new Set(payloads).size).toBe(payloads.length);
    for (const [i, offset] of results) expect(stored.find((e) => e.offset === offset)?.payload).toBe(`r${i}`);
    expect(results.size).toBeGreaterThan(0);
    await backend.close();
  });

  it('a live subscription survives a server kill and restart mid-stream, without loss or duplicates', async () => {
    const store = await connect(infra.url);
    const received: SessionEvent[] = [];
    const sub = store.session('restart-mid-stream').subscribe({ from: 'start' }).subscribe({ next: (e) => received.push(e) });
    const writer = store.session('restart-mid-stream').writer({ maxRetries: 1_000 });
    for (let i = 0; i < 100; i++) void writer.write({ type: 'n', data: i });
    await writer.flush();
    await waitFor(() => received.length === 100, 'the first 100 events');
    await infra.restart!();
    for (let i = 100; i < 200; i++) void writer.write({ type: 'n', data: i });
    await writer.close();
    await waitFor(() => received.length >= 200, 'the events written after the restart', 30_000);
    expect(received.map((e) => e.data)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    sub.unsubscribe();
    await store.close();
  });
});
