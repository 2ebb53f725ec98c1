import type { RunRecord } from './contracts/run-record.ts';

/**
 * Quality per joule (docs/methodology.md, "Quality per joule"), defined once: the main rung's
 * mean VMAF (else its `psnrAvg` in dB) per kJ of net energy (gross when there is no positive
 * net figure). Stored with each run (`run.quality_per_joule`) and exported as
 * `ffwatt_run_quality_per_joule`. Null when the run has no quality score or no energy.
 */
export function qualityPerJoule(record: Pick<RunRecord, 'quality' | 'energy'>): number | null {
  const q = record.quality?.outputs[0];
  const e = record.energy;
  if (!q || !e) return null;
  const score = q.vmaf?.mean ?? q.psnrAvg;
  const joules = e.netJ != null && e.netJ > 0 ? e.netJ : e.grossJ;
  if (score == null || !(joules > 0)) return null;
  return score / (joules / 1000);
}
