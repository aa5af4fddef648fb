import type { BenchReport } from '../bench/types.js';
import { formatRatio } from './summary.js';
import type { TargetCheck } from './types.js';

/** The target ratios of the adapters' issues, checked on the harness's `append-writer`, `replay` and `latency` figures. */
export const TARGETS: Record<string, { writer: number; replay: number; liveP50Ms?: number }> = {
  redis: { writer: 0.9, replay: 0.8, liveP50Ms: 0.3 },
  nats: { writer: 0.9, replay: 0.8, liveP50Ms: 0.3 },
  kafka: { writer: 0.9, replay: 0.8 },
};

/** The harness workloads the targets are defined on. */
export const TARGET_WORKLOADS = ['append-writer', 'replay', 'latency'];

/** Checks a backend's harness report against its targets. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const target = TARGETS[report.backend];
  if (!target) return [];
  const fig = (id: string, name: string) => report.workloads.find((w) => w.id === id)?.figures[name];
  const checks: TargetCheck[] = [];
  const writer = fig('append-writer', 'throughput');
  if (writer) checks.push({ backend: report.backend, figure: 'writer throughput', target: `≥ ${target.writer}× raw`, measured: `${formatRatio(writer.ratio)}×`, met: writer.ratio >= target.writer });
  const replay = fig('replay', 'throughput');
  if (replay) checks.push({ backend: report.backend, figure: 'replay throughput', target: `≥ ${target.replay}× raw`, measured: `${formatRatio(replay.ratio)}×`, met: replay.ratio >= target.replay });
  const p50 = fig('latency', 'p50');
  if (p50 && target.liveP50Ms !== undefined) {
    checks.push({
      backend: report.backend,
      figure: 'live latency p50',
      target: `≤ raw + ${target.liveP50Ms} ms`,
      measured: `${p50.difference >= 0 ? '+' : ''}${p50.difference.toFixed(3)} ms (${p50.store.toFixed(3)} vs ${p50.baseline.toFixed(3)} ms)`,
      met: p50.difference <= target.liveP50Ms,
    });
  }
  return checks;
}
