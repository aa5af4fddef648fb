import type { BenchReport } from '../bench/types.js';
import type { ReportSizes } from './sizes.js';
import type { WorkloadId } from './subjects/subject.js';

/** A subject as the report lists it. */
export interface SubjectInfo {
  id: string;
  label: string;
  role: 'store' | 'raw' | 'peer';
  backend: string;
}

/** Every run's value of one metric, for one subject, at one point of its curve. */
export interface Point {
  metric: string;
  subject: string;
  /** The size this point was measured at (sessions, events per session, subscribers…). */
  x: number;
  samples: number[];
}

/** A workload a subject did not do, and why (a peer's missing feature, or a failure). */
export interface NotAvailable {
  subject: string;
  workload: WorkloadId;
  reason: string;
}

/** What happened to one backend of the run. */
export interface BackendStatus {
  backend: string;
  status: 'ran' | 'skipped';
  /** Why it was skipped (its infrastructure could not start, its adapter is missing…). */
  reason?: string;
  /** Where its server ran. */
  server: string;
  sizes?: ReportSizes;
}

/** One target ratio an adapter's issue set, checked against the harness figures of this run. */
export interface TargetCheck {
  backend: string;
  /** `writer`, `replay`, `live p50`. */
  figure: string;
  /** `≥ 0.9×`, `≤ raw + 0.3 ms`. */
  target: string;
  /** The measured ratio (or difference, for the latency target), as text. */
  measured: string;
  met: boolean;
}

/** Everything `bench-report` measured, from which the markdown and the charts are generated. */
export interface ReportData {
  command: string;
  profile: 'quick' | 'full';
  startedAt: string;
  durationMs: number;
  machine: BenchReport['machine'];
  /** `os.loadavg()` (1, 5, 15 min) when the run started and when it ended: other work on the machine skews figures. */
  loadavg: { start: number[]; end: number[] };
  gc: boolean;
  versions: Record<string, string>;
  backends: BackendStatus[];
  subjects: SubjectInfo[];
  points: Point[];
  notAvailable: NotAvailable[];
  /** `durable-sessions bench` figures (append-writer, replay, latency) of the backends with target ratios. */
  harness: BenchReport[];
  targets: TargetCheck[];
}
