import type { ReportData, TargetCheck } from './types.js';

/**
 * Why an adapter misses a target, and the follow-up, as its adapter's docs and issue explain it; shown only for
 * targets this run missed. Keyed `<backend> <figure>`.
 */
export const TARGET_REASONS: Record<string, string> = {
  'kafka writer throughput':
    'an append is one produce request (idempotent producer, acks all) and one append is in flight per session, as on the raw side, but the store does work per event that the raw side did before its clock started (validation, JSON encoding with timestamp, connection id and producer stamp: larger records) on the same event loop as the bench\'s bursts of 1,000 writes. During the bursts about one 256-event append leaves per burst (100k writes left a backlog of ~85k when the bursts ended), and the backlog then drains at ~3.3 ms per append against the raw producer\'s ~2.0 ms; GC of the backlog is ~20-30 % of the busy time. Larger batches do not change the ratio (writer batches of 1,000 against raw batches of 1,000: ~0.5x as well). What would: more than one append in flight per partition, which neither client does here (@platformatic/kafka 1.x gives concurrent idempotent sends to one partition the same sequence number; kafkajs runs with one request in flight so the broker de-duplicates its resends): docs/adapters/kafka.md.',
  'kafka replay throughput':
    'the adapter reads through its per-partition view (rebuilt from the log) while the raw side seeks a throw-away consumer; on a busy machine either side can be dominated by fetch waits (`maxWaitTimeInMs`). Follow-up: profile the view\'s catch-up path with larger fetch sizes.',
  'redis writer throughput':
    'each writer batch is one Lua script that checks the producer stamp and the end marker and writes the entries atomically, where the raw side pipelines bare XADDs. Follow-up: see the Redis adapter issue.',
  'redis replay throughput':
    'each page is one pipelined XRANGE plus a read of the trim watermark, decoded with one JSON.parse of the whole page into events with public offsets, while the raw side counts entries and decodes nothing. Against a raw pager that JSON-parses every entry (`DS_BENCH_RAW_PARSE=1 durable-sessions bench redis://… --only replay`) the store reaches about 0.75–0.8×; in a profile, the page\'s JSON.parse is about 20 % of replay time and RESP decoding about 15 %. Follow-up: see the Redis adapter issue (lazy decoding of event data, or a page API that hands out raw bytes).',
  'redis live latency p50':
    'delivery goes through the adapter\'s shared tail (one XREAD BLOCK connection multiplexing sessions) plus decoding; the raw side has a dedicated blocking connection per follower. Follow-up: see the Redis adapter issue.',
  'nats writer throughput': 'each writer batch is one JetStream message with an expected-subject-sequence check (one total order per log). Follow-up: see the NATS adapter issue.',
  'nats replay throughput': 'the store decodes packed records and validates every event. Follow-up: see the NATS adapter issue.',
  'nats live latency p50':
    'an append carries the expected-subject-sequence check, which the server answers by looking up the subject\'s last message (docs/adapters/nats.md). Follow-up: see the NATS adapter issue.',
};

/** The reason and follow-up for a missed target. */
export function targetReason(t: TargetCheck): string {
  return TARGET_REASONS[`${t.backend} ${t.figure}`] ?? 'not analysed yet. Follow-up: profile this workload against the raw client.';
}

/** The method and the limits of the figures, stated once at the end of the report. */
export function notes(data: ReportData): string[] {
  const missed = data.targets.filter((t) => !t.met);
  const out: string[] = ['## Notes', ''];
  if (missed.length > 0) {
    out.push('### Below target: reasons and follow-ups', '');
    for (const t of missed) out.push(`- **${t.backend}, ${t.figure}** (${t.measured}; target ${t.target}): ${targetReason(t)}`);
    out.push('');
  }
  out.push(
    '### What each subject does',
    '',
    '- **Durable Sessions**: `connect(url)`; tokens through `session.writer({ lingerMs: 0 })`, then `session.end()`; batches through',
    '  `session.append([…100 events])`; live readers `session.subscribe({ from: \'now\' })`; resume `session.events({ from: <offset at 50 %> })`;',
    '  a new tab `session.subscribe({ from: \'start\' })` until it completes at the durable end. Every event is validated, encoded, offset-tagged.',
    '- **raw client**: the adapter\'s own `./bench` baseline (`createBaseline(url)`, the one `durable-sessions bench` uses) — the',
    '  backend\'s client with nothing of Durable Sessions in between: one awaited write per token, in order; batches pipelined;',
    '  replay pages of 1,000 counted without decoding; no end marker. It is a floor, not a product: it has no offsets to',
    '  resume from, no idempotence, no end of stream.',
    '- **Durable Streams reference server** (`@durable-streams/server`, in-memory, in this process, compression off), driven',
    '  over loopback HTTP by `@durable-streams/client`: tokens through an `IdempotentProducer` (linger 0), batches through one',
    '  producer per stream flushed per 100, live readers over SSE from `now`, catch-up GETs (`live: false`). Its server\'s CPU',
    '  and heap are counted in this process, as are the memory backend\'s and the Ably emulator\'s.',
    '- **resumable-stream** (Vercel, v2) on the same redis-server as the Redis adapter, node-redis clients: the producer is a',
    '  `createNewResumableStream` whose source gets one newline-delimited JSON chunk per token; readers are',
    '  `resumeExistingStream` listeners over Redis pub/sub (the producer\'s own reader is in its process and costs no Redis).',
    '  It keeps tokens in the producer\'s memory: resuming works only while that process lives, a finished stream cannot be',
    '  replayed (n/a), and there is no append API (n/a for bulk). Its fan-out publishes every chunk once per listener.',
    '',
    '### Method and limits',
    '',
    '- Token stream: each session has its own producer, writing on timers at 50 tokens/s on an absolute schedule (phases',
    '  spread over one interval), and one live reader. Latency is reader callback time minus write time, one process, one',
    '  clock. CPU is `process.cpuUsage()` (user + system) from the first write to the last delivery, divided by tokens:',
    '  it includes the process\'s fixed cost per second (timers, GC), which dominates at one session, so CPU per token',
    '  falls as sessions grow (amortisation); it excludes servers in child processes (redis-server, nats-server, Kafka).',
    '  The achieved rate falls below the target rate when a subject cannot keep up (CPU, or one awaited write at a time',
    '  per session on a slow round trip); its latency then measures queueing more than the path: read the curve tables,',
    '  which show every size.',
    '- A run that does not get all its deliveries within 60 s fails; the subject\'s curve then stops at the last size',
    '  that completed and the table says so ("larger sizes failed: …"). Such a stall is a finding, not noise: a',
    '  subscriber that stops receiving, or tokens that never arrive.',
    '- Token latency of Durable Sessions includes the writer\'s send scheduling: with `lingerMs: 0` the writer sends on',
    '  `setImmediate`, after the current turn so that writes made in one loop share a batch (packages/core/src/writer.ts),',
    '  while the raw memory client delivers synchronously. That hop, with validation and encoding, is the embedded',
    '  backend\'s latency ratio.',
    '- Each point runs after one unmeasured warm-up (at the first point of each workload); the order of subjects rotates',
    '  every run; the median is reported and the spread is min–max over the runs. Raw values of every run are in',
    '  `benchmarks/report.json`.',
    '- Heap: `heapUsed` after full GCs once it has settled, before and after opening the idle sessions (each an open',
    '  producer and one live reader). Memory of servers in child processes is not counted.',
    '- Sizes differ per backend (Kafka and Ably use fewer sessions and subscribers: a raw Kafka reader is a consumer-group',
    '  join each); the tables show each subject\'s largest point, and ratios always compare equal sizes.',
    '- The Ably figures are against the project\'s local emulator, in this process, not Ably\'s service.',
    '',
  );
  return out;
}
