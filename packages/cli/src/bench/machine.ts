import { cpus, release, totalmem, type as osType, arch } from 'node:os';
import type { BenchReport } from './types.js';

/** What the numbers were measured on, for the JSON report. */
export function machineInfo(): BenchReport['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: totalmem(),
    node: process.version,
    v8: process.versions.v8,
    os: `${osType()} ${release()} ${arch()}`,
  };
}
