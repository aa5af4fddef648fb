/**
 * Benchmark (not a test): the gateway on the memory backend against the Durable Streams reference server
 * (`@durable-streams/server` 0.3.7, in-memory) in the same run, on the same machine, with the same message sizes.
 *
 *   cd packages/gateway && npm run bench            (BENCH_QUICK=1 for a short run)
 *
 * Measures, per server: append round trip p50/p99 (sequential POSTs), append throughput (32 POSTs in flight), and
 * delivery of 100 appends to 1,000 concurrent live subscribers of one stream (SSE on both; WebSocket too for the
 * gateway): time until every subscriber has every message, and per-delivery latency p50/p99. Forks (C21 in the
 * gateway, by reference; the reference server copies): creating a fork of a 1,000-message stream, and a catch-up
 * read of the fork. Ratios (gateway / reference) are printed at the end.
 */
import http from 'node:http';
import { DurableStreamTestServer } from '@durable-streams/server';
import WebSocket from 'ws';
import { startGateway } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUND_TRIPS = QUICK ? 300 : 2_000;
const THROUGHPUT_MS = QUICK ? 1_000 : 3_000;
const IN_FLIGHT = 32;
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1_000);
const FANOUT_MESSAGES = QUICK ? 20 : 100;
const SIZES = [100, 1_024, 64 * 1024];

interface Target {
  name: string;
  base: string;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));

async function createStream(t: Target, name: string, contentType = 'application/octet-stream'): Promise<string> {
  const url = `${t.base}/v1/stream/${name}`;
  const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': contentType } });
  if (res.status !== 201) throw new Error(`${t.name}: PUT ${res.status}`);
  return url;
}

// One keep-alive agent per phase: a socket left idle between phases may be closed by the server (keep-alive
// timeout) just as the next phase reuses it, which fails that request with ECONNRESET.
let agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function freshAgent(): void {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
}

/** One append over a keep-alive connection (node:http: far less client overhead than fetch, so servers are measured). */
function post(url: string, body: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.byteLength } }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 500) >= 300 ? reject(new Error(`POST ${res.statusCode}`)) : resolve()));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function roundTrip(t: Target, size: number) {
  freshAgent();
  const url = await createStream(t, `rt-${size}-${Date.now()}`);
  const body = new Uint8Array(size).fill(120);
  for (let i = 0; i < 50; i++) await post(url, body);
  const times: number[] = [];
  const n = size >= 65_536 ? Math.min(ROUND_TRIPS, 500) : ROUND_TRIPS;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await post(url, body);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

async function throughput(t: Target, size: number) {
  freshAgent();
  const url = await createStream(t, `tp-${size}-${Date.now()}`);
  const body = new Uint8Array(size).fill(121);
  let done = 0;
  const end = performance.now() + THROUGHPUT_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        await post(url, body);
        done++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { msgPerSec: done / seconds, mbPerSec: (done * size) / seconds / 1e6 };
}

/** 1,000 SSE readers of one stream; each message carries its send time, so delivery latency is measured per reader. */
async function fanoutSse(t: Target) {
  const url = await createStream(t, `fan-${Date.now()}`, 'text/plain');
  const latencies: number[] = [];
  const counts = new Array<number>(SUBSCRIBERS).fill(0);
  const controllers: AbortController[] = [];
  let ready = 0;
  const readers = Array.from({ length: SUBSCRIBERS }, async (_, i) => {
    const ac = new AbortController();
    controllers.push(ac);
    const res = await fetch(`${url}?offset=now&live=sse`, { signal: ac.signal });
    ready++;
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (!block.startsWith('event: data')) continue;
          const sent = Number(block.split('\n')[1]!.replace(/^data: ?/, ''));
          latencies.push(performance.now() - sent);
          counts[i]!++;
        }
      }
    } catch {
      // aborted at the end
    }
  });
  while (ready < SUBSCRIBERS) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  const start = performance.now();
  for (let m = 0; m < FANOUT_MESSAGES; m++) {
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: String(performance.now()) });
    await res.arrayBuffer();
  }
  const deadline = performance.now() + 60_000;
  while (counts.some((c) => c < FANOUT_MESSAGES) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const elapsed = performance.now() - start;
  const complete = counts.filter((c) => c >= FANOUT_MESSAGES).length;
  for (const ac of controllers) ac.abort();
  await Promise.allSettled(readers);
  latencies.sort((a, b) => a - b);
  return { elapsedMs: elapsed, complete, p50: pct(latencies, 50), p99: pct(latencies, 99), deliveries: latencies.length };
}

/** 1,000 WebSocket subscribers of one session on the gateway; appends over HTTP (the same producer path). */
async function fanoutWs(base: string) {
  const session = `fanws-${Date.now()}`;
  const latencies: number[] = [];
  const counts = new Array<number>(SUBSCRIBERS).fill(0);
  const sockets = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, (_, i) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
        ws.on('message', (raw) => {
          const frame = JSON.parse(raw.toString()) as { op: string; events?: Array<{ data: number }> };
          if (frame.op === 'hello') ws.send(JSON.stringify({ op: 'subscribe', id: 1, sub: 's', session, from: 'now' }));
          else if (frame.op === 'ok') resolve(ws);
          else if (frame.op === 'events') {
            const now = performance.now();
            for (const e of frame.events!) {
              latencies.push(now - e.data);
              counts[i]!++;
            }
          }
        });
        ws.on('error', reject);
      }),
    ),
  );
  const start = performance.now();
  for (let m = 0; m < FANOUT_MESSAGES; m++) {
    const res = await fetch(`${base}/v1/sessions/${session}/events`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'n', data: performance.now() }) });
    await res.arrayBuffer();
  }
  const deadline = performance.now() + 60_000;
  while (counts.some((c) => c < FANOUT_MESSAGES) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const elapsed = performance.now() - start;
  const complete = counts.filter((c) => c >= FANOUT_MESSAGES).length;
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  return { elapsedMs: elapsed, complete, p50: pct(latencies, 50), p99: pct(latencies, 99), deliveries: latencies.length };
}

/** Forks of a 1,000-message stream: PUT latency p50/p99, and the time to read a fork whole (catch-up GET). */
async function forks(t: Target) {
  freshAgent();
  const source = await createStream(t, `fork-src-${Date.now()}`);
  const body = new Uint8Array(100).fill(122);
  for (let i = 0; i < 1_000; i++) await post(source, body);
  const n = QUICK ? 50 : 200;
  const create: number[] = [];
  const read: number[] = [];
  const plain: number[] = [];
  const readAll = async (url: string) => {
    const start = performance.now();
    let bytes = 0;
    let offset = '-1';
    for (;;) {
      const page = await fetch(`${url}?offset=${offset}`);
      bytes += (await page.arrayBuffer()).byteLength;
      offset = page.headers.get('Stream-Next-Offset')!;
      if (page.headers.get('Stream-Up-To-Date') === 'true') break;
    }
    if (bytes !== 100_000) throw new Error(`${t.name}: read ${bytes} bytes`);
    return performance.now() - start;
  };
  for (let i = 0; i < n; i++) {
    const url = `${t.base}/v1/stream/fork-${Date.now()}-${i}`;
    const start = performance.now();
    const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Stream-Forked-From': new URL(source).pathname } });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`${t.name}: fork PUT ${res.status}`);
    create.push(performance.now() - start);
    read.push(await readAll(url));
    plain.push(await readAll(source));
  }
  for (const list of [create, read, plain]) list.sort((a, b) => a - b);
  return { createP50: pct(create, 50), createP99: pct(create, 99), readP50: pct(read, 50), readP99: pct(read, 99), plainP50: pct(plain, 50) };
}

/** The gateway's native path: sequential appends over one WebSocket (request → ok), and 32 in flight. */
async function wsAppends(base: string, size: number) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
  const waiting = new Map<number, () => void>();
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as { op: string; id?: number };
    if (frame.op !== 'ok' && frame.op !== 'error') return;
    if (frame.op === 'error') throw new Error(raw.toString());
    waiting.get(frame.id!)?.();
    waiting.delete(frame.id!);
  });
  await new Promise((r) => ws.once('open', r));
  const session = `wsrt-${size}-${Date.now()}`;
  const data = 'x'.repeat(size);
  let id = 0;
  const append = () =>
    new Promise<void>((resolve) => {
      const n = ++id;
      waiting.set(n, resolve);
      ws.send(JSON.stringify({ op: 'append', id: n, session, event: { type: 't', data } }));
    });
  for (let i = 0; i < 50; i++) await append();
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = performance.now();
    await append();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  let done = 0;
  const end = performance.now() + THROUGHPUT_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        await append();
        done++;
      }
    }),
  );
  ws.terminate();
  return { p50: pct(times, 50), p99: pct(times, 99), msgPerSec: done / ((performance.now() - start) / 1000) };
}

async function main() {
  const reference = new DurableStreamTestServer({ port: 0, longPollTimeout: 30_000, compression: false });
  const referenceUrl = await reference.start();
  const gateway = await startGateway({ store: 'memory:', auth: false, limits: { requestsPerSecond: 1_000_000, framesPerSecond: 1_000_000, maxSubscriptions: 10 }, longPollMs: 30_000 });
  const targets: Target[] = [
    { name: 'gateway (memory)', base: gateway.url },
    { name: 'DS reference 0.3.7', base: referenceUrl },
  ];
  console.log(`# gateway vs Durable Streams reference server — node ${process.version}, ${new Date().toISOString()}${QUICK ? ' (quick)' : ''}`);
  const ratios: string[] = [];
  const ratio = (what: string, gateway: number, ref: number) => ratios.push(`${what.padEnd(48)} ${fmt(gateway)} / ${fmt(ref)} = ${(gateway / ref).toFixed(2)}x`);
  for (const size of SIZES) {
    const got = [];
    for (const t of targets) {
      const rt = await roundTrip(t, size);
      const tp = await throughput(t, size);
      got.push({ rt, tp });
      console.log(`append ${String(size).padStart(6)} B  ${t.name.padEnd(20)} round trip p50 ${fmt(rt.p50)} ms  p99 ${fmt(rt.p99)} ms  throughput ${fmt(tp.msgPerSec)} msg/s (${fmt(tp.mbPerSec)} MB/s)`);
    }
    const [g, r] = got as [(typeof got)[0], (typeof got)[0]];
    ratio(`append ${size} B round trip p50 (ms)`, g.rt.p50, r.rt.p50);
    ratio(`append ${size} B round trip p99 (ms)`, g.rt.p99, r.rt.p99);
    ratio(`append ${size} B throughput (msg/s)`, g.tp.msgPerSec, r.tp.msgPerSec);
  }
  const forked = [];
  for (const t of targets) {
    const f = await forks(t);
    forked.push(f);
    console.log(`fork of a 1,000-message stream  ${t.name.padEnd(20)} create p50 ${fmt(f.createP50)} ms  p99 ${fmt(f.createP99)} ms  catch-up read of the fork p50 ${fmt(f.readP50)} ms  p99 ${fmt(f.readP99)} ms  (of the source itself p50 ${fmt(f.plainP50)} ms)`);
  }
  ratio('fork create p50 (ms)', forked[0]!.createP50, forked[1]!.createP50);
  ratio('fork catch-up read p50 (ms)', forked[0]!.readP50, forked[1]!.readP50);
  ratio('gateway: fork read / plain read of the source, p50', forked[0]!.readP50, forked[0]!.plainP50);
  for (const size of [100, 1_024]) {
    const w = await wsAppends(gateway.url, size);
    console.log(`append ${String(size).padStart(6)} B  ${'gateway WebSocket'.padEnd(20)} round trip p50 ${fmt(w.p50)} ms  p99 ${fmt(w.p99)} ms  throughput ${fmt(w.msgPerSec)} msg/s (one socket, ${IN_FLIGHT} in flight)`);
  }
  const fans = [];
  for (const t of targets) {
    const f = await fanoutSse(t);
    fans.push(f);
    console.log(`fan-out SSE ${SUBSCRIBERS} subscribers x ${FANOUT_MESSAGES} msgs  ${t.name.padEnd(20)} all delivered in ${fmt(f.elapsedMs)} ms (${f.complete}/${SUBSCRIBERS} complete)  delivery p50 ${fmt(f.p50)} ms  p99 ${fmt(f.p99)} ms`);
  }
  const w = await fanoutWs(gateway.url);
  console.log(`fan-out WS  ${SUBSCRIBERS} subscribers x ${FANOUT_MESSAGES} msgs  ${'gateway (memory)'.padEnd(20)} all delivered in ${fmt(w.elapsedMs)} ms (${w.complete}/${SUBSCRIBERS} complete)  delivery p50 ${fmt(w.p50)} ms  p99 ${fmt(w.p99)} ms`);
  ratio(`fan-out SSE ${SUBSCRIBERS}: all delivered (ms)`, fans[0]!.elapsedMs, fans[1]!.elapsedMs);
  ratio(`fan-out SSE ${SUBSCRIBERS}: delivery p50 (ms)`, fans[0]!.p50, fans[1]!.p50);
  ratio(`fan-out SSE ${SUBSCRIBERS}: delivery p99 (ms)`, fans[0]!.p99, fans[1]!.p99);
  ratio(`fan-out ${SUBSCRIBERS}: gateway WS vs reference SSE, all (ms)`, w.elapsedMs, fans[1]!.elapsedMs);
  console.log('# ratios, gateway / reference (lower is better for ms, higher for msg/s)');
  for (const line of ratios) console.log(line);
  agent.destroy();
  await gateway.close();
  await reference.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
