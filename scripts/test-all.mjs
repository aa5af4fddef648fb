#!/usr/bin/env node
// Runs every package's tests through turbo (one package at a time: the brokers they start share 2 cores), then sums
// the vitest JSON reports into one closing line, `N passed, N failed, N skipped`, that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const reports = join(root, '.cache', 'test-reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const extra = process.argv.slice(2);
const run = (args) => spawnSync('npx', ['turbo', ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, DS_TEST_REPORT_DIR: reports } });

const build = run(['run', 'build', ...extra]);
if (build.status !== 0) process.exit(build.status ?? 1);
const test = run(['run', 'test', '--concurrency=1', '--continue', ...extra]);

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of existsSync(reports) ? readdirSync(reports) : []) {
  const report = JSON.parse(readFileSync(join(reports, file), 'utf8'));
  for (const suite of report.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') {
        failed++;
        failures.push(`${file.replace(/\.json$/, '')}: ${t.fullName}`);
      } else skipped++;
    }
    // A file that failed to load has no assertions but must still count as a failure.
    if ((suite.assertionResults ?? []).length === 0 && suite.status === 'failed') {
      failed++;
      failures.push(`${file.replace(/\.json$/, '')}: ${suite.name} (${(suite.message ?? '').split('\n')[0]})`);
    }
  }
}
if (failures.length) console.log(`\nFailed tests:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
if (test.status !== 0 && failed === 0) failed = 1; // a package crashed without a report
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(test.status === 0 && failed === 0 ? 0 : 1);
