import { connect, URL_ENV } from '@durable-sessions/core';
import { afterEach, describe, expect, it } from 'vitest';

describe('choosing the memory backend by configuration', () => {
  const saved = process.env[URL_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[URL_ENV];
    else process.env[URL_ENV] = saved;
  });

  it('falls back to the embedded memory backend without configuration', async () => {
    delete process.env[URL_ENV];
    const store = await connect();
    expect(store.backend).toBe('memory');
    expect(store.capabilities.durable).toBe(false);
    await store.close();
  });

  it('reads DURABLE_SESSIONS_URL', async () => {
    process.env[URL_ENV] = 'memory://from-env';
    const a = await connect();
    const b = await connect('memory://from-env');
    await a.session('s').append({ type: 'x', data: 1 });
    expect((await b.session('s').read()).events.map((e) => e.data)).toEqual([1]);
    await a.close();
    await b.close();
  });

  it('shares data between stores of one named instance, and not between private ones', async () => {
    const [a, b, c] = await Promise.all([connect('memory://shared-1'), connect('memory://shared-1'), connect('memory:')]);
    await a.session('s').append({ type: 'x', data: 'hello' });
    expect((await b.session('s').read()).events).toHaveLength(1);
    expect((await c.session('s').read()).events).toHaveLength(0);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('accepts an options object with adapter options', async () => {
    const store = await connect({ backend: 'memory', maxPayloadBytes: 200, clientId: 'agent' });
    expect(store.capabilities.maxPayloadBytes).toBe(200);
    expect(store.clientId).toBe('agent');
    await expect(store.session('s').append({ type: 'x', data: 'y'.repeat(300) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await store.close();
  });

  it.each(['memory:/etc', 'memory://a/b', 'memory://bad name'])('rejects a malformed memory URL %j', async (url) => {
    await expect(connect(url)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it.each([{ retention: { maxEvents: 0 } }, { retention: { maxAgeMs: -1 } }, { maxBatchSize: 1.5 }])('rejects invalid memory options %j', async (options) => {
    await expect(connect({ backend: 'memory', ...options })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('rejects invalid store options', async () => {
    await expect(connect('memory:', { clientId: '' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(connect('memory:', { presence: { timeoutMs: 100, heartbeatMs: 200 } })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
