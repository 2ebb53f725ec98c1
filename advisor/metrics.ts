// Error figures reported for held-out predictions (in the target's units).

export interface ErrorMetrics {
  n: number;
  mae: number;
  /** Mean absolute percentage error, in percent. */
  mape: number;
  r2: number;
}

export function errorMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>): ErrorMetrics {
  const n = actual.length;
  if (n === 0 || predicted.length !== n)
    throw new Error(`errorMetrics: need equal, non-empty arrays (got ${n} and ${predicted.length})`);
  let absSum = 0;
  let pctSum = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i] / n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const e = actual[i] - predicted[i];
    absSum += Math.abs(e);
    pctSum += Math.abs(e) / Math.max(Math.abs(actual[i]), 1e-12);
    ssRes += e * e;
    ssTot += (actual[i] - mean) ** 2;
  }
  return { n, mae: absSum / n, mape: (100 * pctSum) / n, r2: ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : 0 };
}

/** Linear-interpolated quantile (q in [0, 1]). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Array.from(values).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
