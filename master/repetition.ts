import { mean, sampleStandardDeviation } from 'simple-statistics';

// Two-sided 95% Student-t critical values for df 1..30 (standard tables); normal beyond.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Half-width of the 95% CI of the mean, as % of the mean; null with fewer than 2 values. */
export function ciHalfwidthPct(values: number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  if (m === 0) return null;
  const t = T975[values.length - 2] ?? 1.96;
  return ((t * sampleStandardDeviation(values)) / Math.sqrt(values.length) / Math.abs(m)) * 100;
}
