import { readFile } from 'node:fs/promises';
import { UsageError, parseCommand, stringOption } from '../args.js';
import { ALL_BACKENDS, runReport } from '../bench-report/run.js';
import type { ReportData } from '../bench-report/types.js';
import { writeReport } from '../bench-report/write.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions bench-report`. */
export const BENCH_REPORT_USAGE = `Usage: durable-sessions bench-report [--quick] [--backends ${ALL_BACKENDS.join(',')}] [--no-peers] [--out DIR]

Runs, in this process tree, every backend (its real server started by the conformance launchers) against its raw
client and against the peers that do the same job: the Durable Streams reference server (in-process, over HTTP)
and Vercel's resumable-stream on the same redis-server. Same workloads everywhere: an LLM-like token stream
(50 tokens/s per session × many sessions), bulk append, resume from the middle of a long session, a new tab
joining a finished session, fan-out to many subscribers, many idle sessions; with scaling curves, repeated runs
(median and min–max), and the adapters' target ratios checked on the bench harness. Writes DIR/benchmarks.md,
SVG charts and report.json in DIR/benchmarks/. A backend whose server cannot start is reported as skipped.

  --quick          tiny sizes, one run: a smoke test (about a minute), not a measurement
  --backends LIST  comma-separated, default all: ${ALL_BACKENDS.join(',')}
  --no-peers       leave out the Durable Streams and resumable-stream peers
  --out DIR        where to write (default: docs)
  --render FILE    measure nothing: regenerate the markdown and charts from a report.json written earlier`;

/** `durable-sessions bench-report`: the side-by-side benchmark report with charts. */
export async function benchReportCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values } = parseCommand(args, { quick: { type: 'boolean' }, backends: { type: 'string' }, out: { type: 'string' }, 'no-peers': { type: 'boolean' }, render: { type: 'string' } }, { min: 0, max: 0 });
  if (values.help) {
    ctx.out(BENCH_REPORT_USAGE);
    return 0;
  }
  const backends = (stringOption(values, 'backends') ?? ALL_BACKENDS.join(',')).split(',').map((b) => b.trim()).filter(Boolean);
  const unknown = backends.filter((b) => !ALL_BACKENDS.includes(b));
  if (unknown.length > 0) throw new UsageError(`Unknown backend ${unknown.join(', ')}. Known: ${ALL_BACKENDS.join(', ')}.`);
  const out = stringOption(values, 'out') ?? 'docs';
  const render = stringOption(values, 'render');
  if (render !== undefined) {
    const written = await writeReport(JSON.parse(await readFile(render, 'utf8')) as ReportData, out);
    ctx.out(`bench-report: rendered ${written.markdown} and ${written.charts.length} chart(s) from ${render}`);
    return 0;
  }
  const data = await runReport({
    quick: values.quick === true,
    backends,
    peers: values['no-peers'] !== true,
    command: ['durable-sessions', 'bench-report', ...args].join(' '),
    progress: (line) => ctx.err(line),
  });
  const written = await writeReport(data, out);
  ctx.out(`bench-report: wrote ${written.markdown}, ${written.charts.length} chart(s) and ${written.json}`);
  const skipped = data.backends.filter((b) => b.status === 'skipped');
  for (const b of skipped) ctx.err(`bench-report: ${b.backend} was skipped: ${b.reason}`);
  return 0;
}
