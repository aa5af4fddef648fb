/** `durable-sessions serve` argument parsing and CORS configuration. */
import { describe, expect, it } from 'vitest';
import { parseServeArgs, runServeCommand, startGateway } from '../src/index.js';

describe('serve arguments', () => {
  it('parses the backend URL, port, long-poll and auth flags', () => {
    expect(parseServeArgs(['memory:', '--port', '8080', '--long-poll-ms=500', '--no-auth'], {})).toEqual({ backendUrl: 'memory:', port: 8080, host: '127.0.0.1', longPollMs: 500, auth: false });
    expect(parseServeArgs(['redis://h:1', '--secret', 's'.repeat(32)], {}).auth).toEqual({ secret: 's'.repeat(32) });
    expect(parseServeArgs(['memory:'], { DURABLE_SESSIONS_GATEWAY_SECRET: 'e'.repeat(32) }).auth).toEqual({ secret: 'e'.repeat(32) });
  });

  it('refuses to start without choosing auth, and on bad flags', () => {
    expect(() => parseServeArgs(['memory:'], {})).toThrow(/--no-auth/);
    expect(() => parseServeArgs([], {})).toThrow(/backend URL is required/);
    expect(() => parseServeArgs(['memory:', '--port', 'x', '--no-auth'], {})).toThrow(/--port/);
    expect(() => parseServeArgs(['memory:', '--bogus'], {})).toThrow(/Unexpected argument/);
  });

  it('prints URL= as the first line and serves', async () => {
    const lines: string[] = [];
    const gateway = await runServeCommand(['memory:', '--no-auth'], (l) => lines.push(l));
    try {
      expect(lines[0]).toBe(`URL=${gateway.url}`);
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('refuses a short secret and a missing auth choice', async () => {
    await expect(startGateway({ store: 'memory:', auth: { secret: 'short' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(startGateway({ store: 'memory:' } as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('CORS', () => {
  it('allows only the configured origins', async () => {
    const gateway = await startGateway({ store: 'memory:', auth: false, cors: { origins: ['https://app.example'] } });
    try {
      const ok = await fetch(`${gateway.url}/health`, { headers: { Origin: 'https://app.example' } });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      const other = await fetch(`${gateway.url}/health`, { headers: { Origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${gateway.url}/v1/sessions/x/events`, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');
    } finally {
      await gateway.close();
    }
  });
});
