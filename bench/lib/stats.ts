/** Small statistics for the benchmarks: percentiles, and mean with a Student-t 95 % CI. */
import { stats } from '../../analyzers/index.ts';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Half-width of the two-sided 95 % Student-t interval; null below two values. */
  halfWidth: number | null;
}

export function meanCi(xs: number[]): MeanCi {
  const s = stats.summarize(xs);
  if (!s) return { n: 0, mean: NaN, halfWidth: null };
  return { n: s.n, mean: s.mean, halfWidth: s.halfWidth };
}

export const median = (xs: number[]) => percentile(xs, 50);
