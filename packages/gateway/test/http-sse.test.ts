/**
 * SSE and plain HTTP: resume with Last-Event-ID, end of stream, appends/control/acks over POST, presence bound to
 * an SSE connection, and a Durable Streams stream seen as a session.
 */
import { connect, type SessionStore } from '@durable-sessions/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { readSse, TestSocket, waitFor } from './helpers.js';

let store: SessionStore;
let gateway: RunningGateway;
let n = 0;
const sid = (name: string) => `http-${name}-${process.pid}-${++n}`;
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

beforeAll(async () => {
  store = await connect('memory:', { presence: { timeoutMs: 500, heartbeatMs: 100, pollMs: 50 } });
  gateway = await startGateway({ store, auth: false });
});

afterAll(async () => {
  await gateway.close();
  await store.close();
});

describe('HTTP writes and reads', () => {
  it('appends single events and batches, idempotently with a producer, and reads pages', async () => {
    const id = sid('append');
    const one = (await (await post(`/v1/sessions/${id}/events`, { type: 'a', data: 1 })).json()) as { offset: string };
    expect(typeof one.offset).toBe('string');
    const batch = { events: [{ type: 'b', data: 2 }, { type: 'c', data: 3 }], producer: { id: 'p', epoch: 0, seq: 0 } };
    const first = (await (await post(`/v1/sessions/${id}/events`, batch)).json()) as { offsets: string[] };
    const retry = (await (await post(`/v1/sessions/${id}/events`, batch)).json()) as { offsets: string[] };
    expect(retry.offsets).toEqual(first.offsets);
    const gap = await post(`/v1/sessions/${id}/events`, { ...batch, producer: { id: 'p', epoch: 0, seq: 5 } });
    expect(gap.status).toBe(409);
    expect(((await gap.json()) as { error: { code: string; details: { expectedSeq: number } } }).error).toMatchObject({ code: 'SEQUENCE_GAP', details: { expectedSeq: 1 } });
    const page = (await (await fetch(`${gateway.url}/v1/sessions/${id}/events?from=start&limit=10`)).json()) as { events: Array<{ type: string }>; upToDate: boolean };
    expect(page.events.map((e) => e.type)).toEqual(['a', 'b', 'c']);
    expect(page.upToDate).toBe(true);
    await post(`/v1/sessions/${id}/end`, { reason: 'done' });
    const late = await post(`/v1/sessions/${id}/events`, { type: 'late' });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('SESSION_ENDED');
  });

  it('sends control messages and acks over POST', async () => {
    const id = sid('control');
    const sent = (await (await post(`/v1/sessions/${id}/control`, { type: 'cancel' })).json()) as { offset: string };
    const agent = store.session(id);
    const received = await agent.control.events({ from: 'start' }).next();
    expect(received.value).toMatchObject({ type: 'cancel', offset: sent.offset });
    const acked = await post(`/v1/sessions/${id}/ack`, { control: sent.offset, data: 'ok' });
    expect(acked.status).toBe(200);
    await agent.close();
  });
});

describe('SSE', () => {
  it('streams events, resumes strictly after Last-Event-ID, and ends after $end', async () => {
    const id = sid('sse');
    const s = store.session(id);
    await s.append([{ type: 'n', data: 1 }, { type: 'n', data: 2 }]);
    const first = await readSse(await fetch(`${gateway.url}/v1/sessions/${id}/events`, { headers: { Accept: 'text/event-stream' } }), (m) => m.length >= 2);
    expect(first.map((m) => JSON.parse(m.data).data)).toEqual([1, 2]);
    await s.append({ type: 'n', data: 3 });
    await s.end();
    const rest = await readSse(await fetch(`${gateway.url}/v1/sessions/${id}/events?live=sse`, { headers: { 'Last-Event-ID': first[1]!.id! } }), (m) => m.some((x) => x.event === 'end'));
    expect(rest.filter((m) => m.event === 'message').map((m) => JSON.parse(m.data).type)).toEqual(['n', '$end']);
    expect(JSON.parse(rest[0]!.data).data).toBe(3);
    expect(rest[rest.length - 1]!.event).toBe('end');
    await s.close();
  });

  it('answers a bad offset with 400 before streaming', async () => {
    const res = await fetch(`${gateway.url}/v1/sessions/${sid('bad')}/events?live=sse&from=bogus`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_OFFSET');
  });

  it('keeps an SSE member present while connected, and lets it time out after disconnect', async () => {
    const id = sid('presence');
    const presence = encodeURIComponent(JSON.stringify({ name: 'sse-user' }));
    const ac = new AbortController();
    const res = await fetch(`${gateway.url}/v1/sessions/${id}/events?live=sse&connectionId=sse1&presence=${presence}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const watcher = store.session(id);
    await waitFor(async () => (await watcher.presence.members()).some((m) => m.connectionId === 'sse1'));
    ac.abort();
    await waitFor(async () => (await watcher.presence.members()).length === 0, 5_000, 'the member to expire');
    await watcher.close();
  });
});

describe('Durable Streams streams are sessions', () => {
  it('reads a stream written over the Durable Streams protocol as a session over WebSocket', async () => {
    const id = sid('ds');
    await fetch(`${gateway.url}/v1/stream/${id}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' } });
    await fetch(`${gateway.url}/v1/stream/${id}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '[{"a":1},{"b":2}]' });
    await fetch(`${gateway.url}/v1/stream/${id}`, { method: 'POST', headers: { 'Stream-Closed': 'true' } });
    const socket = await TestSocket.open(gateway.url);
    await socket.request({ op: 'subscribe', sub: 's', session: id, from: 'start' });
    await socket.next((f) => f.op === 'complete');
    expect(socket.events('s').map((e) => [e.type, e.data])).toEqual([['ds', [{ a: 1 }, { b: 2 }]], ['$end', { reason: 'closed' }]]);
    await socket.close();
  });

  it('makes a Durable Streams fork a core fork: the fork is a session holding the source history at the source offsets', async () => {
    const source = sid('ds-src');
    const fork = sid('ds-fork');
    const json = { 'Content-Type': 'application/json' };
    await fetch(`${gateway.url}/v1/stream/${source}`, { method: 'PUT', headers: json });
    const first = await fetch(`${gateway.url}/v1/stream/${source}`, { method: 'POST', headers: json, body: '[1]' });
    const forkPoint = first.headers.get('Stream-Next-Offset')!;
    await fetch(`${gateway.url}/v1/stream/${source}`, { method: 'POST', headers: json, body: '[2]' });
    const put = await fetch(`${gateway.url}/v1/stream/${fork}`, { method: 'PUT', headers: { ...json, 'Stream-Forked-From': `/v1/stream/${source}`, 'Stream-Fork-Offset': forkPoint } });
    expect(put.status).toBe(201);
    await fetch(`${gateway.url}/v1/stream/${fork}`, { method: 'POST', headers: json, body: '[3]' });
    const info = await store.session(fork).info();
    expect(info.fork?.source).toBe(source);
    const events = (await store.session(fork).read({ limit: 10 })).events;
    const sourceEvents = (await store.session(source).read({ limit: 10 })).events;
    expect(events.map((e) => e.data)).toEqual([[1], [3]]);
    expect(events[0]!.offset).toBe(sourceEvents[0]!.offset);
    // Reading the fork over the protocol from the source's offset continues with the fork's own data.
    const rest = await fetch(`${gateway.url}/v1/stream/${fork}?offset=${forkPoint}`);
    expect(await rest.json()).toEqual([3]);
  });
});
