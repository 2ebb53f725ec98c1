// PCHIP (Fritsch–Carlson monotone piecewise cubic Hermite) and Bjøntegaard deltas computed
// in the quality domain: log(y) as a function of quality, integrated exactly over the
// quality range both curves cover. y is the bitrate (BD-rate) or the energy (its analogue).

export interface Pchip {
  xs: number[];
  /** Polynomial coefficients per segment k, in t = x − xs[k]: c0 + c1 t + c2 t² + c3 t³. */
  coefs: Array<[number, number, number, number]>;
  at(x: number): number;
  /** Exact integral over [a, b] inside [xs[0], xs[n−1]]. */
  integral(a: number, b: number): number;
}

function endpointSlope(h0: number, h1: number, d0: number, d1: number): number {
  const s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
  if (Math.sign(s) !== Math.sign(d0)) return 0;
  if (Math.sign(d0) !== Math.sign(d1) && Math.abs(s) > Math.abs(3 * d0)) return 3 * d0;
  return s;
}

/** Builds the interpolant through (xs[i], ys[i]); xs must be strictly increasing, n >= 2. */
export function pchip(xs: number[], ys: number[]): Pchip {
  const n = xs.length;
  if (n < 2 || ys.length !== n)
    throw new RangeError(`pchip needs at least 2 points and as many ys as xs (got ${n} xs, ${ys.length} ys)`);
  for (let i = 1; i < n; i++) {
    if (!(xs[i] > xs[i - 1]))
      throw new RangeError(`pchip needs strictly increasing x (x[${i - 1}]=${xs[i - 1]}, x[${i}]=${xs[i]})`);
  }
  const h = xs.slice(1).map((x, i) => x - xs[i]);
  const delta = h.map((hk, k) => (ys[k + 1] - ys[k]) / hk);
  const d = new Array<number>(n);
  if (n === 2) {
    d[0] = d[1] = delta[0];
  } else {
    for (let k = 1; k < n - 1; k++) {
      if (delta[k - 1] * delta[k] <= 0) d[k] = 0;
      else {
        const w1 = 2 * h[k] + h[k - 1];
        const w2 = h[k] + 2 * h[k - 1];
        d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
      }
    }
    d[0] = endpointSlope(h[0], h[1], delta[0], delta[1]);
    d[n - 1] = endpointSlope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
  }
  const coefs = h.map((hk, k): [number, number, number, number] => [
    ys[k],
    d[k],
    (3 * delta[k] - 2 * d[k] - d[k + 1]) / hk,
    (d[k] + d[k + 1] - 2 * delta[k]) / (hk * hk),
  ]);
  const segment = (x: number) => {
    let k = 0;
    while (k < n - 2 && x > xs[k + 1]) k++;
    return k;
  };
  const prim = (k: number, t: number) => {
    const [c0, c1, c2, c3] = coefs[k];
    return t * (c0 + t * (c1 / 2 + t * (c2 / 3 + (t * c3) / 4)));
  };
  return {
    xs,
    coefs,
    at(x) {
      const k = segment(x);
      const t = x - xs[k];
      const [c0, c1, c2, c3] = coefs[k];
      return c0 + t * (c1 + t * (c2 + t * c3));
    },
    integral(a, b) {
      if (a < xs[0] - 1e-12 || b > xs[n - 1] + 1e-12 || a > b)
        throw new RangeError(`pchip integral [${a}, ${b}] outside [${xs[0]}, ${xs[n - 1]}]`);
      let sum = 0;
      for (let k = 0; k < n - 1; k++) {
        const lo = Math.max(a, xs[k]);
        const hi = Math.min(b, xs[k + 1]);
        if (hi > lo) sum += prim(k, hi - xs[k]) - prim(k, lo - xs[k]);
      }
      return sum;
    },
  };
}

/** One operating point of a rate–quality–energy curve. */
export interface RatePoint {
  /** The positive figure compared at equal quality: bitrate (bps) or energy (J per encoded minute). */
  value: number;
  quality: number;
}

export type BdResult =
  | { pct: number; qualityLow: number; qualityHigh: number; reason?: undefined }
  | { pct: null; reason: string };

function curve(points: RatePoint[], name: string): { xs: number[]; ys: number[] } | string {
  if (points.length < 4) return `${name} has ${points.length} points; a Bjøntegaard delta needs at least 4`;
  const sorted = [...points].sort((a, b) => a.quality - b.quality);
  for (const p of sorted) {
    if (!(p.value > 0) || !Number.isFinite(p.quality))
      return `${name} has a point without a positive value and a finite quality`;
  }
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].quality === sorted[i - 1].quality)
      return `${name} has two points with the same quality (${sorted[i].quality})`;
  }
  return { xs: sorted.map((p) => p.quality), ys: sorted.map((p) => Math.log(p.value)) };
}

/**
 * Average difference of log(value) of `test` over `reference` at equal quality, as a percentage:
 * +10 means the test needs 10% more (bitrate, energy) for the same quality.
 */
export function bdDelta(reference: RatePoint[], test: RatePoint[]): BdResult {
  const a = curve(reference, 'reference curve');
  if (typeof a === 'string') return { pct: null, reason: a };
  const b = curve(test, 'test curve');
  if (typeof b === 'string') return { pct: null, reason: b };
  const lo = Math.max(a.xs[0], b.xs[0]);
  const hi = Math.min(a.xs[a.xs.length - 1], b.xs[b.xs.length - 1]);
  if (!(hi > lo))
    return {
      pct: null,
      reason: `quality ranges do not overlap (reference ${a.xs[0]}–${a.xs[a.xs.length - 1]}, test ${b.xs[0]}–${b.xs[b.xs.length - 1]})`,
    };
  const avg = (pchip(b.xs, b.ys).integral(lo, hi) - pchip(a.xs, a.ys).integral(lo, hi)) / (hi - lo);
  return { pct: (Math.exp(avg) - 1) * 100, qualityLow: lo, qualityHigh: hi };
}

/** BD-rate: bitrate difference at equal quality. */
export const bdRate = (
  reference: Array<{ bitrate: number; quality: number }>,
  test: Array<{ bitrate: number; quality: number }>,
): BdResult =>
  bdDelta(
    reference.map((p) => ({ value: p.bitrate, quality: p.quality })),
    test.map((p) => ({ value: p.bitrate, quality: p.quality })),
  );

/** Energy analogue of BD-rate: energy (J per encoded minute) difference at equal quality. */
export const bdEnergy = (
  reference: Array<{ energy: number; quality: number }>,
  test: Array<{ energy: number; quality: number }>,
): BdResult =>
  bdDelta(
    reference.map((p) => ({ value: p.energy, quality: p.quality })),
    test.map((p) => ({ value: p.energy, quality: p.quality })),
  );
