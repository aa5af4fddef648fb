import type { Better } from '../bench/types.js';
import type { WorkloadId } from './subjects/subject.js';

/** How a metric is shown and compared. */
export interface MetricDef {
  workload: WorkloadId;
  /** Column heading. */
  title: string;
  unit: string;
  better: Better;
  /** What the x of its points means (`sessions`, `events per session`…). */
  x: string;
}

/** Every metric the report measures, in table order. */
export const METRICS: Record<string, MetricDef> = {
  'token.rate': { workload: 'token', title: 'achieved token rate', unit: 'tokens/s', better: 'higher', x: 'concurrent sessions' },
  'token.cpu': { workload: 'token', title: 'CPU per token (this process)', unit: 'µs', better: 'lower', x: 'concurrent sessions' },
  'token.p50': { workload: 'token', title: 'token latency p50', unit: 'ms', better: 'lower', x: 'concurrent sessions' },
  'token.p99': { workload: 'token', title: 'token latency p99', unit: 'ms', better: 'lower', x: 'concurrent sessions' },
  'bulk.rate': { workload: 'bulk', title: 'bulk append', unit: 'events/s', better: 'higher', x: 'events' },
  'resume.rate': { workload: 'resume', title: 'resume from the middle', unit: 'events/s', better: 'higher', x: 'events in the session' },
  'join.ms': { workload: 'join', title: 'new tab: time to full replay', unit: 'ms', better: 'lower', x: 'events per session' },
  'join.perEvent': { workload: 'join', title: 'new tab: time per event', unit: 'µs', better: 'lower', x: 'events per session' },
  'fanout.rate': { workload: 'fanout', title: 'fan-out deliveries', unit: 'deliveries/s', better: 'higher', x: 'subscribers per session' },
  'fanout.cpu': { workload: 'fanout', title: 'CPU per delivery (this process)', unit: 'µs', better: 'lower', x: 'subscribers per session' },
  'idle.heap': { workload: 'idle', title: 'heap per idle session', unit: 'bytes', better: 'lower', x: 'idle sessions' },
};

/** Workload titles, in report order. */
export const WORKLOAD_TITLES: Record<WorkloadId, string> = {
  token: '(a) LLM-like token stream: 50 tokens/s per session, one live reader each (writers with linger 0)',
  bulk: '(b) Bulk append: awaited batches of 100',
  resume: '(c) Resume a long session from its middle',
  join: '(d) A new tab joins a finished session: time to full replay',
  fanout: '(e) Fan-out: many live subscribers of one session',
  idle: '(f) Many idle sessions: heap per session',
};
