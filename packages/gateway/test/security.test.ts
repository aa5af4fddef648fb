/**
 * Auth: without a valid token nothing is readable or writable, over every endpoint; a token for one session (or
 * prefix) opens no other; a token refresh keeps the stream; expiry closes it. Tokens are real HS256 JWTs.
 */
import { connect, type SessionStore } from '@durable-sessions/core';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, startGateway, type Right, type RunningGateway } from '../src/index.js';
import { readSse, TestSocket, waitFor } from './helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const OTHER_SECRET = 'another-secret-of-at-least-32-bytes!';
const ALL: Right[] = ['read', 'append', 'control', 'presence'];
let store: SessionStore;
let gateway: RunningGateway;
const SESSION = `sec-${process.pid}`;
const OTHER = `other-${process.pid}`;

interface BadToken {
  name: string;
  token: string | undefined;
  http: number;
  code: string;
}
let bad: BadToken[];

beforeAll(async () => {
  store = await connect('memory:');
  gateway = await startGateway({ store, auth: { secret: SECRET } });
  await store.session(SESSION).append({ type: 'seed', data: 1 });
  await store.session(OTHER).append({ type: 'seed', data: 1 });
  const forged = await signToken({ secret: OTHER_SECRET, sessions: '*', rights: ALL });
  const expired = await new SignJWT({ sessions: ['*'], rights: ALL }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(SECRET));
  const noExp = await new SignJWT({ sessions: ['*'], rights: ALL }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sessions: ['*'], rights: ALL, exp: 9999999999 })).toString('base64url')}.`;
  const wrongSession = await signToken({ secret: SECRET, sessions: OTHER, rights: ALL });
  bad = [
    { name: 'missing', token: undefined, http: 401, code: 'UNAUTHORIZED' },
    { name: 'garbage', token: 'not-a-jwt', http: 401, code: 'UNAUTHORIZED' },
    { name: 'forged', token: forged, http: 401, code: 'UNAUTHORIZED' },
    { name: 'alg none', token: unsigned, http: 401, code: 'UNAUTHORIZED' },
    { name: 'without exp', token: noExp, http: 401, code: 'UNAUTHORIZED' },
    { name: 'expired', token: expired, http: 401, code: 'TOKEN_EXPIRED' },
    { name: 'wrong session', token: wrongSession, http: 403, code: 'FORBIDDEN' },
  ];
});

afterAll(async () => {
  await gateway.close();
  await store.close();
});

function http(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('Authorization', `Bearer ${token}`);
  return fetch(`${gateway.url}${path}`, { ...init, headers });
}

const enc = encodeURIComponent;
const httpOperations = (id: string): Array<[string, string, RequestInit]> => [
  ['info', `/v1/sessions/${enc(id)}`, {}],
  ['read page', `/v1/sessions/${enc(id)}/events?from=start`, {}],
  ['sse', `/v1/sessions/${enc(id)}/events?live=sse`, {}],
  ['control sse', `/v1/sessions/${enc(id)}/control?live=sse`, {}],
  ['append', `/v1/sessions/${enc(id)}/events`, { method: 'POST', body: JSON.stringify({ type: 't', data: 1 }), headers: { 'Content-Type': 'application/json' } }],
  ['end', `/v1/sessions/${enc(id)}/end`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } }],
  ['control', `/v1/sessions/${enc(id)}/control`, { method: 'POST', body: JSON.stringify({ type: 'cancel' }), headers: { 'Content-Type': 'application/json' } }],
  ['ack', `/v1/sessions/${enc(id)}/ack`, { method: 'POST', body: JSON.stringify({ control: 'x' }), headers: { 'Content-Type': 'application/json' } }],
  ['presence', `/v1/sessions/${enc(id)}/presence`, {}],
  ['ds create', `/v1/stream/${enc(id)}`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' } }],
  ['ds head', `/v1/stream/${enc(id)}`, { method: 'HEAD' }],
  ['ds read', `/v1/stream/${enc(id)}?offset=-1`, {}],
  ['ds sse', `/v1/stream/${enc(id)}?offset=-1&live=sse`, {}],
  ['ds append', `/v1/stream/${enc(id)}`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } }],
  ['ds delete', `/v1/stream/${enc(id)}`, { method: 'DELETE' }],
];

const wsOperations = (id: string): Array<Record<string, unknown>> => [
  { op: 'subscribe', sub: 's', session: id, from: 'start' },
  { op: 'subscribe', sub: 'c', session: id, from: 'start', log: 'control' },
  { op: 'append', session: id, event: { type: 't' } },
  { op: 'end', session: id },
  { op: 'control', session: id, message: { type: 'cancel' } },
  { op: 'ack', session: id, control: 'x' },
  { op: 'info', session: id },
  { op: 'read', session: id },
  { op: 'presence.enter', session: id },
  { op: 'presence.update', session: id, data: 1 },
  { op: 'presence.leave', session: id },
  { op: 'presence.members', session: id },
  { op: 'presence.subscribe', sub: 'p', session: id },
];

describe('HTTP, SSE and Durable Streams endpoints', () => {
  it('refuse missing, malformed, forged, unsigned, exp-less, expired and wrong-session tokens for every operation', async () => {
    for (const t of bad) {
      for (const [name, path, init] of httpOperations(SESSION)) {
        const res = await http(path, t.token, init);
        expect(res.status, `${t.name} token, ${name}`).toBe(t.http);
        await res.body?.cancel();
      }
    }
    const after = await store.session(SESSION).read({ from: 'start' });
    expect(after.events.map((e) => e.type)).toEqual(['seed']);
    expect(after.ended).toBe(false);
  });

  it('accept the token in the query string (EventSource) only for the sessions it covers', async () => {
    const token = await signToken({ secret: SECRET, sessions: SESSION, rights: ['read'] });
    const ok = await fetch(`${gateway.url}/v1/sessions/${SESSION}?token=${token}`);
    expect(ok.status).toBe(200);
    const refused = await fetch(`${gateway.url}/v1/sessions/${OTHER}?token=${token}`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
  });

  it('enforce each right separately', async () => {
    const readOnly = await signToken({ secret: SECRET, sessions: SESSION, rights: ['read'] });
    const append = await http(`/v1/sessions/${SESSION}/events`, readOnly, { method: 'POST', body: JSON.stringify({ type: 't' }), headers: { 'Content-Type': 'application/json' } });
    expect(append.status).toBe(403);
    const control = await http(`/v1/sessions/${SESSION}/control`, readOnly, { method: 'POST', body: JSON.stringify({ type: 'c' }), headers: { 'Content-Type': 'application/json' } });
    expect(control.status).toBe(403);
    const writer = await signToken({ secret: SECRET, sessions: SESSION, rights: ['append'] });
    const read = await http(`/v1/sessions/${SESSION}`, writer);
    expect(read.status).toBe(403);
  });

  it('scope prefix tokens to their prefix', async () => {
    const token = await signToken({ secret: SECRET, sessions: 'chat-*', rights: ALL });
    const inside = await http(`/v1/sessions/chat-${process.pid}/events`, token, { method: 'POST', body: JSON.stringify({ type: 't' }), headers: { 'Content-Type': 'application/json' } });
    expect(inside.status).toBe(200);
    const outside = await http(`/v1/sessions/chat/events`, token, { method: 'POST', body: JSON.stringify({ type: 't' }), headers: { 'Content-Type': 'application/json' } });
    expect(outside.status).toBe(403);
    const dsOutside = await http(`/v1/stream/team-${process.pid}`, token, { method: 'PUT' });
    expect(dsOutside.status).toBe(403);
  });

  it('refuse a Durable Streams fork of a stream the token cannot read', async () => {
    const admin = await signToken({ secret: SECRET, sessions: '*', rights: ALL });
    const secret = `secret-src-${process.pid}`;
    expect((await http(`/v1/stream/${secret}`, admin, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'classified' })).status).toBe(201);
    const mine = await signToken({ secret: SECRET, sessions: 'mine-*', rights: ALL });
    const fork = await http(`/v1/stream/mine-${process.pid}`, mine, { method: 'PUT', headers: { 'Stream-Forked-From': `/v1/stream/${secret}` } });
    expect(fork.status).toBe(403);
    expect((await http(`/v1/stream/mine-${process.pid}`, mine, { method: 'HEAD' })).status).toBe(404);
  });

  it('refuse hostile session ids and malformed bodies with clear errors', async () => {
    const token = await signToken({ secret: SECRET, sessions: '*', rights: ALL });
    for (const path of ['/v1/sessions/%00x', '/v1/sessions/%E0%A4%A', '/v1/sessions/~ds%2Fmeta%2Fx', `/v1/sessions/${'x'.repeat(300)}`, '/v1/sessions/%ED%A0%80']) {
      const res = await http(path, token);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe('INVALID_SESSION_ID');
    }
    const notJson = await http(`/v1/sessions/${SESSION}/events`, token, { method: 'POST', body: '{nope', headers: { 'Content-Type': 'application/json' } });
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('INVALID_FRAME');
    const tooBig = await http(`/v1/sessions/${SESSION}/events`, token, { method: 'POST', body: JSON.stringify({ type: 't', data: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'Content-Type': 'application/json' } });
    expect(tooBig.status).toBe(413);
    const dsReserved = await http('/v1/stream/~ds%2Fmeta%2Fx', token, { method: 'PUT' });
    expect(dsReserved.status).toBe(400);
    expect((await http('/health', undefined)).status).toBe(200);
  });
});

describe('WebSocket endpoint', () => {
  it('refuses the upgrade for a bad token in the URL', async () => {
    for (const t of bad.filter((b) => b.token !== undefined && b.code !== 'FORBIDDEN')) {
      await expect(TestSocket.open(gateway.url, { token: t.token! }, false), t.name).rejects.toMatchObject({ status: 401 });
    }
  });

  it('refuses every operation before auth, and closes with 4401 on a bad auth frame', async () => {
    const socket = await TestSocket.open(gateway.url, {}, false);
    for (const frame of wsOperations(SESSION)) {
      expect(await socket.request(frame), String(frame.op)).toMatchObject({ op: 'error', code: 'UNAUTHORIZED' });
    }
    const forged = bad.find((b) => b.name === 'forged')!.token!;
    expect(await socket.request({ op: 'auth', token: forged })).toMatchObject({ op: 'error', code: 'UNAUTHORIZED' });
    await waitFor(() => socket.closeCode !== undefined);
    expect(socket.closeCode).toBe(4401);
  });

  it('refuses every operation on a session the token does not cover', async () => {
    const token = await signToken({ secret: SECRET, sessions: OTHER, rights: ALL });
    const socket = await TestSocket.open(gateway.url, { token });
    for (const frame of wsOperations(SESSION)) {
      expect(await socket.request(frame), String(frame.op)).toMatchObject({ op: 'error', code: 'FORBIDDEN' });
    }
    expect(await socket.request({ op: 'info', session: OTHER })).toMatchObject({ op: 'ok' });
    await socket.close();
    const after = await store.session(SESSION).read({ from: 'start' });
    expect(after.events.map((e) => e.type)).toEqual(['seed']);
  });

  it('binds presence identities to the token subject, so one user cannot take over another member', async () => {
    const id = `presence-sec-${process.pid}`;
    const alice = await signToken({ secret: SECRET, sessions: id, rights: ALL, subject: 'alice' });
    const mallory = await signToken({ secret: SECRET, sessions: id, rights: ALL, subject: 'mallory' });
    const a = await TestSocket.open(gateway.url, { token: alice, connectionId: 'tab1' });
    await a.request({ op: 'presence.enter', session: id, data: 'alice' });
    const aliceId = a.frames[0]!.presenceId as string;
    expect(a.frames[0]).toMatchObject({ connectionId: 'tab1' });
    const members = await a.request({ op: 'presence.members', session: id });
    expect((members.members as Array<{ connectionId: string }>).map((m) => m.connectionId)).toEqual([aliceId]);
    const m = await TestSocket.open(gateway.url, { token: mallory, connectionId: aliceId });
    expect(m.frames[0]!.presenceId).not.toBe(aliceId);
    await m.request({ op: 'presence.leave', session: id });
    await m.request({ op: 'presence.update', session: id, data: 'evil' });
    const after = await a.request({ op: 'presence.members', session: id });
    expect((after.members as Array<{ connectionId: string; data: unknown }>).find((x) => x.connectionId === aliceId)?.data).toBe('alice');
    await a.close();
    const again = await TestSocket.open(gateway.url, { token: alice, connectionId: 'tab1' });
    expect(again.frames[0]!.presenceId).toBe(aliceId);
    await Promise.all([again.close(), m.close()]);
  });

  it('refreshes a token without losing the stream, and ends subscriptions the new token no longer covers', async () => {
    const id = `refresh-${process.pid}`;
    const first = await signToken({ secret: SECRET, sessions: [id, OTHER], rights: ['read'] });
    const socket = await TestSocket.open(gateway.url, { token: first });
    await socket.request({ op: 'subscribe', sub: 'r', session: id, from: 'start' });
    await socket.request({ op: 'subscribe', sub: 'o', session: OTHER, from: 'start' });
    await store.session(id).append({ type: 'n', data: 1 });
    await waitFor(() => socket.events('r').length === 1);
    const second = await signToken({ secret: SECRET, sessions: id, rights: ['read'], expiresInSeconds: 7200 });
    expect(await socket.request({ op: 'auth', token: second })).toMatchObject({ op: 'ok' });
    expect(await socket.next((f) => f.op === 'error' && f.sub === 'o')).toMatchObject({ code: 'FORBIDDEN' });
    await store.session(id).append({ type: 'n', data: 2 });
    await waitFor(() => socket.events('r').length === 2);
    expect(socket.events('r').map((e) => e.data)).toEqual([1, 2]);
    await socket.close();
  });

  it('warns before expiry and closes with TOKEN_EXPIRED / 4401 when the token runs out', async () => {
    const token = await signToken({ secret: SECRET, sessions: SESSION, rights: ['read'], expiresInSeconds: 2 });
    const socket = await TestSocket.open(gateway.url, { token });
    await socket.next((f) => f.op === 'token-expiring', 5_000);
    await socket.next((f) => f.op === 'error' && f.code === 'TOKEN_EXPIRED', 5_000);
    await waitFor(() => socket.closeCode !== undefined);
    expect(socket.closeCode).toBe(4401);
  });

  it('ends an SSE stream with TOKEN_EXPIRED, and a reconnect with a fresh token resumes from Last-Event-ID', async () => {
    const id = `sse-refresh-${process.pid}`;
    await store.session(id).append([{ type: 'n', data: 1 }, { type: 'n', data: 2 }]);
    const short = await signToken({ secret: SECRET, sessions: id, rights: ['read'], expiresInSeconds: 1 });
    const res = await fetch(`${gateway.url}/v1/sessions/${id}/events?live=sse&token=${short}`);
    const messages = await readSse(res, (m) => m.some((x) => x.event === 'error'), 5_000);
    const data = messages.filter((m) => m.event === 'message');
    expect(data.map((m) => (JSON.parse(m.data) as { data: number }).data)).toEqual([1, 2]);
    expect(JSON.parse(messages.find((m) => m.event === 'error')!.data)).toMatchObject({ code: 'TOKEN_EXPIRED' });
    await store.session(id).append({ type: 'n', data: 3 });
    const fresh = await signToken({ secret: SECRET, sessions: id, rights: ['read'] });
    const again = await fetch(`${gateway.url}/v1/sessions/${id}/events?live=sse&token=${fresh}`, { headers: { 'Last-Event-ID': data[1]!.id! } });
    const more = await readSse(again, (m) => m.length >= 1);
    expect(more.map((m) => (JSON.parse(m.data) as { data: number }).data)).toEqual([3]);
  });
});
