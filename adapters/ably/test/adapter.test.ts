import { connect, encodeSessionKey, isDurableSessionError, type SessionEvent } from '@durable-sessions/core';
import * as Ably from 'ably';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ably, createBackend, parseAblyUrl } from '../src/index.js';
import { toAblyError } from '../src/errors.js';
import { offsetToSerial, serialToOffset } from '../src/offsets.js';
import { startEmulator, waitFor, type RunningAbly } from './helpers.js';

describe('Ably URLs and options', () => {
  it('parses emulator, keyed and bare URLs', () => {
    expect(parseAblyUrl('ably://emu.key:s%2Fecret@127.0.0.1:4567?tls=false&disconnectedRetryTimeout=500&prefix=app')).toEqual({
      key: 'emu.key:s/ecret',
      endpoint: '127.0.0.1',
      port: 4567,
      tls: false,
      channelPrefix: 'app',
      clientOptions: { disconnectedRetryTimeout: 500 },
    });
    expect(parseAblyUrl('ably://app.key:secret@')).toEqual({ key: 'app.key:secret' });
    expect(parseAblyUrl('ably://app.key:ab/c+d=@')).toEqual({ key: 'app.key:ab/c+d=' });
    expect(parseAblyUrl('ably://app.key:s@realtime.example.com?tls=true')).toEqual({ key: 'app.key:s', endpoint: 'realtime.example.com', tls: true });
    expect(parseAblyUrl('ably:')).toEqual({});
    expect(parseAblyUrl('ably://')).toEqual({});
  });

  it('refuses malformed configuration with CONFIG_INVALID', () => {
    const saved = process.env.ABLY_API_KEY;
    delete process.env.ABLY_API_KEY;
    try {
      const bad: Array<() => unknown> = [
        () => createBackend({ url: 'ably:' }),
        () => ably({ key: 'a.b:c', retention: { maxEvents: 5 } }),
        () => ably({ key: 'a.b:c', channelPrefix: 'has:colon' }),
        () => ably({ key: 'a.b:c', clientOptions: { clientId: 'bound' } }),
        () => ably({ key: 'a.b:c', maxMessageSize: 0 }),
        () => parseAblyUrl('ably://k:s@h:1?disconnectedRetryTimeout=soon'),
      ];
      for (const call of bad) {
        let error: unknown;
        try {
          call();
        } catch (err) {
          error = err;
        }
        expect(isDurableSessionError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
      }
    } finally {
      if (saved !== undefined) process.env.ABLY_API_KEY = saved;
    }
  });

  it("maps Ably's errors to typed errors: rate limits retryable, size limits, channel rules and id format", () => {
    const mapped = (code: number, statusCode: number) => toAblyError({ code, statusCode, message: 'x' }, 'ctx');
    for (const code of [42910, 42911, 42913]) {
      expect(mapped(code, 429)).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable: true, details: { ablyCode: code, rateLimited: true } });
    }
    expect(mapped(40009, 413)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    expect(mapped(93002, 400)).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(mapped(93002, 400).message).toContain('annotations, updates, deletes and appends');
    expect(mapped(40031, 400)).toMatchObject({ code: 'INTERNAL' });
    expect(mapped(80003, 500)).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable: true });
  });

  it('encodes serials into raw offsets that sort exactly like the serials', () => {
    const serials = ['01726232498871-001@abc:000', '01726232498871-001@abc:001', '01726232498871-002@abc:000', '01726232498872-000@abc:000', '01726232498872-000@abc:0000'];
    const offsets = serials.map(serialToOffset);
    expect([...offsets].sort()).toEqual(offsets);
    for (const offset of offsets) expect(offset).toMatch(/^[0-9A-Za-z_.:]{1,128}$/);
    expect(offsets.map(offsetToSerial)).toEqual(serials);
  });
});

describe('the Ably adapter against the emulator', () => {
  let infra: RunningAbly;
  let url: string;
  let n = 0;
  const id = () => `adapter-${process.pid}-${++n}`;

  beforeAll(async () => {
    infra = await startEmulator();
    url = `${infra.url}&disconnectedRetryTimeout=300`;
  });
  afterAll(() => infra?.stop());

  it('names channels <prefix>:<key>:events and :control, visible to a raw SDK client', async () => {
    const store = await connect(url);
    const sessionId = `${id()} with spaces/and:colons`;
    const session = store.session(sessionId);
    await session.append({ type: 'hello', data: 1 });
    await session.control.send({ type: 'stop' });
    const raw = new Ably.Rest(infra.emulator.clientOptions());
    const key = encodeSessionKey(sessionId);
    const events = await raw.channels.get(`ds:${key}:events`).history();
    const control = await raw.channels.get(`ds:${key}:control`).history();
    expect(events.items.map((m) => JSON.parse(m.data as string).t)).toEqual(['hello']);
    expect(control.items.map((m) => JSON.parse(m.data as string).t)).toEqual(['stop']);
    await store.close();
  });

  it('keeps a live subscriber exact while resumes are refused and the channel loses continuity', async () => {
    const viewerStore = await connect(url);
    const writerStore = await connect(url);
    const sessionId = id();
    const seen: SessionEvent[] = [];
    const sub = viewerStore.session(sessionId).subscribe({ from: 'start' }).subscribe((e) => void seen.push(e));
    const writer = writerStore.session(sessionId).writer({ maxRetries: 40, retryBackoffMs: 50 });
    const expected = Array.from({ length: 600 }, (_, i) => `e${i}`);
    try {
      for (const [i, k] of expected.entries()) {
        void writer.write({ type: k });
        if (i === 200) {
          infra.refuseResumes(true);
          await infra.dropConnections();
        }
        if (i === 400) {
          infra.refuseResumes(false);
          await infra.loseContinuity();
        }
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await writer.close();
      await waitFor(() => seen.length >= expected.length, 'every event at the subscriber', 60_000);
      expect(seen.map((e) => e.type)).toEqual(expected);
      const log = await viewerStore.session(sessionId).read({ limit: 1000 });
      expect(log.events.map((e) => e.type)).toEqual(expected);
    } finally {
      infra.refuseResumes(false);
      sub.unsubscribe();
      await Promise.all([viewerStore.close(), writerStore.close()]);
    }
  });

  it('sees an end and a newer producer epoch appended by another process', async () => {
    const a = await connect(url);
    const b = await connect(url);
    const sessionId = id();
    try {
      await a.session(sessionId).append({ type: 'old' }, { producer: { id: 'p', epoch: 0, seq: 0 } });
      await b.session(sessionId).append({ type: 'new' }, { producer: { id: 'p', epoch: 1, seq: 0 } });
      await waitFor(async () => {
        try {
          await a.session(sessionId).append({ type: 'zombie' }, { producer: { id: 'p', epoch: 0, seq: 1 } });
          return false;
        } catch (err) {
          if (!isDurableSessionError(err, 'STALE_PRODUCER')) throw err;
          return true;
        }
      }, 'the old epoch to be fenced');
      await b.session(sessionId).end();
      await waitFor(async () => (await a.session(sessionId).info()).ended, 'the end to be visible');
      await expect(a.session(sessionId).append({ type: 'late' })).rejects.toMatchObject({ code: 'SESSION_ENDED' });
      expect((await a.session(sessionId).read()).events.map((e) => e.type)).toEqual(['old', 'new', '$end']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('recovers the state of a producer last seen in another process from history', async () => {
    const [a, b, c] = await Promise.all([connect(url), connect(url), connect(url)]);
    const sessionId = id();
    try {
      const offsets: string[] = [];
      for (let seq = 0; seq < 3; seq++) offsets.push(...(await a.session(sessionId).append([{ type: `a${seq}` }, { type: `b${seq}` }], { producer: { id: 'p', seq } })));
      await b.session(sessionId).append({ type: 'next' }, { producer: { id: 'p', seq: 3 } });
      const retry = await c.session(sessionId).append([{ type: 'x' }, { type: 'y' }], { producer: { id: 'fresh-view', seq: 0 } });
      expect(retry).toHaveLength(2);
      await expect(c.session(sessionId).append({ type: 'gap' }, { producer: { id: 'p', seq: 5 } })).rejects.toMatchObject({ code: 'SEQUENCE_GAP', details: { expectedSeq: 4 } });
      const d = await connect(url);
      try {
        expect(await d.session(sessionId).append({ type: 'next' }, { producer: { id: 'p', seq: 3 } })).toBe(
          (await d.session(sessionId).read({ limit: 100 })).events.find((e) => e.type === 'next')!.offset,
        );
      } finally {
        await d.close();
      }
      expect((await a.session(sessionId).read({ limit: 100 })).events.map((e) => e.type)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'next', 'x', 'y']);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('splits an append above the size limit into publishes with <base>:<position> ids, stored once across retries', async () => {
    const [a, b] = await Promise.all([connect(url), connect(url)]);
    const sessionId = id();
    try {
      const events = Array.from({ length: 300 }, (_, i) => ({ type: 'chunk', data: { i, pad: 'p'.repeat(1_000) } }));
      const offsets = await a.session(sessionId).append(events, { producer: { id: 'big', seq: 0 } });
      expect(offsets).toHaveLength(300);
      // Another process retrying the same call learns the producer from history and gets the same offsets back.
      expect(await b.session(sessionId).append(events, { producer: { id: 'big', seq: 0 } })).toEqual(offsets);
      const raw = new Ably.Rest(infra.emulator.clientOptions());
      const history = await raw.channels.get(`ds:${encodeSessionKey(sessionId)}:events`).history({ direction: 'forwards', limit: 1000 });
      expect(history.items).toHaveLength(300);
      const bases = new Set(history.items.map((m) => m.id.slice(0, m.id.lastIndexOf(':'))));
      expect(bases.size).toBeGreaterThan(1);
      expect((await b.session(sessionId).read({ limit: 1000 })).events.map((e) => (e.data as { i: number }).i)).toEqual(events.map((_, i) => i));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reads from one offset repeatedly, and past a remembered last page once more events arrive', async () => {
    const store = await connect(url);
    const session = store.session(id());
    try {
      const offsets: string[] = [];
      for (let i = 0; i < 2_500; i += 250) offsets.push(...(await session.append(Array.from({ length: 250 }, (_, k) => ({ type: 't', data: i + k })))));
      const pageFrom = async (from: string, limit: number) => (await session.read({ from, limit })).events.map((e) => e.data);
      const expected = Array.from({ length: 1_000 }, (_, k) => 1_200 + k);
      expect(await pageFrom(offsets[1_199]!, 1_000)).toEqual(expected);
      expect(await pageFrom(offsets[1_199]!, 1_000)).toEqual(expected);
      expect(await pageFrom(offsets[2_199]!, 1_000)).toEqual(Array.from({ length: 300 }, (_, k) => 2_200 + k));
      await session.append([{ type: 't', data: 2_500 }, { type: 't', data: 2_501 }]);
      expect(await pageFrom(offsets[2_199]!, 1_000)).toEqual(Array.from({ length: 302 }, (_, k) => 2_200 + k));
      expect(await pageFrom(offsets[2_499]!, 10)).toEqual([2_500, 2_501]);
    } finally {
      await store.close();
    }
  });

  it("maps Ably's size limit to PAYLOAD_TOO_LARGE when the app's limit is below the configured one", async () => {
    const store = await connect({ backend: await createBackend({ url, maxMessageSize: 128 * 1024 }) });
    try {
      await expect(store.session(id()).append({ type: 'big', data: 'x'.repeat(100 * 1024) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    } finally {
      await store.close();
    }
  });

  it('uses a Realtime client passed in without closing it', async () => {
    const client = new Ably.Realtime({ ...infra.emulator.clientOptions(), logLevel: 0 });
    try {
      const store = await connect({ backend: ably({ client }) });
      const session = store.session(id());
      await session.append({ type: 'x' });
      await session.presence.enter({ here: true });
      expect((await session.presence.members()).length).toBe(1);
      await store.close();
      expect(client.connection.state).toBe('connected');
    } finally {
      client.close();
    }
  });
});
