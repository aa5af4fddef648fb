import { readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('durable-sessions bench-report', () => {
  it('--quick --backends memory writes the markdown, the SVG charts and the JSON, with the Durable Streams peer', async () => {
    const out = join(tmpdir(), `ds-cli-bench-report-${process.pid}`);
    try {
      const result = await runCli(['bench-report', '--quick', '--backends', 'memory', '--out', out]);
      expect(result.stderr).not.toContain('error:');
      expect(result.stderr).not.toContain('FAILED');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(join(out, 'benchmarks.md'));
      const md = await readFile(join(out, 'benchmarks.md'), 'utf8');
      for (const heading of [
        '## Machine',
        '## Backends and peers',
        '## Summary',
        '## Target ratios of the adapter issues',
        '## (a) LLM-like token stream',
        '## (b) Bulk append',
        '## (c) Resume a long session from its middle',
        '## (d) A new tab joins a finished session',
        '## (e) Fan-out',
        '## (f) Many idle sessions',
        '## Scaling curves',
      ]) {
        expect(md).toContain(heading);
      }
      expect(md).toContain('`durable-sessions bench-report --quick --backends memory --out ');
      expect(md).toMatch(/Load average \(1 \/ 5 \/ 15 min\) at the start: [\d.]+ \/ [\d.]+ \/ [\d.]+/);
      expect(md).toContain('| **Durable Sessions** on memory |');
      expect(md).toContain('| raw memory client |');
      expect(md).toMatch(/\| Durable Streams reference server 0\.3\.7 \(in-memory, HTTP\) \|.*Durable Sessions \(memory\) [\d.]+×/);
      expect(md).toMatch(/- \*\*Durable Sessions on memory vs its raw memory client\.\*\* Slower or costlier: /);
      const charts = (await readdir(join(out, 'benchmarks'))).filter((f) => f.endsWith('.svg')).sort();
      expect(charts).toEqual(['fanout-cpu.svg', 'fanout-rate.svg', 'join-per-event.svg', 'ratios.svg', 'token-cpu.svg', 'token-latency.svg']);
      for (const chart of charts) {
        expect(md).toContain(`(benchmarks/${chart})`);
        expect((await readFile(join(out, 'benchmarks', chart), 'utf8')).startsWith('<svg')).toBe(true);
      }
      const data = JSON.parse(await readFile(join(out, 'benchmarks', 'report.json'), 'utf8')) as {
        subjects: Array<{ id: string }>;
        points: Array<{ metric: string; subject: string; x: number; samples: number[] }>;
        notAvailable: unknown[];
      };
      expect(data.subjects.map((s) => s.id)).toEqual(['memory/store', 'memory/raw', 'peer/durable-streams']);
      expect(data.notAvailable).toEqual([]);
      // Every metric of every subject, and three points on each scaling curve.
      for (const subject of ['memory/store', 'memory/raw', 'peer/durable-streams']) {
        const metrics = new Set(data.points.filter((p) => p.subject === subject).map((p) => p.metric));
        expect([...metrics].sort(), subject).toEqual(['bulk.rate', 'fanout.cpu', 'fanout.rate', 'idle.heap', 'join.ms', 'join.perEvent', 'resume.rate', 'token.cpu', 'token.p50', 'token.p99', 'token.rate']);
        for (const metric of ['token.cpu', 'join.perEvent', 'fanout.cpu']) {
          expect(data.points.filter((p) => p.subject === subject && p.metric === metric).length, `${subject} ${metric}`).toBeGreaterThanOrEqual(3);
        }
      }
      // --render regenerates the same markdown from the JSON, measuring nothing.
      const again = join(out, 'again');
      const rendered = await runCli(['bench-report', '--render', join(out, 'benchmarks', 'report.json'), '--out', again]);
      expect(rendered.code).toBe(0);
      expect(await readFile(join(again, 'benchmarks.md'), 'utf8')).toBe(md);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('rejects an unknown backend with a usage error', async () => {
    const result = await runCli(['bench-report', '--backends', 'memory,mongo']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown backend mongo');
  });
});
