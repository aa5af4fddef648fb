import { DurableSessionError } from '@durable-sessions/core';
import { percentile, perSecond } from '../bench/stats.js';
import { Countdown, within } from '../bench/wait.js';
import { settledHeap } from '../bench/workloads/idle-memory.js';
import { token, tokens, type PreparedStream, type Subject, type Token } from './subjects/subject.js';

/** What one run of a workload measured, by metric id (see `metrics.ts`). */
export type Measured = Record<string, number>;

/** CPU time this process spent since `since`, in microseconds (user + system). */
function cpuSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/**
 * How long a run may wait for its deliveries before it fails: long enough for a saturated subject to catch up,
 * short enough that a stalled one does not eat the report's time budget.
 */
const RUN_TIMEOUT_MS = 60_000;

/** Resolves on the next turn of the event loop. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * (a) The LLM-like token stream: `sessions` streams, each written at `rate` tokens per second for `seconds` by its own
 * producer (timers on an absolute schedule, phases spread over one interval), each followed live by one reader.
 * Figures: the achieved delivery rate, this process's CPU time per token, and end-to-end latency from the
 * producer's write to the reader's callback (same process, same clock).
 */
export async function tokenStream(subject: Subject, names: string[], rate: number, seconds: number): Promise<Measured> {
  const perSession = Math.max(1, Math.round(rate * seconds));
  const expected = names.length * perSession;
  const producers = await Promise.all(names.map((name) => subject.producer(name)));
  const latencies: number[] = [];
  const delivered = new Countdown(expected);
  let last = 0;
  const stops = await Promise.all(
    names.map((name) =>
      subject.follow(name, (t: Token) => {
        last = performance.now();
        latencies.push(last - t.t);
        delivered.hit();
      }),
    ),
  );
  try {
    const interval = 1000 / rate;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      producers.map(
        (producer, s) =>
          new Promise<void>((resolve) => {
            const phase = (s * interval) / names.length;
            let k = 0;
            const write = () => {
              producer.write(token(k++));
              if (k >= perSession) return resolve();
              setTimeout(write, Math.max(0, started + phase + k * interval - performance.now()));
            };
            setTimeout(write, phase);
          }),
      ),
    );
    await within(delivered.reached, `${expected} tokens delivered (${delivered.count} so far)`, RUN_TIMEOUT_MS);
    const cpuMicros = cpuSince(cpu);
    return {
      'token.rate': perSecond(expected, last - started),
      'token.target': names.length * rate,
      'token.cpu': cpuMicros / expected,
      'token.p50': percentile(latencies, 50),
      'token.p99': percentile(latencies, 99),
    };
  } finally {
    await Promise.all(stops.map((stop) => stop()));
    await Promise.all(producers.map((producer) => producer.end()));
  }
}

/** (b) Bulk append: `events` tokens in awaited batches of the subject's batch size; events per second. */
export async function bulkAppend(subject: Subject, name: string, events: number): Promise<Measured> {
  const list = tokens(events);
  const size = subject.batchSize;
  const started = performance.now();
  for (let i = 0; i < events; i += size) await subject.appendBatch(name, list.slice(i, i + size));
  return { 'bulk.rate': perSecond(events, performance.now() - started) };
}

/** Writes the long stream the read workloads use, resuming point in the middle. */
export function prepare(subject: Subject, name: string, length: number): Promise<PreparedStream> {
  return subject.prepare(name, tokens(length), Math.floor(length / 2));
}

/** (c) Resume from the middle of a long stream to its end, as a client back from a long disconnect; events per second. */
export async function resume(subject: Subject, stream: PreparedStream): Promise<Measured> {
  const started = performance.now();
  const count = await subject.resume(stream);
  const elapsed = performance.now() - started;
  const want = stream.length - stream.mark;
  if (count !== want) throw new DurableSessionError('INTERNAL', `${subject.label}: resumed ${count} tokens, expected ${want}.`);
  return { 'resume.rate': perSecond(count, elapsed) };
}

/** (d) A new tab joins a finished stream: time until it has all of it, and that time per event. */
export async function join(subject: Subject, stream: PreparedStream): Promise<Measured> {
  const started = performance.now();
  const count = await subject.join(stream);
  const elapsed = performance.now() - started;
  if (count !== stream.length) throw new DurableSessionError('INTERNAL', `${subject.label}: a new reader got ${count} tokens, expected ${stream.length}.`);
  return { 'join.ms': elapsed, 'join.perEvent': (elapsed * 1000) / stream.length };
}

/**
 * (e) Fan-out: `subscribers` live readers of one stream while `events` tokens are appended in batches; delivered
 * tokens per second over all readers (first append to last delivery), and CPU time per delivery.
 */
export async function fanout(subject: Subject, name: string, subscribers: number, events: number): Promise<Measured> {
  const producer = await subject.producer(name);
  const delivered = new Countdown(subscribers * events);
  let stops: Array<() => Promise<void>> = [];
  try {
    // In groups, so a backend that opens a connection per reader is not hit by hundreds at once.
    for (let i = 0; i < subscribers; i += 25) {
      const group = Math.min(25, subscribers - i);
      stops = stops.concat(await Promise.all(Array.from({ length: group }, () => subject.follow(name, () => delivered.hit()))));
    }
    const list = tokens(events);
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < events; i += subject.batchSize) await subject.appendBatch(name, list.slice(i, i + subject.batchSize));
    await within(delivered.reached, `${subscribers * events} deliveries (${delivered.count} so far)`, RUN_TIMEOUT_MS);
    const elapsed = performance.now() - started;
    return { 'fanout.rate': perSecond(subscribers * events, elapsed), 'fanout.cpu': cpuSince(cpu) / (subscribers * events) };
  } finally {
    await Promise.all(stops.map((stop) => stop()));
    await producer.end();
  }
}

/**
 * (f) Many idle sessions: each has an open producer (an agent that is thinking) and one live reader waiting;
 * heap bytes per session in this process after a full GC. Servers outside the process are not counted.
 */
export async function idleSessions(subject: Subject, names: string[], gc: (() => void) | undefined): Promise<Measured> {
  const before = await settledHeap(gc);
  const producers: Array<{ end(): Promise<void> }> = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    for (let i = 0; i < names.length; i += 25) {
      const group = names.slice(i, i + 25);
      producers.push(...(await Promise.all(group.map((name) => subject.producer(name)))));
      stops.push(...(await Promise.all(group.map((name) => subject.follow(name, () => {})))));
      await tick();
    }
    return { 'idle.heap': ((await settledHeap(gc)) - before) / names.length };
  } finally {
    await Promise.all(stops.map((stop) => stop()));
    await Promise.all(producers.map((producer) => producer.end()));
  }
}
