import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/store.js';
import { packageBackend, registerBackend } from '../src/registry.js';
import { URL_ENV, redact } from '../src/config.js';

describe('configuration errors', () => {
  const saved = process.env[URL_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[URL_ENV];
    else process.env[URL_ENV] = saved;
  });

  it.each(['localhost:6379', '', '   ', '//host'])('rejects a URL without a scheme (%j) with CONFIG_INVALID', async (url) => {
    await expect(connect(url)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('scheme') });
  });

  it('rejects an unknown scheme and lists the known ones', async () => {
    await expect(connect('mongodb://x')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('redis:') });
  });

  it('rejects an unknown backend name', async () => {
    await expect(connect({ backend: 'cassandra' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('Known:') });
  });

  it.each([null, 42, [], { backend: 42 }, { backend: {} }])('rejects a malformed options object %j', async (config) => {
    await expect(connect(config as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('says which package to install when an adapter is missing', async () => {
    registerBackend(packageBackend('ghost', ['ghost'], '@durable-sessions/ghost-adapter-not-installed', 'ghost-sdk'));
    await expect(connect('ghost://somewhere')).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('npm install @durable-sessions/ghost-adapter-not-installed ghost-sdk'),
    });
  });

  it('reads DURABLE_SESSIONS_URL when called without configuration', async () => {
    process.env[URL_ENV] = 'nope-without-scheme';
    await expect(connect()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('accepts a custom backend factory and passes it the adapter options', async () => {
    let seen: Record<string, unknown> | undefined;
    await expect(
      connect({
        backend: (config) => {
          seen = config;
          return {} as never;
        },
        url: 'custom://x',
        flavour: 'mint',
        clientId: 'me',
      }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('did not return a backend') });
    expect(seen).toEqual({ url: 'custom://x', flavour: 'mint' });
  });

  it('hides credentials when echoing URLs', () => {
    expect(redact('redis://user:secret@host:6379')).toBe('redis://***@host:6379');
    expect(redact('upstash+https://host?token=abc&x=1')).toBe('upstash+https://host?token=***&x=1');
    expect(redact('ably://app.key:se/cr+et==@127.0.0.1:1234?tls=false')).toBe('ably://***@127.0.0.1:1234?tls=false');
  });
});
