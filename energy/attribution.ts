import type { ZoneEnergy } from '../core/types.ts';
import { ESTIMATE_METER } from './estimate.ts';
import type { Meter } from './meter.ts';

/** The zone name of the job's own share of the estimate. */
export const JOB_TREE_ZONE = 'job-process-tree';

/** W per busy logical CPU of the estimate meter among `meters`, or null when the CPU is measured (RAPL). */
export function estimateWattsPerLogicalCpu(meters: Meter[]): number | null {
  const m = meters.find((x) => x.name === ESTIMATE_METER) as (Meter & { wattsPerLogicalCpu?: number }) | undefined;
  return m?.wattsPerLogicalCpu ?? null;
}

/**
 * The estimate attributed to the job alone: CPU seconds of its process tree × W per busy logical CPU.
 * Reported beside the machine-wide estimate as a `component` zone (never added to the total),
 * so a reader sees how much of the machine's estimated energy the job's own processes explain.
 */
export function jobTreeEstimateZone(jobCpuSeconds: number, wattsPerLogicalCpu: number, windowS: number): ZoneEnergy {
  const grossJ = jobCpuSeconds * wattsPerLogicalCpu;
  const avgW = windowS > 0 ? grossJ / windowS : 0;
  return {
    meter: ESTIMATE_METER,
    zone: JOB_TREE_ZONE,
    source: 'estimate',
    role: 'component',
    grossJ,
    idleW: null,
    netJ: null,
    avgW,
    peakW: avgW,
  };
}
