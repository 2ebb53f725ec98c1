// Figures derived from quality and energy: quality per joule, and energy at equal quality.
// Pure functions; a figure that cannot be formed is null with a reason, never a zero.
import type { QualityResult } from '../core/types.ts';

export type QualityMetric = 'vmaf' | 'psnrY';

export interface HeadlineQuality {
  metric: QualityMetric;
  /** VMAF mean score, or mean luma PSNR in dB. */
  value: number;
  rung: number;
}

/** The figure a run is ranked by: mean VMAF of the rung when scored, else its mean luma PSNR. */
export function headlineQuality(quality: QualityResult | null, rung = 0): HeadlineQuality | { value: null; reason: string } {
  if (!quality) return { value: null, reason: 'no quality result' };
  const out = quality.outputs.find((o) => o.rung === rung);
  if (!out) return { value: null, reason: `no quality result for rung ${rung}` };
  if (out.vmaf) return { metric: 'vmaf', value: out.vmaf.mean, rung };
  if (out.psnrY !== null) return { metric: 'psnrY', value: out.psnrY, rung };
  return { value: null, reason: `rung ${rung} has neither VMAF nor PSNR` };
}

export type QualityPerJoule =
  | { value: number; unit: 'vmaf/kJ' | 'dB/kJ'; metric: QualityMetric; rung: number }
  | { value: null; reason: string };

/**
 * Quality per kilojoule: mean VMAF points of the rung (or mean luma PSNR in dB when VMAF was not
 * scored) divided by the energy in kJ. The unit says which metric was used; the two are never mixed.
 */
export function qualityPerJoule(quality: QualityResult | null, energyJ: number | null, rung = 0): QualityPerJoule {
  if (energyJ === null || !Number.isFinite(energyJ)) return { value: null, reason: 'no energy figure' };
  if (energyJ <= 0) return { value: null, reason: `energy ${energyJ} J is not positive` };
  const q = headlineQuality(quality, rung);
  if (q.value === null) return q;
  const { metric } = q as HeadlineQuality;
  return { value: q.value / (energyJ / 1000), unit: metric === 'vmaf' ? 'vmaf/kJ' : 'dB/kJ', metric, rung };
}

export interface QualityEnergyPoint {
  /** Quality of one run (same metric for every point). */
  quality: number;
  /** J per encoded minute of that run. */
  jPerMinute: number;
}

export type EnergyAtQuality =
  | { value: number; interpolated: boolean; between: [QualityEnergyPoint, QualityEnergyPoint] | null }
  | { value: null; reason: string };

/**
 * J per encoded minute at a quality threshold (e.g. VMAF 93) for one configuration, from its runs at
 * several rates: points are sorted by quality (runs of equal quality averaged), and the energy is
 * interpolated linearly between the two points that bracket the threshold. No extrapolation: a
 * threshold outside the measured quality range gives null with the reason.
 */
export function jPerMinuteAtQuality(runs: readonly QualityEnergyPoint[], threshold: number): EnergyAtQuality {
  const valid = runs.filter((r) => Number.isFinite(r.quality) && Number.isFinite(r.jPerMinute));
  if (valid.length === 0) return { value: null, reason: 'no runs with both quality and energy' };
  const byQuality = new Map<number, number[]>();
  for (const r of valid) byQuality.set(r.quality, [...(byQuality.get(r.quality) ?? []), r.jPerMinute]);
  const points = [...byQuality.entries()]
    .map(([quality, js]) => ({ quality, jPerMinute: js.reduce((a, b) => a + b, 0) / js.length }))
    .sort((a, b) => a.quality - b.quality);
  const lowest = points[0];
  const highest = points[points.length - 1];
  if (threshold < lowest.quality || threshold > highest.quality) {
    return { value: null, reason: `quality ${threshold} is outside the measured range ${lowest.quality}–${highest.quality}` };
  }
  const exact = points.find((p) => p.quality === threshold);
  if (exact) return { value: exact.jPerMinute, interpolated: false, between: null };
  const upperIndex = points.findIndex((p) => p.quality > threshold);
  const lo = points[upperIndex - 1];
  const hi = points[upperIndex];
  const t = (threshold - lo.quality) / (hi.quality - lo.quality);
  return { value: lo.jPerMinute + t * (hi.jPerMinute - lo.jPerMinute), interpolated: true, between: [lo, hi] };
}
