import { describe, expect, it } from 'vitest';
import {
  bdEnergy,
  bdRate,
  cohensD,
  hedgesG,
  holm,
  pchip,
  regularizedIncompleteBeta,
  relativeDifference,
  RunningMoments,
  studentTCdf,
  studentTQuantile,
  summarize,
  welchTTest,
} from './stats.ts';

describe('Student t quantile', () => {
  // Two-sided 95% (p = 0.975) and one-sided 95% critical values, standard t tables (6 decimals).
  const t975: Array<[number, number]> = [
    [1, 12.706205],
    [2, 4.302653],
    [3, 3.182446],
    [4, 2.776445],
    [5, 2.570582],
    [10, 2.228139],
    [20, 2.085963],
    [30, 2.042272],
    [60, 2.000298],
    [120, 1.97993],
  ];
  it.each(t975)('t(0.975, %i) = %f', (df, expected) => {
    expect(studentTQuantile(0.975, df)).toBeCloseTo(expected, 5);
  });
  it('matches one-sided and 99% table values', () => {
    expect(studentTQuantile(0.95, 10)).toBeCloseTo(1.812461, 5);
    expect(studentTQuantile(0.995, 5)).toBeCloseTo(4.032143, 5);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.776445, 5);
    expect(studentTQuantile(0.5, 7)).toBe(0);
  });
  it('tends to the normal quantile for large df', () => {
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 5);
  });
  it('is the inverse of the CDF', () => {
    for (const df of [1, 2.5, 9.9, 40])
      for (const p of [0.6, 0.9, 0.975, 0.999]) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 10);
  });
  it('rejects impossible arguments', () => {
    expect(() => studentTQuantile(1, 3)).toThrow(/0 < p < 1/);
    expect(() => studentTQuantile(0.9, 0)).toThrow(/df > 0/);
  });
  it('incomplete beta matches closed forms', () => {
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b
    expect(regularizedIncompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(regularizedIncompleteBeta(0.5, 3, 1)).toBeCloseTo(0.125, 12);
    expect(regularizedIncompleteBeta(0.2, 1, 4)).toBeCloseTo(1 - 0.8 ** 4, 12);
  });
});

describe('descriptive summary', () => {
  it('mean, sd and 95% CI of 1..5 (hand-checked)', () => {
    const s = summarize([1, 2, 3, 4, 5])!;
    expect(s.mean).toBe(3);
    expect(s.sd).toBeCloseTo(Math.sqrt(2.5), 12);
    // 2.776445 · 1.581139 / √5 = 1.963243
    expect(s.halfWidth).toBeCloseTo(1.963243, 5);
    expect(s.low).toBeCloseTo(1.036757, 5);
    expect(s.high).toBeCloseTo(4.963243, 5);
  });
  it('one value has a mean and no interval; none has no summary', () => {
    expect(summarize([7])).toEqual({ n: 1, mean: 7, sd: null, halfWidth: null, low: null, high: null });
    expect(summarize([])).toBeNull();
  });
  it('streaming moments equal the two-pass figures', () => {
    const xs = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16];
    const r = new RunningMoments();
    xs.forEach((x) => r.push(x));
    expect(r.mean).toBe(1e9 + 10);
    expect(r.sd).toBeCloseTo(Math.sqrt(30), 6);
    expect(r.summary()!.halfWidth).toBeCloseTo(summarize(xs)!.halfWidth!, 6);
  });
});

describe("Welch's t-test (Wikipedia 'Welch's t-test' worked examples)", () => {
  it('example 1: equal sizes', () => {
    const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const r = welchTTest(a, b)!;
    expect(r.t).toBeCloseTo(-2.46, 2);
    expect(r.df).toBeCloseTo(25.0, 1);
    expect(r.p).toBeCloseTo(0.021, 3);
  });
  it('example 2: unequal sizes and variances', () => {
    const a = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8];
    const b = [
      21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5,
      21.8,
    ];
    const r = welchTTest(a, b)!;
    expect(r.t).toBeCloseTo(-1.57, 2);
    expect(r.df).toBeCloseTo(9.9, 1);
    expect(r.p).toBeCloseTo(0.149, 3);
  });
  it('example 3', () => {
    const a = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
    const b = [
      28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9,
      13.3,
    ];
    const r = welchTTest(a, b)!;
    expect(Math.abs(r.t + 2.22)).toBeLessThan(0.01); // published to 2 decimals (−2.2255)
    expect(r.df).toBeCloseTo(24.5, 1);
    expect(Math.abs(r.p - 0.036)).toBeLessThan(0.001);
    // full precision cross-check: scipy.stats.ttest_ind(a, b, equal_var=False)
    expect(r.t).toBeCloseTo(-2.225512039969852, 10);
    expect(r.df).toBeCloseTo(24.524634944257343, 9);
    expect(r.p).toBeCloseTo(0.035484530830010394, 10);
  });
  it('needs two values per group', () => {
    expect(welchTTest([1], [1, 2])).toBeNull();
  });
});

describe('Holm correction', () => {
  it("Wikipedia's four-hypothesis example (α = 0.05 rejects the two smallest)", () => {
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    expect(adj[3]).toBeCloseTo(0.02, 12);
    expect(adj[0]).toBeCloseTo(0.03, 12);
    expect(adj[2]).toBeCloseTo(0.06, 12);
    expect(adj[1]).toBeCloseTo(0.06, 12); // monotone: max(0.06, 1 × 0.04)
    expect(adj.filter((p) => p <= 0.05)).toHaveLength(2);
  });
  it('caps at 1 and keeps the input order', () => {
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
  });
});

describe('effect sizes', () => {
  it("Cohen's d and Hedges' g on hand-checked groups", () => {
    // a = 2,4,6 (mean 4, sd 2); b = 1,2,3 (mean 2, sd 1); pooled sd = √((4·2 + 1·2)/4) = √2.5
    const a = { n: 3, mean: 4, sd: 2 };
    const b = { n: 3, mean: 2, sd: 1 };
    expect(cohensD(a, b)).toBeCloseTo(2 / Math.sqrt(2.5), 12);
    expect(hedgesG(a, b)).toBeCloseTo((2 / Math.sqrt(2.5)) * (1 - 3 / 15), 12);
  });
  it('relative difference with a delta-method interval', () => {
    const a = summarize([110, 112, 108, 110])!;
    const b = summarize([100, 101, 99, 100])!;
    const r = relativeDifference(a, b)!;
    expect(r.pct).toBeCloseTo(10, 10);
    expect(r.halfWidthPct!).toBeGreaterThan(0);
    expect(r.halfWidthPct!).toBeLessThan(5);
  });
});

describe('PCHIP', () => {
  it('reproduces a straight line exactly', () => {
    const p = pchip([0, 1, 3, 4], [1, 3, 7, 9]);
    expect(p.at(2)).toBeCloseTo(5, 12);
    expect(p.integral(0, 4)).toBeCloseTo(20, 12);
  });
  it('matches reference values (scipy.interpolate.PchipInterpolator, same knots)', () => {
    const p = pchip([1, 2, 4, 5, 7], [1, 3, 3.5, 8, 2]);
    expect(p.at(1.5)).toBeCloseTo(2.26210586, 7);
    expect(p.at(3)).toBeCloseTo(3.24012812, 7);
    expect(p.at(4.5)).toBeCloseTo(5.81574675, 7);
    expect(p.at(6)).toBeCloseTo(7, 7);
    expect(p.integral(1, 7)).toBeCloseTo(27.12207256, 7);
    expect(p.integral(1.5, 6.2)).toBeCloseTo(22.68537134, 7);
  });
  it('stays monotone between monotone data (no overshoot)', () => {
    const p = pchip([0, 1, 2, 3], [0, 0, 1, 1]);
    for (let x = 0; x <= 3; x += 0.05) {
      expect(p.at(x)).toBeGreaterThanOrEqual(-1e-12);
      expect(p.at(x)).toBeLessThanOrEqual(1 + 1e-12);
    }
  });
  it('rejects unsorted knots', () => {
    expect(() => pchip([0, 2, 1], [0, 1, 2])).toThrow(/strictly increasing/);
  });
});

describe('Bjøntegaard deltas', () => {
  const ref = [
    { bitrate: 500e3, quality: 80.1 },
    { bitrate: 1000e3, quality: 87.4 },
    { bitrate: 2000e3, quality: 92.0 },
    { bitrate: 4000e3, quality: 95.3 },
  ];
  it('identical curves give 0%', () => {
    expect(bdRate(ref, ref).pct).toBeCloseTo(0, 12);
  });
  it('the same curve at 1.1× the bitrate gives +10%, and the reverse −9.09%', () => {
    const shifted = ref.map((p) => ({ ...p, bitrate: p.bitrate * 1.1 }));
    expect(bdRate(ref, shifted).pct).toBeCloseTo(10, 9);
    expect(bdRate(shifted, ref).pct).toBeCloseTo((1 / 1.1 - 1) * 100, 9);
  });
  it('energy analogue: 20% less energy at every quality gives −20%', () => {
    const e = ref.map((p, i) => ({ energy: 1000 + 300 * i, quality: p.quality }));
    const less = e.map((p) => ({ ...p, energy: p.energy * 0.8 }));
    expect(bdEnergy(e, less).pct).toBeCloseTo(-20, 9);
  });
  it('only the overlapping quality range counts', () => {
    const test = ref.map((p) => ({ ...p, quality: p.quality + 2 }));
    const r = bdRate(ref, test);
    expect(r.pct).toBeLessThan(0); // same bitrate buys more quality → less bitrate at equal quality
    expect(r).toMatchObject({ qualityLow: 82.1, qualityHigh: 95.3 });
  });
  it('says why when it cannot compute', () => {
    expect(bdRate(ref.slice(0, 3), ref).reason).toMatch(/at least 4/);
    const far = ref.map((p) => ({ ...p, quality: p.quality + 50 }));
    expect(bdRate(ref, far).reason).toMatch(/do not overlap/);
    const dup = [...ref.slice(0, 3), { bitrate: 9e6, quality: 92.0 }];
    expect(bdRate(ref, dup).reason).toMatch(/same quality/);
  });
});
