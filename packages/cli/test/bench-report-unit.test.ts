import { describe, expect, it } from 'vitest';
import type { BenchFigure, BenchReport } from '../src/bench/types.js';
import { chartSpecs, renderSvg } from '../src/bench-report/charts.js';
import { renderMarkdown } from '../src/bench-report/markdown.js';
import { formatSpread, formatValue, isWorse, ratio, summarize, verdict } from '../src/bench-report/summary.js';
import { checkTargets } from '../src/bench-report/targets.js';
import type { ReportData } from '../src/bench-report/types.js';

const machine = { cpus: 2, cpuModel: 'Test CPU', totalMemoryBytes: 2 ** 33, node: 'v20.20.0', v8: '11', os: 'Linux test' };

function figure(store: number, baseline: number, unit = 'events/s'): BenchFigure {
  return { unit, store, baseline, ratio: store / baseline, difference: store - baseline, better: unit === 'ms' ? 'lower' : 'higher', samples: { store: [store], baseline: [baseline] } };
}

function harness(backend: string, writer: number, replay: number, p50: [number, number]): BenchReport {
  return {
    command: `durable-sessions bench ${backend}://x`,
    url: `${backend}://x`,
    backend,
    baseline: `raw ${backend}`,
    profile: 'default',
    sizes: { repetitions: 3, appendSingle: 1, appendBatch: 1, batchSize: 100, writer: 1, latency: 1, replayLength: 1, firstEvent: 1, fanoutSubscribers: 1, fanoutEvents: 1, idleSubscriptions: 1 },
    gc: true,
    machine,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
    workloads: [
      { id: 'append-writer', title: 'writer', params: {}, figures: { throughput: figure(writer, 1) } },
      { id: 'replay', title: 'replay', params: {}, figures: { throughput: figure(replay, 1) } },
      { id: 'latency', title: 'latency', params: {}, figures: { p50: figure(p50[0], p50[1], 'ms'), p99: figure(1, 1, 'ms') } },
    ],
  };
}

/** A small report: memory store and raw, the Durable Streams peer, a skipped kafka, a resumable-stream n/a. */
function sample(): ReportData {
  const points = [];
  for (const x of [1, 10, 50]) {
    points.push({ metric: 'token.cpu', subject: 'memory/store', x, samples: [30, 32, 31] });
    points.push({ metric: 'token.cpu', subject: 'memory/raw', x, samples: [20, 21, 22] });
    points.push({ metric: 'token.cpu', subject: 'peer/durable-streams', x, samples: [300, 310, 290] });
    points.push({ metric: 'join.perEvent', subject: 'memory/store', x: x * 100, samples: [2, 2.2, 2.1] });
    points.push({ metric: 'join.perEvent', subject: 'memory/raw', x: x * 100, samples: [0.1, 0.1, 0.12] });
  }
  points.push({ metric: 'bulk.rate', subject: 'memory/store', x: 1000, samples: [400_000, 420_000, 410_000] });
  points.push({ metric: 'bulk.rate', subject: 'memory/raw', x: 1000, samples: [800_000, 820_000, 810_000] });
  points.push({ metric: 'bulk.rate', subject: 'peer/durable-streams', x: 1000, samples: [30_000, 31_000, 32_000] });
  return {
    command: 'durable-sessions bench-report',
    profile: 'full',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 60_000,
    machine,
    loadavg: { start: [3.5, 2, 1], end: [4, 2.5, 1.2] },
    gc: true,
    versions: {},
    backends: [
      { backend: 'memory', status: 'ran', server: 'in this process', sizes: { reps: 3, tokenSessions: [1, 10, 50], tokenRate: 50, tokenSeconds: 1, bulkEvents: 1000, joinLengths: [100, 1000, 5000], fanoutSubscribers: [1, 2, 3], fanoutEvents: 10, idleSessions: 10 } },
      { backend: 'kafka', status: 'skipped', reason: 'its infrastructure did not start: no java', server: 'JVM' },
      { backend: 'durable-streams', status: 'ran', server: 'in this process' },
    ],
    subjects: [
      { id: 'memory/store', label: 'Durable Sessions on memory', role: 'store', backend: 'memory' },
      { id: 'memory/raw', label: 'raw memory()', role: 'raw', backend: 'memory' },
      { id: 'peer/durable-streams', label: 'Durable Streams reference server', role: 'peer', backend: 'durable-streams' },
      { id: 'peer/resumable-stream', label: 'resumable-stream', role: 'peer', backend: 'redis' },
    ],
    points,
    notAvailable: [{ subject: 'peer/resumable-stream', workload: 'join', reason: 'n/a: only a DONE marker remains' }],
    harness: [harness('redis', 0.85, 0.9, [0.5, 0.3])],
    targets: checkTargets(harness('redis', 0.85, 0.9, [0.5, 0.3])),
  };
}

describe('bench-report statistics', () => {
  it('summarizes repeated runs as median, min–max and IQR, ignoring non-finite values', () => {
    expect(summarize([5, 1, 3, Number.NaN, 4, 2])).toEqual({ median: 3, min: 1, max: 5, q1: 2, q3: 4, n: 5 });
    expect(summarize([]).n).toBe(0);
    expect(Number.isNaN(summarize([]).median)).toBe(true);
  });

  it('takes ratios against a baseline and refuses a zero or missing one', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(Number.isNaN(ratio(1, 0))).toBe(true);
    expect(Number.isNaN(ratio(1, Number.NaN))).toBe(true);
  });

  it('words ratios plainly in both directions, with a ±5 % on-par band', () => {
    expect(verdict(0.5, 'higher')).toBe('0.50× (slower)');
    expect(verdict(2, 'higher')).toBe('2.00× (faster)');
    expect(verdict(1.03, 'higher')).toBe('1.03× (on par)');
    expect(verdict(0.5, 'lower')).toBe('0.50× (better)');
    expect(verdict(12.4, 'lower')).toBe('12× (worse)');
    expect(isWorse(0.5, 'higher')).toBe(true);
    expect(isWorse(0.5, 'lower')).toBe(false);
    expect(isWorse(1.02, 'lower')).toBe(false);
  });

  it('formats values and spreads with their units', () => {
    expect(formatValue(48_200, 'events/s')).toBe('48.2k events/s');
    expect(formatValue(0.4213, 'ms')).toBe('0.421 ms');
    expect(formatValue(2048, 'bytes')).toBe('2.00 KiB');
    expect(formatSpread(summarize([1, 2, 3]), 'ms')).toBe('1–3');
    expect(formatSpread(summarize([7]), 'ms')).toBe('1 run');
  });
});

describe('bench-report targets', () => {
  it('checks the writer, replay and live p50 targets and flags the missed ones', () => {
    const checks = checkTargets(harness('redis', 0.85, 0.9, [0.5, 0.3]));
    expect(checks.map((c) => [c.figure, c.met])).toEqual([
      ['writer throughput', false],
      ['replay throughput', true],
      ['live latency p50', true],
    ]);
    expect(checkTargets(harness('kafka', 0.95, 0.7, [9, 1])).map((c) => [c.figure, c.met])).toEqual([
      ['writer throughput', true],
      ['replay throughput', false],
    ]);
    expect(checkTargets(harness('ably', 0.1, 0.1, [9, 1]))).toEqual([]);
  });
});

describe('bench-report markdown and charts', () => {
  it('writes every section, the ratios in words, skipped backends, n/a rows and missed targets', () => {
    const data = sample();
    const md = renderMarkdown(data, chartSpecs(data), 'benchmarks');
    for (const heading of ['## Machine', '## Backends and peers', '## Summary', '## Target ratios of the adapter issues', '## (a) LLM-like token stream', '## (b) Bulk append', '## (d) A new tab joins', '## Scaling curves', '## Harness figures']) {
      expect(md).toContain(heading);
    }
    expect(md).toContain('Load average (1 / 5 / 15 min) at the start: 3.50 / 2.00 / 1.00');
    expect(md).toContain('`durable-sessions bench-report`');
    expect(md).toContain('**skipped**: its infrastructure did not start: no java');
    expect(md).toContain('n/a: only a DONE marker remains');
    // The store is slower than raw on bulk (0.50×) and costlier per token; faster than the peer on both.
    expect(md).toMatch(/Durable Sessions on memory vs its raw memory client\.\*\* Slower or costlier: CPU per token \(this process\) 1\.48× \(worse\);.*bulk append 0\.51× \(slower\)/);
    expect(md).toContain('| **Durable Sessions** on memory | 1000 | 410k events/s | 400k–420k | 0.51× (slower) vs raw |');
    expect(md).toContain('Durable Sessions (memory) 13× (faster)');
    expect(md).toContain('| redis | writer throughput | ≥ 0.9× raw | 0.85× | **NO** |');
    expect(md).toContain('**Below target:** redis writer throughput (0.85×, target ≥ 0.9× raw)');
    expect(md).toContain('![CPU per token vs concurrent sessions](benchmarks/token-cpu.svg)');
  });

  it('renders the charts to standalone SVG', async () => {
    const data = sample();
    const charts = chartSpecs(data);
    expect(charts.map((c) => c.file)).toEqual(['ratios.svg', 'token-cpu.svg', 'join-per-event.svg']);
    const svg = await renderSvg(charts.find((c) => c.file === 'token-cpu.svg')!.spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Token stream: CPU µs per token vs sessions per store');
    expect(svg).toContain('Durable Sessions (memory)');
    const ratios = await renderSvg(charts[0]!.spec);
    expect(ratios).toContain('store advantage');
  });
});
