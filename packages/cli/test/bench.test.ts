import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const WORKLOADS = ['append-single', 'append-batch', 'append-writer', 'latency', 'replay', 'first-event', 'fanout', 'idle-memory'];

interface Figure {
  unit: string;
  store: number;
  baseline: number;
  ratio: number;
  difference: number;
  samples: { store: number[]; baseline: number[] };
}

describe('durable-sessions bench', () => {
  it('--quick --json writes every workload with store, baseline and ratio', async () => {
    const json = join(tmpdir(), `ds-cli-bench-${process.pid}.json`);
    try {
      const result = await runCli(['bench', 'memory:', '--quick', '--json', json]);
      expect(result.stderr).not.toContain('error:');
      expect(result.code).toBe(0);
      const report = JSON.parse(await readFile(json, 'utf8')) as {
        command: string;
        backend: string;
        baseline: string;
        machine: { cpus: number; node: string; os: string };
        sizes: { repetitions: number };
        workloads: Array<{ id: string; figures: Record<string, Figure> }>;
      };
      expect(report.command).toBe(`durable-sessions bench memory: --quick --json ${json}`);
      expect(report.backend).toBe('memory');
      expect(report.baseline).toMatch(/raw memory\(\) backend/);
      expect(report.machine.cpus).toBeGreaterThan(0);
      expect(report.machine.node).toBe(process.version);
      expect(report.machine.os).not.toBe('');
      expect(report.workloads.map((w) => w.id)).toEqual(WORKLOADS);
      for (const workload of report.workloads) {
        const figures = Object.entries(workload.figures);
        expect(figures.length, workload.id).toBeGreaterThan(0);
        for (const [name, f] of figures) {
          const where = `${workload.id}.${name}`;
          for (const key of ['store', 'baseline', 'ratio', 'difference'] as const) {
            expect(Number.isFinite(f[key]), `${where}.${key} = ${f[key]}`).toBe(true);
          }
          expect(f.ratio).toBeCloseTo(f.store / f.baseline, 6);
          // One value per measured run (the warm-up run is not reported).
          expect(f.samples.store, where).toHaveLength(report.sizes.repetitions);
          expect(f.samples.baseline, where).toHaveLength(report.sizes.repetitions);
        }
      }
      expect(Object.keys(report.workloads.find((w) => w.id === 'latency')!.figures)).toEqual(['p50', 'p99']);
      // The table on stdout names every workload; progress went to stderr.
      for (const id of WORKLOADS) expect(result.stdout).toContain(id);
      expect(result.stderr).toContain('bench: idle-memory');
    } finally {
      await rm(json, { force: true });
    }
  });

  it('fails with exit code 2 and CONFIG_INVALID on a bad URL', async () => {
    const result = await runCli(['bench', 'memory:nope', '--quick']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONFIG_INVALID');
  });
});
