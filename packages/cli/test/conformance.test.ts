import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lines, runCli } from './run-cli.js';

describe('durable-sessions conformance', () => {
  it('passes the whole suite on memory: and ends with the totals line', async () => {
    const json = join(tmpdir(), `ds-cli-conformance-${process.pid}.json`);
    try {
      const result = await runCli(['conformance', 'memory:', '--json', json]);
      const out = lines(result.stdout);
      expect(out.at(-1)).toMatch(/^\d+ passed, 0 failed, \d+ skipped$/);
      expect(result.code).toBe(0);
      const report = JSON.parse(await readFile(json, 'utf8')) as { results: Array<{ id: string; status: string; reason?: string }>; totals: Record<string, number> };
      // Progress: one stderr line per test, as it ran.
      for (const r of report.results) expect(result.stderr).toContain(r.id);
      expect(out.at(-1)).toBe(`${report.totals.passed} passed, 0 failed, ${report.totals.skipped} skipped`);
      const faultSkips = report.results.filter((r) => r.status === 'skipped' && /hook/.test(r.reason ?? ''));
      for (const r of faultSkips) expect(r.reason).toContain('cannot restart or disconnect a server it did not start');
    } finally {
      await rm(json, { force: true });
    }
  });

  it('runs only the tests matching --filter', async () => {
    const result = await runCli(['conformance', 'memory:', '--filter', 'offsets.strictly']);
    expect(result.code).toBe(0);
    expect(lines(result.stdout).at(-1)).toBe('1 passed, 0 failed, 0 skipped');
    expect(result.stdout).toContain('offsets.strictly-increasing');
  });

  it('rejects a URL no backend understands with exit code 2 and CONFIG_INVALID', async () => {
    const result = await runCli(['conformance', 'nosuch://host']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stdout).toBe('');
  });
});
