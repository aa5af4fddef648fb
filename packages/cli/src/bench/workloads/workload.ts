import type { BenchEnv } from '../env.js';
import type { WorkloadResult } from '../types.js';

/** One benchmark workload, run through the store and the raw client. */
export interface Workload {
  /** Stable id, used in the JSON report. */
  readonly id: string;
  /** What it measures. */
  readonly title: string;
  run(env: BenchEnv): Promise<WorkloadResult>;
}
