// The connection state machine without a gateway at first: back-off with jitter, giving up after maxAttempts, and
// going live once a gateway appears on the port.
import { createServer } from 'node:net';
import type { SessionStore } from '@durable-sessions/core';
import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoff } from '../src/backoff.js';
import type { ConnectionState } from '../src/index.js';
import { client, closeAll, gateway, memoryStore, sessionId, stateWhere, token, waitFor } from './helpers.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('connection', () => {
  it('backs off exponentially with jitter, capped', () => {
    const b = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2 });
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(b, a, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(b, a, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(b, 2)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d).toBeGreaterThanOrEqual(200);
  });

  it('keeps retrying while no gateway listens, then goes live when one starts', async () => {
    const port = await freePort();
    const id = sessionId('late-gateway');
    const c = client(`http://127.0.0.1:${port}`, { token: await token(id) });
    const states: ConnectionState[] = [];
    c.state$.subscribe((s) => states.push(s));
    const received: string[] = [];
    c.session(id).subscribe({ from: 'start' }).subscribe((e) => received.push(e.offset));
    const appended = c.session(id).append({ type: 'queued-while-offline' });
    await stateWhere(c, (s) => s.status === 'reconnecting' && s.attempt >= 3);
    const store: SessionStore = await memoryStore();
    const gw = await gateway(store, { port });
    try {
      await stateWhere(c, (s) => s.status === 'live');
      const offset = await appended;
      await waitFor(() => received.length === 1, 'the queued append to be delivered');
      expect(received).toEqual([offset]);
      const retries = states.filter((s): s is Extract<ConnectionState, { status: 'reconnecting' }> => s.status === 'reconnecting');
      expect(retries.map((s) => s.attempt)).toEqual(retries.map((_, i) => i + 1));
      expect(retries[0]).toMatchObject({ error: { code: 'DISCONNECTED' }, resuming: [{ session: id, log: 'events', from: 'start' }] });
    } finally {
      await closeAll();
      await gw.close();
      await store.close();
    }
  });

  it('stops after maxAttempts consecutive failures, failing what was pending', async () => {
    const port = await freePort();
    const c = client(`http://127.0.0.1:${port}`, { token: 'unused', reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
    const pending = c.session('s').info().catch((e: unknown) => e);
    const stopped = await stateWhere(c, (s) => s.status === 'stopped');
    expect(stopped).toMatchObject({ error: { code: 'DISCONNECTED' } });
    expect(await pending).toMatchObject({ code: 'DISCONNECTED' });
    await expect(c.session('s').info()).rejects.toMatchObject({ code: 'DISCONNECTED' });
    // A late subscriber to state$ still learns why it stopped.
    expect(await stateWhere(c, () => true)).toBe(stopped);
    await closeAll();
  });
});
