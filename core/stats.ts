// Statistics used by the reports: descriptive figures with Student-t intervals, Welch's
// test, Holm's correction, effect sizes, and (re-exported) PCHIP / Bjøntegaard deltas.
import { mean as ssMean, sampleStandardDeviation, sampleVariance } from 'simple-statistics';
import { studentTQuantile, studentTTwoSidedP } from './tdist.ts';

export { regularizedIncompleteBeta, studentTCdf, studentTQuantile, studentTTwoSidedP } from './tdist.ts';
export { pchip, bdDelta, bdRate, bdEnergy, type BdResult, type RatePoint } from './bjontegaard.ts';

export const mean = (xs: number[]): number => ssMean(xs);
/** Sample standard deviation (n − 1); null below two values. */
export const sd = (xs: number[]): number | null => (xs.length < 2 ? null : sampleStandardDeviation(xs));

/** Mean with its two-sided Student-t confidence interval. */
export interface Summary {
  n: number;
  mean: number;
  sd: number | null;
  /** t(1−α/2, n−1) · sd / √n; null below two values. */
  halfWidth: number | null;
  low: number | null;
  high: number | null;
}

const quantileCache = new Map<string, number>();
/** Student-t quantile, memoized: reports ask for the same (level, df) thousands of times. */
function tCritical(p: number, df: number): number {
  const k = `${p}|${df}`;
  let v = quantileCache.get(k);
  if (v === undefined) {
    v = studentTQuantile(p, df);
    if (quantileCache.size < 10_000) quantileCache.set(k, v);
  }
  return v;
}

/** Summary from moments (count, mean, sample sd), e.g. as accumulated by a streaming pass. */
export function summaryFromMoments(n: number, m: number, s: number | null, level = 0.95): Summary | null {
  if (n < 1) return null;
  if (n < 2 || s == null) return { n, mean: m, sd: null, halfWidth: null, low: null, high: null };
  const halfWidth = (tCritical(1 - (1 - level) / 2, n - 1) * s) / Math.sqrt(n);
  return { n, mean: m, sd: s, halfWidth, low: m - halfWidth, high: m + halfWidth };
}

export function summarize(xs: number[], level = 0.95): Summary | null {
  if (xs.length === 0) return null;
  return summaryFromMoments(xs.length, mean(xs), sd(xs), level);
}

/** Welford's running mean/variance: one pass, no array kept. */
export class RunningMoments {
  n = 0;
  private m = 0;
  private m2 = 0;
  push(x: number): void {
    this.n++;
    const d = x - this.m;
    this.m += d / this.n;
    this.m2 += d * (x - this.m);
  }
  get mean(): number {
    return this.m;
  }
  get sd(): number | null {
    return this.n < 2 ? null : Math.sqrt(this.m2 / (this.n - 1));
  }
  summary(level = 0.95): Summary | null {
    return summaryFromMoments(this.n, this.m, this.sd, level);
  }
}

export interface WelchResult {
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
  /** meanA − meanB */
  diff: number;
}

/** Welch's unequal-variance t-test from summary figures (n, mean, sample sd of each group). */
export function welchFromMoments(
  a: { n: number; mean: number; sd: number },
  b: { n: number; mean: number; sd: number },
): WelchResult | null {
  if (a.n < 2 || b.n < 2) return null;
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const diff = a.mean - b.mean;
  const se2 = va + vb;
  if (se2 === 0)
    return { t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: a.n + b.n - 2, p: diff === 0 ? 1 : 0, diff };
  const t = diff / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  return { t, df, p: studentTTwoSidedP(t, df), diff };
}

export function welchTTest(xs: number[], ys: number[]): WelchResult | null {
  if (xs.length < 2 || ys.length < 2) return null;
  return welchFromMoments(
    { n: xs.length, mean: mean(xs), sd: Math.sqrt(sampleVariance(xs)) },
    { n: ys.length, mean: mean(ys), sd: Math.sqrt(sampleVariance(ys)) },
  );
}

/** Holm–Bonferroni step-down adjusted p-values, in the input order. */
export function holm(ps: number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p || x.i - y.i);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** Cohen's d with the pooled sample standard deviation; null when undefined. */
export function cohensD(
  a: { n: number; mean: number; sd: number },
  b: { n: number; mean: number; sd: number },
): number | null {
  if (a.n < 2 || b.n < 2) return null;
  const pooled = Math.sqrt(((a.n - 1) * a.sd * a.sd + (b.n - 1) * b.sd * b.sd) / (a.n + b.n - 2));
  if (pooled === 0) return null;
  return (a.mean - b.mean) / pooled;
}

/** Hedges' g: Cohen's d with the small-sample correction J = 1 − 3 / (4(n₁+n₂) − 9). */
export function hedgesG(
  a: { n: number; mean: number; sd: number },
  b: { n: number; mean: number; sd: number },
): number | null {
  const d = cohensD(a, b);
  if (d == null) return null;
  return d * (1 - 3 / (4 * (a.n + b.n) - 9));
}

/**
 * Ratio of two means, mean(a)/mean(b) − 1, with a delta-method interval using Welch's df:
 * half-width ≈ t · (a/b) · √(se_a²/a² + se_b²/b²). Null when either side lacks a spread.
 */
export function relativeDifference(
  a: Summary,
  b: Summary,
  level = 0.95,
): { pct: number; halfWidthPct: number | null } | null {
  if (b.mean === 0) return null;
  const ratio = a.mean / b.mean;
  const pct = (ratio - 1) * 100;
  if (a.sd == null || b.sd == null || a.mean === 0) return { pct, halfWidthPct: null };
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const rel2 = va / (a.mean * a.mean) + vb / (b.mean * b.mean);
  if (rel2 === 0) return { pct, halfWidthPct: 0 };
  const df = (va + vb) ** 2 / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1)) || a.n + b.n - 2;
  const t = studentTQuantile(1 - (1 - level) / 2, df);
  return { pct, halfWidthPct: Math.abs(ratio) * Math.sqrt(rel2) * t * 100 };
}
