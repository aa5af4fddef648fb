import { writeFile } from 'node:fs/promises';
import { UsageError, parseCommand, stringOption } from '../args.js';
import { formatBench } from '../bench/report.js';
import { runBench, WORKLOADS } from '../bench/runner.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions bench`. */
export const BENCH_USAGE = `Usage: durable-sessions bench <url> [--json FILE] [--quick] [--only ID,ID]

Measures every workload through Durable Sessions and through the backend's raw client, side by side in one run,
and prints both and their ratio: append throughput (single awaited, batches of 100, session.writer()),
append-to-delivery latency p50/p99, replay rate from the middle of a long session, time to first event,
fan-out to many subscribers, and heap bytes per idle subscription. Each figure is the median of 5 runs after a
warm-up; a 2-second calibration first shrinks the sizes for slow backends so each run takes a few seconds.
The raw client comes from the adapter package: @durable-sessions/<backend>/bench (export createBaseline).
Run it against a scratch server (e.g. durable-sessions infra redis): its sessions are not deleted afterwards.

  --quick       tiny sizes, one run, no calibration: a smoke test, not a measurement
  --only IDS    comma-separated workload ids: ${WORKLOADS.map((w) => w.id).join(', ')}
  --json FILE   write every figure with its baseline, ratio and samples, the machine and the command`;

/** `durable-sessions bench <url>`: the benchmark harness every adapter reuses. */
export async function benchCommand(args: string[], ctx: CliContext, argv: readonly string[] = args): Promise<number> {
  const { values, positionals } = parseCommand(args, { json: { type: 'string' }, quick: { type: 'boolean' }, only: { type: 'string' } }, { min: 1, max: 1 });
  if (values.help) {
    ctx.out(BENCH_USAGE);
    return 0;
  }
  const jsonFile = stringOption(values, 'json');
  const only = stringOption(values, 'only')?.split(',').map((id) => id.trim()).filter(Boolean);
  const unknown = only?.filter((id) => !WORKLOADS.some((w) => w.id === id)) ?? [];
  if (unknown.length > 0) throw new UsageError(`Unknown workload ${unknown.join(', ')}. Known: ${WORKLOADS.map((w) => w.id).join(', ')}.`);
  const report = await runBench(positionals[0]!, {
    quick: values.quick === true,
    ...(only ? { only } : {}),
    progress: (line) => ctx.err(line),
    command: ['durable-sessions', ...argv].join(' '),
  });
  ctx.out(formatBench(report));
  if (jsonFile) {
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    ctx.err(`bench: wrote ${jsonFile}`);
  }
  return 0;
}
