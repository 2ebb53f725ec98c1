import { summarize } from './stats.ts';

/** Half-width of the 95% Student-t CI of the mean, as % of the mean; null with fewer than 2 values. */
export function ciHalfwidthPct(values: number[]): number | null {
  const s = summarize(values);
  if (!s || s.halfWidth == null || s.mean === 0) return null;
  return (s.halfWidth / Math.abs(s.mean)) * 100;
}
