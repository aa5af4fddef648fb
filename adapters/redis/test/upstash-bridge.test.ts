import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningInfra } from '@durable-sessions/conformance/infra';
import { startInfra } from './helpers.js';

// The bridge is test infrastructure; these tests pin the parts of the Upstash REST protocol the adapter relies on.
let infra: RunningInfra;
let base: string;
let token: string;

beforeAll(async () => {
  infra = await startInfra('upstash');
  base = infra.info!.UPSTASH_REDIS_REST_URL!;
  token = infra.info!.UPSTASH_REDIS_REST_TOKEN!;
});

afterAll(() => infra?.stop());

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown, sync: res.headers.get('upstash-sync-token') };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('the Upstash REST bridge', () => {
  it('requires the bearer token (header or ?_token=)', async () => {
    const anonymous = await fetch(`${base}/`, { method: 'POST', body: JSON.stringify(['PING']) });
    expect(anonymous.status).toBe(401);
    const query = await fetch(`${base}/?_token=${token}`, { method: 'POST', body: JSON.stringify(['PING']) });
    expect(await query.json()).toEqual({ result: 'PONG' });
  });

  it('encodes strings as base64 except a top-level OK, leaves numbers raw, never encodes errors', async () => {
    const enc = { 'Upstash-Encoding': 'base64' };
    expect((await post('/', ['SET', 'bridge:k', 'héllo'], enc)).body).toEqual({ result: 'OK' });
    expect((await post('/', ['GET', 'bridge:k'], enc)).body).toEqual({ result: b64('héllo') });
    expect((await post('/', ['GET', 'bridge:k'])).body).toEqual({ result: 'héllo' });
    expect((await post('/', ['STRLEN', 'bridge:k'], enc)).body).toEqual({ result: 6 });
    expect((await post('/', ['GET', 'bridge:missing'], enc)).body).toEqual({ result: null });
    const error = await post('/', ['INCR', 'bridge:k'], enc);
    expect(error.status).toBe(400);
    expect(error.body).toEqual({ error: 'ERR value is not an integer or out of range' });
    const first = Number((await post('/', ['PING'])).sync);
    expect(Number((await post('/', ['PING'])).sync)).toBeGreaterThan(first);
  });

  it('runs /pipeline per command and /multi-exec atomically, refusing transaction commands inside', async () => {
    const pipeline = await post('/pipeline', [['SET', 'bridge:p', '1'], ['INCR', 'bridge:k'], ['INCR', 'bridge:p']]);
    expect(pipeline.body).toEqual([{ result: 'OK' }, { error: 'ERR value is not an integer or out of range' }, { result: 2 }]);
    const multi = await post('/multi-exec', [['INCR', 'bridge:p'], ['GET', 'bridge:p']]);
    expect(multi.body).toEqual([{ result: 3 }, { result: '3' }]);
    const refused = await post('/multi-exec', [['WATCH', 'bridge:p'], ['GET', 'bridge:p']]);
    expect(refused.status).toBe(400);
  });

  it('rejects blocking commands as Upstash does', async () => {
    for (const command of [['BLPOP', 'bridge:l', '1'], ['XREAD', 'BLOCK', '10', 'STREAMS', 'bridge:s', '$'], ['SUBSCRIBE', 'c']]) {
      const res = await post('/', command);
      expect(res.status, command.join(' ')).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/not supported/);
    }
  });

  it('streams SSE subscribe events: the subscription first, then messages', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/subscribe/bridge-ch`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const lines: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        lines.push(...decoder.decode(chunk).split('\n').filter((l) => l.startsWith('data: ')));
        if (lines.some((l) => l.startsWith('data: subscribe'))) await post('/', ['PUBLISH', 'bridge-ch', '{"n":1}']);
        if (lines.some((l) => l.startsWith('data: message'))) break;
      }
    })();
    await reading;
    controller.abort();
    expect(lines).toEqual(['data: subscribe,bridge-ch,1', 'data: message,bridge-ch,{"n":1}']);
  });

  it('serves @upstash/redis with automatic deserialization off: strings stay strings', async () => {
    const client = new Redis({ url: base, token, automaticDeserialization: false, enableTelemetry: false });
    await client.set('bridge:n', '123');
    expect(await client.get('bridge:n')).toBe('123');
    await client.xadd('bridge:stream', '*', { d: '{"a":1}' });
    const range = (await client.xrange('bridge:stream', '-', '+')) as unknown;
    expect(JSON.stringify(range)).toContain('{\\"a\\":1}');
    expect(await client.eval('return {ARGV[1], 7}', [], ['x'])).toEqual(['x', 7]);
  });
});
