import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartSpecs, renderSvg } from './charts.js';
import { renderMarkdown } from './markdown.js';
import type { ReportData } from './types.js';

/** The files a report wrote. */
export interface WrittenReport {
  /** Path of the markdown. */
  markdown: string;
  /** Path of the raw data. */
  json: string;
  /** Paths of the SVG charts. */
  charts: string[];
}

/** Writes `<out>/benchmarks.md`, its SVG charts in `<out>/benchmarks/` and the raw data as `<out>/benchmarks/report.json`. */
export async function writeReport(data: ReportData, out: string): Promise<WrittenReport> {
  const chartDir = join(out, 'benchmarks');
  await mkdir(chartDir, { recursive: true });
  const charts = chartSpecs(data);
  const written: string[] = [];
  for (const chart of charts) {
    const file = join(chartDir, chart.file);
    await writeFile(file, await renderSvg(chart.spec));
    written.push(file);
  }
  const json = join(chartDir, 'report.json');
  await writeFile(json, `${JSON.stringify(data, null, 2)}\n`);
  const markdown = join(out, 'benchmarks.md');
  await writeFile(markdown, renderMarkdown(data, charts, 'benchmarks'));
  return { markdown, json, charts: written };
}
