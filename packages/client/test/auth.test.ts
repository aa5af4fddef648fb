// Tokens: refreshed mid-stream without loss, and failures a refresh cannot fix end in "stopped" with a typed error.
import type { SessionStore } from '@durable-sessions/core';
import type { RunningGateway } from '@durable-sessions/gateway';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DurableSessionError, isDurableSessionError, type ConnectionState } from '../src/index.js';
import { client, closeAll, gateway, memoryStore, recordingWebSocket, sessionId, stateWhere, token, waitFor } from './helpers.js';

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

describe('auth', () => {
  it('refreshes the token mid-stream without reconnecting or losing an event', async () => {
    const id = sessionId('refresh');
    let issued = 0;
    const log = recordingWebSocket();
    const c = client(gw.url, {
      WebSocket: log.ctor,
      // Three-second tokens: the gateway warns about a second before each expires.
      getToken: () => {
        issued++;
        return token(id, { expiresInSeconds: 3 });
      },
    });
    const states: ConnectionState[] = [];
    c.state$.subscribe((s) => states.push(s));
    const received: string[] = [];
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e.offset));
    await stateWhere(c, (s) => s.status === 'live');
    const agent = store.session(id);
    const written: string[] = [];
    // Stream until the token has been replaced twice; the first two tokens have expired by then.
    while (issued < 3 || log.sent.filter((f) => f.op === 'auth').length < 3) {
      written.push(await agent.append({ type: 'token', data: written.length }));
      await waitFor(() => received.length === written.length, 'the event just appended');
    }
    written.push(await agent.append({ type: 'token', data: 'after' }));
    await waitFor(() => received.length === written.length, 'the last event');
    expect(received).toEqual(written);
    expect(states.map((s) => s.status)).toEqual(['connecting', 'live']);
    await agent.close();
  });

  it('reconnects at once with a fresh token when a refresh comes too late, losing nothing', async () => {
    const id = sessionId('late-refresh');
    let calls = 0;
    let c: ReturnType<typeof client> | undefined;
    c = client(gw.url, {
      getToken: async () => {
        const call = ++calls;
        // The refresh (second call) hangs until the gateway has closed the socket at the token's expiry.
        if (call === 2) await stateWhere(c!, (s) => s.status === 'reconnecting');
        return token(id, { expiresInSeconds: call === 1 ? 2 : 600 });
      },
    });
    const states: ConnectionState[] = [];
    c.state$.subscribe((s) => states.push(s));
    const received: string[] = [];
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e.offset));
    await stateWhere(c, (s) => s.status === 'live');
    const agent = store.session(id);
    const written: string[] = [];
    while (!states.some((s) => s.status === 'reconnecting') || c.state.status !== 'live') {
      written.push(await agent.append({ type: 'token', data: written.length }));
      if (c.state.status === 'live') await waitFor(() => received.length === written.length || c!.state.status !== 'live', 'the event just appended');
      else await stateWhere(c, (s) => s.status === 'live');
    }
    written.push(await agent.append({ type: 'token', data: 'after' }));
    await waitFor(() => received.length === written.length, 'every event');
    expect(received).toEqual(written);
    const reconnect = states.find((s) => s.status === 'reconnecting');
    expect(reconnect).toMatchObject({ retryInMs: 0, error: { code: 'TOKEN_EXPIRED' } });
    expect(states.map((s) => s.status)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    await agent.close();
  });

  it('stops with TOKEN_EXPIRED when a fixed token expires', async () => {
    const id = sessionId('expire');
    const c = client(gw.url, { token: await token(id, { expiresInSeconds: 2 }) });
    const failure = lastValueFrom(c.session(id).subscribe({ from: 'start' })).catch((e: unknown) => e);
    await stateWhere(c, (s) => s.status === 'live');
    const stopped = await stateWhere(c, (s) => s.status === 'stopped');
    expect(stopped).toMatchObject({ status: 'stopped', error: { code: 'TOKEN_EXPIRED' } });
    expect(isDurableSessionError(await failure, 'TOKEN_EXPIRED')).toBe(true);
    await expect(c.session(id).append({ type: 'x' })).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
  });

  it('stops with UNAUTHORIZED on a forged token, failing subscriptions and requests', async () => {
    const id = sessionId('forged');
    const c = client(gw.url, { token: await token(id, { secret: 'another-secret-another-secret-0123456789' }) });
    const failure = lastValueFrom(c.session(id).subscribe({ from: 'start' })).catch((e: unknown) => e);
    const append = c.session(id).append({ type: 'x' }).catch((e: unknown) => e);
    const stopped = await stateWhere(c, (s) => s.status === 'stopped');
    expect(stopped.status === 'stopped' && stopped.error).toBeInstanceOf(DurableSessionError);
    expect(stopped).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    expect(await failure).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await append).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await store.session(id).info()).toMatchObject({ lastOffset: null });
  });

  it('asks getToken again once, then stops when the fresh token is refused too', async () => {
    const id = sessionId('refused');
    let calls = 0;
    const c = client(gw.url, {
      getToken: () => {
        calls++;
        return token(id, { secret: 'another-secret-another-secret-0123456789' });
      },
    });
    const stopped = await stateWhere(c, (s) => s.status === 'stopped');
    expect(stopped).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    expect(calls).toBe(2);
  });

  it('retries a getToken that fails transiently, and stops on a typed refusal', async () => {
    const id = sessionId('gettoken');
    let calls = 0;
    const flaky = client(gw.url, {
      getToken: async () => {
        if (++calls < 3) throw new Error('token service unreachable');
        return token(id);
      },
    });
    const retrying = await stateWhere(flaky, (s) => s.status === 'reconnecting');
    expect(retrying).toMatchObject({ error: { message: expect.stringContaining('token service unreachable') } });
    await stateWhere(flaky, (s) => s.status === 'live');
    expect(calls).toBe(3);

    const refused = client(gw.url, {
      getToken: () => Promise.reject(new DurableSessionError('UNAUTHORIZED', 'Signed out.')),
    });
    expect(await stateWhere(refused, (s) => s.status === 'stopped')).toMatchObject({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Signed out.') } });
  });

  it('refuses sessions and rights the token does not cover, and stays live', async () => {
    const id = sessionId('mine');
    const other = sessionId('other');
    const c = client(gw.url, { token: await token(id, { rights: ['read'] }) });
    const failure = await lastValueFrom(c.session(other).subscribe({ from: 'start' })).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'FORBIDDEN' });
    await expect(c.session(id).append({ type: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(c.session(id).control.send({ type: 'cancel' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(c.session(id).presence.enter()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(c.state.status).toBe('live');
    expect(await c.session(id).info()).toEqual({ id, lastOffset: null, ended: false });
  });
});
