import { isDurableSessionError } from '@durable-sessions/core';
import { describe, expect, it } from 'vitest';
import { resolveTarget } from '../src/options.js';

describe('URL resolution', () => {
  it('picks TCP for redis:// and rediss://, with a local default', () => {
    expect(resolveTarget({ url: 'rediss://u:p@db.example.com:6380/2' })).toEqual({ transport: 'tcp', url: 'rediss://u:p@db.example.com:6380/2' });
    expect(resolveTarget({})).toEqual({ transport: 'tcp', url: 'redis://127.0.0.1:6379' });
  });

  it('splits upstash URLs into a REST URL and a token', () => {
    expect(resolveTarget({ url: 'upstash+https://AbC123@eu1-xyz.upstash.io' }, {})).toEqual({ transport: 'rest', url: 'https://eu1-xyz.upstash.io', token: 'AbC123' });
    expect(resolveTarget({ url: 'upstash://:AbC123@eu1-xyz.upstash.io' }, {})).toEqual({ transport: 'rest', url: 'https://eu1-xyz.upstash.io', token: 'AbC123' });
    expect(resolveTarget({ url: 'upstash+http://t0k@127.0.0.1:4000' }, {})).toEqual({ transport: 'rest', url: 'http://127.0.0.1:4000', token: 't0k' });
  });

  it('takes the URL and token from the Upstash environment variables', () => {
    const env = { UPSTASH_REDIS_REST_URL: 'https://env.upstash.io', UPSTASH_REDIS_REST_TOKEN: 'envtoken' };
    expect(resolveTarget({ url: 'upstash:' }, env)).toEqual({ transport: 'rest', url: 'https://env.upstash.io', token: 'envtoken' });
    expect(resolveTarget({ url: 'upstash+https://eu1-xyz.upstash.io' }, env)).toEqual({ transport: 'rest', url: 'https://eu1-xyz.upstash.io', token: 'envtoken' });
    expect(resolveTarget({ transport: 'rest' }, env)).toEqual({ transport: 'rest', url: 'https://env.upstash.io', token: 'envtoken' });
  });

  it('fails with CONFIG_INVALID when the token or URL is missing', () => {
    for (const options of [{ url: 'upstash+https://eu1-xyz.upstash.io' }, { url: 'upstash:' }, { url: 'nats://x:4222' }]) {
      let error: unknown;
      try {
        resolveTarget(options, {});
      } catch (err) {
        error = err;
      }
      expect(isDurableSessionError(error, 'CONFIG_INVALID'), JSON.stringify(options)).toBe(true);
    }
  });

  it.each(['redis:/', 'redis://', 'redis:', 'rediss:///0'])('refuses a TCP URL without a host (%j) instead of falling back to localhost', (url) => {
    expect(() => resolveTarget({ url })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('no host') }));
  });
});

describe('cluster URLs', () => {
  it('parses seed nodes, credentials and TLS from redis+cluster:// and rediss+cluster://', () => {
    expect(resolveTarget({ url: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001' })).toEqual({
      transport: 'tcp',
      cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }], tls: false },
    });
    expect(resolveTarget({ url: 'rediss+cluster://app:s%40cret@db.example.com:6380,[::1]/0' })).toEqual({
      transport: 'tcp',
      cluster: { nodes: [{ host: 'db.example.com', port: 6380 }, { host: '::1', port: 6379 }], tls: true, username: 'app', password: 's@cret' },
    });
    expect(resolveTarget({ url: 'redis+cluster://:pw@h:1' })).toMatchObject({ cluster: { password: 'pw', nodes: [{ host: 'h', port: 1 }] } });
  });

  it.each(['redis+cluster://', 'redis+cluster://h:1/2', 'redis+cluster://h:99999', 'redis+cluster://h:1,,h:2'])('refuses %j with CONFIG_INVALID', (url) => {
    expect(() => resolveTarget({ url })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('recognises a node-redis cluster client', () => {
    const client = { getMasters: () => [], sendCommand: async () => null };
    expect(resolveTarget({ client: client as never })).toEqual({ transport: 'tcp', cluster: true, client });
  });
});
