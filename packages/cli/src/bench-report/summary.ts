import { human, median, percentile } from '../bench/stats.js';
import type { Better } from '../bench/types.js';

/** The median of repeated runs and their spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles. */
  q1: number;
  q3: number;
  /** Number of runs. */
  n: number;
}

/** Median, min–max and IQR of samples (NaN fields for none). */
export function summarize(samples: readonly number[]): Summary {
  const finite = samples.filter(Number.isFinite);
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    q1: percentile(finite, 25),
    q3: percentile(finite, 75),
    n: finite.length,
  };
}

/** `value / baseline`, NaN when the baseline is zero or missing. */
export function ratio(value: number, baseline: number): number {
  return baseline === 0 || !Number.isFinite(baseline) || !Number.isFinite(value) ? Number.NaN : value / baseline;
}

/** Ratios within this band of 1 count as on par: run-to-run noise on a shared machine is about that big. */
export const PAR_BAND = 0.05;

/** How a ratio reads: `0.62× (slower)`, `1.40× (faster)`, `0.98× (on par)`; for lower-is-better metrics, better/worse. */
export function verdict(r: number, better: Better): string {
  if (!Number.isFinite(r)) return 'n/a';
  const text = `${formatRatio(r)}×`;
  if (Math.abs(r - 1) <= PAR_BAND) return `${text} (on par)`;
  if (better === 'higher') return `${text} (${r > 1 ? 'faster' : 'slower'})`;
  return `${text} (${r < 1 ? 'better' : 'worse'})`;
}

/** Whether a ratio is a loss for the side in the numerator. */
export function isWorse(r: number, better: Better): boolean {
  return Number.isFinite(r) && Math.abs(r - 1) > PAR_BAND && (better === 'higher' ? r < 1 : r > 1);
}

/** A ratio with 2 significant decimals below 10 (`0.62`, `1.4`, `12`). */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  if (r >= 10) return r.toFixed(0);
  if (r < 0.1) return String(Number(r.toPrecision(2)));
  return r.toFixed(2);
}

/** A value with its unit, compact (`48.2k events/s`, `0.42 ms`, `1.9 kB`). */
export function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'bytes') return Math.abs(v) >= 1024 ? `${(v / 1024).toPrecision(3)} KiB` : `${Math.round(v)} B`;
  if (unit === 'ms' || unit === 'µs') return `${Number(v.toPrecision(3))} ${unit}`;
  return `${human(v)} ${unit}`;
}

/** The spread of a summary as text: `min–max` over the runs (one run: `1 run`). */
export function formatSpread(s: Summary, unit: string): string {
  if (s.n <= 1) return `${s.n} run`;
  const bare = (v: number) => formatValue(v, unit).replace(` ${unit}`, '').replace(/ (B|KiB)$/, '$1');
  return `${bare(s.min)}–${bare(s.max)}`;
}
