import { METRICS } from './metrics.js';
import { load } from './subjects/load.js';
import { summarize, ratio } from './summary.js';
import type { ReportData } from './types.js';

/** A chart the report embeds: its file name (under the charts folder), alt text and Vega-Lite spec. */
export interface ChartSpec {
  file: string;
  title: string;
  spec: Record<string, unknown>;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** Labels of subjects by id. */
function labels(data: ReportData): Map<string, string> {
  return new Map(data.subjects.map((s) => [s.id, s.id === `${s.backend}/store` ? `Durable Sessions (${s.backend})` : s.role === 'raw' ? `raw ${s.backend} client` : s.label.replace(/ \(.*\)$/, '')]));
}

/** A scaling curve: the median per point with a min–max error bar, one line per subject, log–log axes. */
export function curveSpec(data: ReportData, metric: string, title: string): Record<string, unknown> | undefined {
  const def = METRICS[metric]!;
  const names = labels(data);
  const roles = new Map(data.subjects.map((s) => [s.id, s.role === 'store' ? 'Durable Sessions' : s.role === 'raw' ? 'raw client' : 'peer']));
  const values = data.points
    .filter((p) => p.metric === metric)
    .map((p) => {
      const s = summarize(p.samples);
      return { subject: names.get(p.subject) ?? p.subject, role: roles.get(p.subject) ?? 'peer', x: p.x, median: s.median, min: s.min, max: s.max };
    })
    .filter((v) => Number.isFinite(v.median) && v.median > 0);
  if (values.length === 0) return undefined;
  const x = { field: 'x', type: 'quantitative', scale: { type: 'log' }, title: def.x };
  const y = { field: 'median', type: 'quantitative', scale: { type: 'log' }, title: `${def.title} (${def.unit}, log scale)` };
  // Store and raw client of one backend get the dark and light shade of one hue (tableau20 pairs them); peers last.
  const present = new Set(values.map((v) => v.subject));
  const domain = [...data.subjects.filter((s) => s.role !== 'peer'), ...data.subjects.filter((s) => s.role === 'peer')].map((s) => names.get(s.id)!).filter((n) => present.has(n));
  const color = { field: 'subject', type: 'nominal', title: null, scale: { scheme: 'tableau20', domain }, legend: { orient: 'bottom', columns: 3, labelLimit: 400 } };
  // Line style by kind, so the store, the raw floor and the peers read apart even where colours are close.
  const strokeDash = { field: 'role', type: 'nominal', title: null, scale: { domain: ['Durable Sessions', 'raw client', 'peer'], range: [[1, 0], [5, 3], [1, 2]] }, legend: { orient: 'bottom' } };
  return {
    $schema: SCHEMA,
    title,
    width: 560,
    height: 300,
    data: { values },
    layer: [
      { mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y, color, strokeDash } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'min', type: 'quantitative', title: y.title }, y2: { field: 'max' }, color } },
    ],
  };
}

/** The store ÷ raw ratio of every backend, at each metric's largest point, normalised so that above 1 is better. */
export function ratioSpec(data: ReportData): Record<string, unknown> | undefined {
  const values: Array<{ backend: string; metric: string; advantage: number }> = [];
  for (const backend of data.backends.filter((b) => b.status === 'ran').map((b) => b.backend)) {
    for (const [metric, def] of Object.entries(METRICS)) {
      // At the largest size both sides measured.
      const of = (id: string, x: number) => {
        const point = data.points.find((p) => p.metric === metric && p.subject === id && p.x === x);
        return point ? summarize(point.samples).median : Number.NaN;
      };
      const xs = data.points.filter((p) => p.metric === metric && p.subject === `${backend}/raw`).map((p) => p.x).sort((a, b) => b - a);
      const x = xs.find((v) => Number.isFinite(of(`${backend}/store`, v)));
      if (x === undefined) continue;
      const r = ratio(of(`${backend}/store`, x), of(`${backend}/raw`, x));
      if (!Number.isFinite(r) || r <= 0) continue;
      values.push({ backend, metric: def.title, advantage: def.better === 'higher' ? r : 1 / r });
    }
  }
  if (values.length === 0) return undefined;
  return {
    $schema: SCHEMA,
    title: { text: 'Durable Sessions ÷ raw client, per backend and workload', subtitle: 'right of 1: the store does better than its raw client; left of 1: worse (log scale)' },
    width: 520,
    height: { step: 22 },
    data: { values },
    layer: [
      { mark: { type: 'rule', color: '#888' }, encoding: { x: { datum: 1 } } },
      {
        mark: { type: 'point', filled: true, size: 90, opacity: 0.85 },
        encoding: {
          y: { field: 'metric', type: 'nominal', title: null, sort: null, axis: { labelLimit: 400 } },
          x: { field: 'advantage', type: 'quantitative', scale: { type: 'log' }, title: 'store advantage over raw (×, higher is better)' },
          color: { field: 'backend', type: 'nominal', legend: { orient: 'bottom', title: null } },
          shape: { field: 'backend', type: 'nominal' },
        },
      },
    ],
  };
}

/** The charts of a report. */
export function chartSpecs(data: ReportData): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const add = (file: string, title: string, spec: Record<string, unknown> | undefined) => spec && charts.push({ file, title, spec });
  add('ratios.svg', 'Store vs raw client per backend', ratioSpec(data));
  add('token-cpu.svg', 'CPU per token vs concurrent sessions', curveSpec(data, 'token.cpu', 'Token stream: CPU µs per token vs sessions per store (flat = linear)'));
  add('token-latency.svg', 'Token latency p50 vs concurrent sessions', curveSpec(data, 'token.p50', 'Token stream: end-to-end latency p50 vs sessions per store'));
  add('join-per-event.svg', 'Full replay time per event vs session length', curveSpec(data, 'join.perEvent', 'New tab: replay time per event vs events per session (flat = linear)'));
  add('fanout-cpu.svg', 'CPU per delivery vs subscribers', curveSpec(data, 'fanout.cpu', 'Fan-out: CPU µs per delivery vs subscribers per session (flat = linear)'));
  add('fanout-rate.svg', 'Delivered events per second vs subscribers', curveSpec(data, 'fanout.rate', 'Fan-out: deliveries/s vs subscribers per session'));
  return charts;
}

/** Renders a Vega-Lite spec to SVG headlessly (no browser, no canvas). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vl = await load<{ compile(spec: unknown): { spec: unknown } }>('vega-lite');
  const vega = await load<{ parse(spec: unknown): unknown; View: new (runtime: unknown, options: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void } }>('vega');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
