import { formatBench } from '../bench/report.js';
import type { ChartSpec } from './charts.js';
import { METRICS, WORKLOAD_TITLES } from './metrics.js';
import type { WorkloadId } from './subjects/subject.js';
import { formatSpread, formatValue, isWorse, ratio, summarize, verdict, type Summary } from './summary.js';
import { notes } from './notes.js';
import type { ReportData, SubjectInfo } from './types.js';

/** Durable Sessions store ÷ peer comparisons the report states, when both ran. */
export const PEER_PAIRS: Array<{ store: string; peer: string; why: string }> = [
  { store: 'memory/store', peer: 'peer/durable-streams', why: 'both in this process, in memory; the peer adds loopback HTTP, as it is meant to be used' },
  { store: 'redis/store', peer: 'peer/resumable-stream', why: 'the same redis-server' },
  { store: 'redis/store', peer: 'peer/durable-streams', why: 'a durable network backend vs the peer\'s in-memory server' },
];

const cell = (text: string) => text.replace(/\|/g, '\\|');
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

/** The largest point of a metric for a subject (the tables show it; the curves show them all). */
function top(data: ReportData, metric: string, subject: string): { x: number; s: Summary } | undefined {
  const points = data.points.filter((p) => p.metric === metric && p.subject === subject).sort((a, b) => b.x - a.x);
  return points[0] ? { x: points[0].x, s: summarize(points[0].samples) } : undefined;
}

/** The value of a metric at point `x` for a subject. */
function at(data: ReportData, metric: string, subject: string, x: number): Summary | undefined {
  const p = data.points.find((q) => q.metric === metric && q.subject === subject && q.x === x);
  return p ? summarize(p.samples) : undefined;
}

function subjectName(s: SubjectInfo): string {
  if (s.role === 'store') return `**Durable Sessions** on ${s.backend}`;
  if (s.role === 'raw') return `raw ${s.backend} client`;
  return s.label;
}

function notAvailable(data: ReportData, subject: string, workload: WorkloadId): string | undefined {
  return data.notAvailable.find((n) => n.subject === subject && n.workload === workload)?.reason;
}

/** One workload's table: every subject at its largest point, median, spread, and its ratio to its baseline. */
function metricTable(data: ReportData, metric: string): string {
  const def = METRICS[metric]!;
  const rows: string[][] = [];
  for (const s of data.subjects) {
    const na = notAvailable(data, s.id, def.workload);
    const t = top(data, metric, s.id);
    if (!t) {
      rows.push([subjectName(s), '', na ?? 'n/a: not measured', '', '']);
      continue;
    }
    let vs = '';
    if (s.role === 'store') {
      const raw = at(data, metric, `${s.backend}/raw`, t.x);
      vs = raw ? `${verdict(ratio(t.s.median, raw.median), def.better)} vs raw` : 'no raw figure';
    } else if (s.role === 'raw') {
      vs = 'baseline';
    } else {
      vs = PEER_PAIRS.filter((p) => p.peer === s.id)
        .map((p) => {
          const mine = at(data, metric, p.store, t.x);
          return mine ? `Durable Sessions (${p.store.split('/')[0]}) ${verdict(ratio(mine.median, t.s.median), def.better)}` : '';
        })
        .filter(Boolean)
        .join('; ');
    }
    // A failure at a larger point leaves the smaller points standing: say why the curve stops there.
    if (na) vs = `${vs}${vs ? '; ' : ''}larger sizes ${na}`;
    rows.push([subjectName(s), `${t.x}`, formatValue(t.s.median, def.unit), formatSpread(t.s, def.unit), vs]);
  }
  return table(['subject', METRICS[metric]!.x, `${def.title} (median)`, 'spread (min–max)', 'ratio (Durable Sessions ÷ baseline or peer)'], rows);
}

/** A curve as a table: x down, subjects across. */
function curveTable(data: ReportData, metric: string): string {
  const def = METRICS[metric]!;
  const subjects = data.subjects.filter((s) => data.points.some((p) => p.metric === metric && p.subject === s.id));
  const xs = [...new Set(data.points.filter((p) => p.metric === metric).map((p) => p.x))].sort((a, b) => a - b);
  const rows = xs.map((x) => [String(x), ...subjects.map((s) => {
    const v = at(data, metric, s.id, x);
    return v ? `${formatValue(v.median, def.unit)} (${formatSpread(v, def.unit)})` : '';
  })]);
  return table([def.x, ...subjects.map((s) => subjectName(s).replace(/\*\*/g, ''))], rows);
}

/** Plain statements: where Durable Sessions is worse and better than the raw client and each peer. */
function summaryLines(data: ReportData): string[] {
  const lines: string[] = [];
  const compare = (mine: string, other: string, otherName: string) => {
    const worse: string[] = [];
    const better: string[] = [];
    const par: string[] = [];
    for (const [metric, def] of Object.entries(METRICS)) {
      // The largest size both measured (a failure can end one side's curve early).
      const xs = data.points.filter((p) => p.metric === metric && p.subject === other).map((p) => p.x).sort((a, b) => b - a);
      const x = xs.find((v) => at(data, metric, mine, v) !== undefined);
      if (x === undefined) continue;
      const r = ratio(at(data, metric, mine, x)!.median, at(data, metric, other, x)!.median);
      const text = `${def.title} ${verdict(r, def.better)}`;
      if (isWorse(r, def.better)) worse.push(text);
      else if (Math.abs(r - 1) <= 0.05) par.push(text);
      else better.push(text);
    }
    if (worse.length + better.length + par.length === 0) return;
    const name = mine.split('/')[0];
    lines.push(`- **Durable Sessions on ${name} vs ${otherName}.** Slower or costlier: ${worse.join('; ') || 'none'}. On par: ${par.join('; ') || 'none'}. Faster or cheaper: ${better.join('; ') || 'none'}.`);
  };
  for (const b of data.backends.filter((x) => x.status === 'ran' && data.subjects.some((s) => s.id === `${x.backend}/raw`))) compare(`${b.backend}/store`, `${b.backend}/raw`, `its raw ${b.backend} client`);
  for (const pair of PEER_PAIRS) {
    const peer = data.subjects.find((s) => s.id === pair.peer);
    if (peer && data.subjects.some((s) => s.id === pair.store)) compare(pair.store, pair.peer, `${peer.label} — ${pair.why}`);
  }
  return lines;
}

/** The whole `docs/benchmarks.md`, embedding `charts` from `chartDir` (relative to the markdown). */
export function renderMarkdown(data: ReportData, charts: ChartSpec[], chartDir: string): string {
  const m = data.machine;
  const gib = (m.totalMemoryBytes / 2 ** 30).toFixed(1);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  const reps = data.backends.find((b) => b.sizes)?.sizes?.reps ?? 0;
  const out: string[] = [];
  out.push('# Benchmarks: Durable Sessions vs raw clients and peers', '');
  out.push('<!-- Generated by `npm run bench:report` (packages/cli/src/bench-report). Do not edit by hand: re-run it. -->', '');
  out.push(
    `Generated on ${data.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} by \`${data.command}\` (${data.profile} profile, ${(data.durationMs / 60_000).toFixed(1)} min);`,
    'regenerate it with `npm run bench:report`, which builds and runs `durable-sessions bench-report`.',
    `Every figure is the **median of ${reps} run(s)** with the spread (min–max over the runs) beside it, and every ratio`,
    'compares two subjects measured **in this same run**, on this machine: the Durable Sessions store against its own',
    'backend\'s raw client (the adapter\'s `./bench` baseline, nothing of Durable Sessions in between), and against the',
    'peers that do the same job. Ratios are Durable Sessions ÷ the other side; each says whether that is faster/better or',
    `slower/worse, and within ±5 % it says "on par" (the noise of a shared machine).`,
    '',
  );
  out.push('## Machine', '');
  out.push(
    `- ${m.cpus} × ${m.cpuModel}, ${gib} GiB RAM, ${m.os}, Node ${m.node} (V8 ${m.v8}); full GC for heap figures: ${data.gc ? 'yes' : 'NO (heap figures noisy)'}.`,
    `- Load average (1 / 5 / 15 min) at the start: ${load(data.loadavg.start)}; at the end: ${load(data.loadavg.end)}. Other processes were running on this`,
    '  machine during the run (on a 2-core machine a load above 2 means the benchmark competed for CPU): absolute numbers are',
    '  pessimistic; the side-by-side ratios are what to read.',
    '',
  );
  out.push('## Backends and peers', '');
  out.push(
    table(
      ['backend', 'status', 'server'],
      data.backends.map((b) => [b.backend, b.status === 'ran' ? 'ran' : `**skipped**: ${b.reason ?? ''}`, b.server]),
    ),
    '',
  );
  out.push('## Summary', '', ...summaryLines(data), '');
  out.push('## Target ratios of the adapter issues', '');
  if (data.targets.length === 0) {
    out.push('No backend with a target ratio ran (targets: Redis and NATS writer ≥ 0.9×, replay ≥ 0.8×, live p50 within 0.3 ms of raw; Kafka writer ≥ 0.9×, replay ≥ 0.8×).', '');
  } else {
    out.push(
      'Checked on the harness\'s own workloads (`durable-sessions bench <url> --only append-writer,replay,latency`, figures below), in this run:',
      '',
      table(['backend', 'figure', 'target', 'measured', 'met'], data.targets.map((t) => [t.backend, t.figure, t.target, t.measured, t.met ? 'yes' : '**NO**'])),
      '',
    );
    const missed = data.targets.filter((t) => !t.met);
    if (missed.length > 0) {
      out.push(`**Below target:** ${missed.map((t) => `${t.backend} ${t.figure} (${t.measured}, target ${t.target})`).join('; ')}. The reasons and follow-ups are in the notes at the end.`, '');
    }
  }
  for (const [workload, title] of Object.entries(WORKLOAD_TITLES) as Array<[WorkloadId, string]>) {
    out.push(`## ${title}`, '');
    for (const [metric, def] of Object.entries(METRICS)) {
      if (def.workload !== workload) continue;
      out.push(`### ${def.title} (${def.unit}, ${def.better} is better)`, '', metricTable(data, metric), '');
    }
  }
  out.push('## Scaling curves', '');
  out.push('Cost per unit of work against scale, log–log, median with min–max bars: a flat line means cost grows linearly with the scale, a rising one means worse than linear.', '');
  for (const chart of charts) out.push(`![${chart.title}](${chartDir}/${chart.file})`, '');
  for (const metric of ['token.cpu', 'token.p50', 'join.perEvent', 'fanout.cpu']) {
    if (!data.points.some((p) => p.metric === metric)) continue;
    out.push(`### ${METRICS[metric]!.title} vs ${METRICS[metric]!.x}`, '', curveTable(data, metric), '');
  }
  if (data.harness.length > 0) {
    out.push('## Harness figures (`durable-sessions bench`)', '');
    for (const report of data.harness) out.push('```text', formatBench(report), '```', '');
  }
  out.push(...notes(data));
  return `${out.join('\n').trimEnd()}\n`;
}
