// Pooling of per-frame quality scores into one FrameScoreSummary (mean, harmonic mean, 1st percentile, min).
import type { FrameScoreSummary } from '../core/types.ts';
import { RunError } from '../core/errors.ts';

/**
 * Harmonic mean with an optional shift, n / Σ 1/(v + shift) − shift. libvmaf pools VMAF this way with
 * shift 1 so that a frame scoring 0 does not divide by zero; PSNR and SSIM use shift 0. A value at or
 * below −shift makes the (limit of the) harmonic mean 0.
 */
export function harmonicMean(values: readonly number[], shift = 0): number {
  if (values.length === 0) throw new RunError('harmonicMean: no values');
  let sum = 0;
  for (const v of values) {
    if (v + shift <= 0) return 0;
    sum += 1 / (v + shift);
  }
  return values.length / sum - shift;
}

/** Percentile p in [0, 100] with linear interpolation between closest ranks (numpy's default). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RunError('percentile: no values');
  if (!(p >= 0 && p <= 100)) throw new RunError(`percentile: p must be in [0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function summarizeFrames(values: readonly number[], opts: { harmonicShift?: number } = {}): FrameScoreSummary {
  if (values.length === 0) throw new RunError('no frames were compared (empty per-frame log)');
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RunError(`per-frame score ${v} is not finite; cap it before pooling`);
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return {
    mean,
    harmonicMean: harmonicMean(values, opts.harmonicShift ?? 0),
    p1: percentile(values, 1),
    min: values.reduce((a, b) => (b < a ? b : a)),
  };
}
