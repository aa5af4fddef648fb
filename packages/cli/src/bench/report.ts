import { human } from './stats.js';
import type { BenchFigure, BenchReport } from './types.js';

function value(v: number, unit: string): string {
  if (unit === 'ms') return `${Number(v.toPrecision(3))} ms`;
  if (unit === 'bytes') return `${Math.round(v)} B`;
  return `${human(v)} ${unit}`;
}

function comparison(f: BenchFigure): string {
  const ratio = `${f.ratio.toFixed(2)}×`;
  if (f.unit === 'ms') return `${ratio}  (${f.difference >= 0 ? '+' : ''}${Number(f.difference.toPrecision(3))} ms)`;
  if (f.unit === 'bytes') return `${ratio}  (${f.difference >= 0 ? '+' : ''}${Math.round(f.difference)} B)`;
  return ratio;
}

/** The bench results as a table: one row per figure, store and raw medians side by side, and store/raw. */
export function formatBench(report: BenchReport): string {
  const rows: string[][] = [['workload', 'store', 'raw', 'store/raw']];
  for (const w of report.workloads) {
    for (const [name, f] of Object.entries(w.figures)) {
      const label = Object.keys(w.figures).length > 1 || name !== 'throughput' ? `${w.id} ${name}` : w.id;
      rows.push([label, value(f.store, f.unit), value(f.baseline, f.unit), comparison(f)]);
    }
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const lines = rows.map((r) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('   ').trimEnd());
  const m = report.machine;
  return [
    `Durable Sessions bench: ${report.url} (${report.backend}) vs ${report.baseline}`,
    `${report.profile} profile, median of ${report.sizes.repetitions} run(s); node ${m.node}, ${m.cpus} × ${m.cpuModel}, ${m.os}; gc ${report.gc ? 'exposed' : 'NOT exposed (heap figures noisy)'}`,
    '',
    ...lines,
    '',
    `store/raw: below 1 the store is slower for events/s, better for ms and bytes. Took ${(report.durationMs / 1000).toFixed(1)} s.`,
  ].join('\n');
}
