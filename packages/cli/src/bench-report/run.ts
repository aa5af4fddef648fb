import { loadavg } from 'node:os';
import { exposeGc } from '../bench/gc.js';
import { machineInfo } from '../bench/machine.js';
import { runBench } from '../bench/runner.js';
import type { BenchSizes } from '../bench/types.js';
import { sizesFor, type ReportSizes } from './sizes.js';
import { durableStreamsSubject, DURABLE_STREAMS_SERVER_VERSION } from './subjects/durable-streams.js';
import { rawSubject } from './subjects/raw.js';
import { resumableStreamSubject } from './subjects/resumable-stream.js';
import { storeSubject } from './subjects/store.js';
import type { PreparedStream, Subject, WorkloadId } from './subjects/subject.js';
import { checkTargets, TARGETS, TARGET_WORKLOADS } from './targets.js';
import type { ReportData } from './types.js';
import { bulkAppend, fanout, idleSessions, join, prepare, resume, tokenStream, type Measured } from './workloads.js';

/** The backends a full report runs, in order. */
export const ALL_BACKENDS = ['memory', 'redis', 'nats', 'kafka', 'ably'];

/** Options of {@link runReport}. */
export interface ReportOptions {
  /** Tiny sizes and one run: a smoke test. */
  quick: boolean;
  /** Backends to run, in order (see {@link ALL_BACKENDS}). */
  backends: readonly string[];
  /** Include the peers (Durable Streams always; resumable-stream with redis). @default true */
  peers?: boolean;
  /** The command line recorded in the report. */
  command: string;
  /** Receives progress lines. */
  progress?: (line: string) => void;
}

/** Where each backend's server runs, for the report (in-process servers add their CPU and heap to this process). */
const SERVER: Record<string, string> = {
  memory: 'in this process (embedded)',
  redis: 'redis-server child process (conformance launcher)',
  nats: 'nats-server child process (conformance launcher)',
  kafka: 'Kafka broker JVM child process (conformance launcher)',
  ably: 'Ably emulator in this process (not real Ably)',
  'durable-streams': 'reference server in this process, over loopback HTTP',
};

interface Run {
  data: ReportData;
  quick: boolean;
  id: string;
  gc: (() => void) | undefined;
  progress: (line: string) => void;
  /** `subject:workload` pairs that failed: not retried at the next points. */
  failed: Set<string>;
  counter: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/**
 * Runs the whole report: for each backend, its real infrastructure through the conformance launchers, the store
 * and its raw client (and resumable-stream on the same redis-server), then the Durable Streams reference server;
 * every workload on every subject, repeated, with the spread kept. A backend that cannot start is reported as
 * skipped with the reason.
 */
export async function runReport(options: ReportOptions): Promise<ReportData> {
  const started = performance.now();
  const progress = options.progress ?? (() => {});
  const gc = exposeGc();
  const run: Run = {
    data: {
      command: options.command,
      profile: options.quick ? 'quick' : 'full',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      machine: machineInfo(),
      loadavg: { start: loadavg(), end: [] },
      gc: gc !== undefined,
      versions: { '@durable-streams/server': DURABLE_STREAMS_SERVER_VERSION },
      backends: [],
      subjects: [],
      points: [],
      notAvailable: [],
      harness: [],
      targets: [],
    },
    quick: options.quick,
    id: `r${Date.now().toString(36)}${globalThis.crypto.randomUUID().slice(0, 4)}`,
    gc,
    progress,
    failed: new Set(),
    counter: 0,
  };
  const peers = options.peers !== false;
  let dsDone = !peers;
  for (const backend of options.backends) {
    await runBackend(run, backend, peers);
    if (backend === 'memory' && !dsDone) {
      dsDone = true;
      await runPeerDurableStreams(run);
    }
  }
  if (!dsDone) await runPeerDurableStreams(run);
  run.data.loadavg.end = loadavg();
  run.data.durationMs = Math.round(performance.now() - started);
  return run.data;
}

async function runPeerDurableStreams(run: Run): Promise<void> {
  run.progress('bench-report: peer: Durable Streams reference server (in-process)');
  let subject: Subject;
  try {
    subject = await durableStreamsSubject();
  } catch (err) {
    run.data.backends.push({ backend: 'durable-streams', status: 'skipped', reason: message(err), server: SERVER['durable-streams']! });
    return;
  }
  const sizes = sizesFor('durable-streams', run.quick);
  run.data.backends.push({ backend: 'durable-streams', status: 'ran', server: SERVER['durable-streams']!, sizes });
  try {
    await runGroup(run, [subject], sizes);
  } finally {
    await subject.close().catch(() => {});
  }
}

async function runBackend(run: Run, backend: string, peers: boolean): Promise<void> {
  const server = SERVER[backend] ?? 'a child process';
  const skip = (reason: string) => {
    run.progress(`bench-report: ${backend}: SKIPPED: ${reason}`);
    run.data.backends.push({ backend, status: 'skipped', reason, server });
  };
  let url = 'memory:';
  let stopInfra: (() => Promise<void>) | undefined;
  if (backend !== 'memory') {
    run.progress(`bench-report: ${backend}: starting its infrastructure`);
    try {
      const { infraLauncher } = await import('@durable-sessions/conformance/infra');
      const launcher = await infraLauncher(backend);
      if (!launcher) return skip(`no launcher named ${backend} in @durable-sessions/conformance`);
      const infra = await launcher.start({});
      url = infra.url;
      stopInfra = () => infra.stop();
    } catch (err) {
      return skip(`its infrastructure did not start: ${message(err)}`);
    }
  }
  const subjects: Subject[] = [];
  try {
    // The harness first: its raw baselines clean up after themselves (NATS deletes its raw stream on close), which
    // must not happen under the report's own raw subject.
    if (TARGETS[backend]) await runHarness(run, url);
    let store: Subject;
    try {
      store = await storeSubject(url);
      subjects.push(store);
      subjects.push(await rawSubject(backend, url, store.batchSize));
    } catch (err) {
      return skip(`the store or its raw baseline could not connect: ${message(err)}`);
    }
    if (backend === 'redis' && peers) {
      try {
        subjects.push(await resumableStreamSubject(url));
      } catch (err) {
        run.progress(`bench-report: resumable-stream could not start: ${message(err)}`);
        run.data.notAvailable.push({ subject: 'peer/resumable-stream', workload: 'token', reason: `could not start: ${message(err)}` });
      }
    }
    const sizes = sizesFor(backend, run.quick);
    run.data.backends.push({ backend, status: 'ran', server, sizes });
    await runGroup(run, subjects, sizes);
  } finally {
    for (const subject of subjects) await subject.close().catch((err: unknown) => run.progress(`bench-report: closing ${subject.id}: ${message(err)}`));
    await stopInfra?.().catch(() => {});
  }
}

/** The harness's own writer, replay and latency workloads, on which the adapters' target ratios are defined. */
async function runHarness(run: Run, url: string): Promise<void> {
  const sizes: Partial<BenchSizes> = run.quick ? {} : { repetitions: 3 };
  try {
    const report = await runBench(url, {
      quick: run.quick,
      only: TARGET_WORKLOADS,
      sizes,
      ...(run.quick ? {} : { maxSizes: { writer: 20_000, replayLength: 40_000, latency: 1_000 } }),
      progress: (line) => run.progress(`  harness ${line}`),
      command: `durable-sessions bench ${url} --only ${TARGET_WORKLOADS.join(',')}`,
    });
    run.data.harness.push(report);
    run.data.targets.push(...checkTargets(report));
  } catch (err) {
    run.progress(`bench-report: harness on ${url} failed: ${message(err)}`);
  }
}

/** Runs every workload on a group of subjects that share a backend (the store, its raw client, a peer). */
async function runGroup(run: Run, subjects: Subject[], sizes: ReportSizes): Promise<void> {
  for (const subject of subjects) {
    run.data.subjects.push({ id: subject.id, label: subject.label, role: subject.role, backend: subject.backend });
    for (const [workload, reason] of Object.entries(subject.unsupported)) {
      run.data.notAvailable.push({ subject: subject.id, workload: workload as WorkloadId, reason: `n/a: ${reason}` });
    }
  }
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  for (const [i, x] of sizes.tokenSessions.entries()) {
    await measure(run, subjects, sizes, 'token', x, i === 0, (s, name) => tokenStream(s, range(x).map((k) => `${name}-${k}`), sizes.tokenRate, sizes.tokenSeconds));
  }
  await measure(run, subjects, sizes, 'bulk', sizes.bulkEvents, true, (s, name) => bulkAppend(s, name, sizes.bulkEvents));
  const longest = Math.max(...sizes.joinLengths);
  for (const [i, length] of sizes.joinLengths.entries()) {
    const prepared = new Map<Subject, PreparedStream>();
    const wanted = subjects.filter((s) => usable(run, s, 'join') || (length === longest && usable(run, s, 'resume')));
    for (const s of wanted) {
      try {
        prepared.set(s, await prepare(s, name(run, 'prep', length, 0), length));
      } catch (err) {
        fail(run, s, 'join', err);
        fail(run, s, 'resume', err);
      }
    }
    const ready = subjects.filter((s) => prepared.has(s));
    try {
      await measure(run, ready, sizes, 'join', length, i === 0, (s) => join(s, prepared.get(s)!));
      if (length === longest) await measure(run, ready, sizes, 'resume', length, true, (s) => resume(s, prepared.get(s)!));
    } finally {
      for (const stream of prepared.values()) await stream.release().catch(() => {});
    }
  }
  for (const [i, x] of sizes.fanoutSubscribers.entries()) {
    await measure(run, subjects, sizes, 'fanout', x, i === 0, (s, n) => fanout(s, n, x, sizes.fanoutEvents));
  }
  const idle = sizes.idleSessions;
  await measure(run, subjects, sizes, 'idle', idle, false, (s, n) => idleSessions(s, range(idle).map((k) => `${n}-${k}`), run.gc));
}

function usable(run: Run, subject: Subject, workload: WorkloadId): boolean {
  return subject.unsupported[workload] === undefined && !run.failed.has(`${subject.id}:${workload}`);
}

function fail(run: Run, subject: Subject, workload: WorkloadId, err: unknown): void {
  if (run.failed.has(`${subject.id}:${workload}`) || subject.unsupported[workload] !== undefined) return;
  run.failed.add(`${subject.id}:${workload}`);
  run.data.notAvailable.push({ subject: subject.id, workload, reason: `failed: ${message(err)}` });
  run.progress(`bench-report: ${subject.id} ${workload} FAILED: ${message(err)}`);
}

function name(run: Run, workload: string, x: number, rep: number): string {
  return `${run.id}-${workload}-${x}-${rep < 0 ? 'w' : rep}-${run.counter++}`;
}

/**
 * Runs `body` on every usable subject `reps` times (after one unmeasured warm-up when asked), rotating which
 * subject goes first so none always runs on a warmer or more fragmented process, and records every value.
 */
async function measure(
  run: Run,
  subjects: Subject[],
  sizes: ReportSizes,
  workload: WorkloadId,
  x: number,
  warmup: boolean,
  body: (subject: Subject, name: string) => Promise<Measured>,
): Promise<void> {
  const samples = new Map<string, Map<string, number[]>>();
  for (let rep = warmup ? -1 : 0; rep < sizes.reps; rep++) {
    const active = subjects.filter((s) => usable(run, s, workload));
    const shift = rep < 0 ? 0 : rep % Math.max(1, active.length);
    const order = [...active.slice(shift), ...active.slice(0, shift)];
    for (const subject of order) {
      try {
        const measured = await body(subject, name(run, workload, x, rep));
        if (rep < 0) continue;
        const bySubject = samples.get(subject.id) ?? samples.set(subject.id, new Map()).get(subject.id)!;
        for (const [metric, value] of Object.entries(measured)) {
          if (metric.endsWith('.target')) continue;
          (bySubject.get(metric) ?? bySubject.set(metric, []).get(metric)!).push(value);
        }
        run.progress(`  ${subject.id} ${workload} @${x} run ${rep + 1}/${sizes.reps}: ${Object.entries(measured).map(([k, v]) => `${k.split('.')[1]} ${Number(v.toPrecision(3))}`).join(', ')}`);
      } catch (err) {
        fail(run, subject, workload, err);
      }
    }
  }
  for (const [subject, metrics] of samples) {
    if (run.failed.has(`${subject}:${workload}`)) continue;
    for (const [metric, values] of metrics) run.data.points.push({ metric, subject, x, samples: values });
  }
}
