import { describe, expect, it } from 'vitest';
import { trainAdvisor, splitByConfiguration, toMatrix } from './train.ts';
import { syntheticRows } from './test-helpers.ts';
import { configKey } from './dataset.ts';
import { predictGbrt, fitGbrt } from './gbrt.ts';
import { fitRidge, predictRidge } from './ridge.ts';
import { tuneGbrt } from './tune.ts';
import { DEFAULT_GBRT } from './gbrt.ts';

describe('splitByConfiguration', () => {
  it('keeps every repetition of a configuration on one side', () => {
    const rows = syntheticRows({ repetitions: 3 });
    const held = splitByConfiguration(rows, 0.25, 1);
    const sides = new Map<string, Set<boolean>>();
    for (const r of rows) {
      const k = configKey(r.features, r.content);
      (sides.get(k) ?? sides.set(k, new Set()).get(k)!).add(held.has(k));
    }
    for (const s of sides.values()) expect(s.size).toBe(1);
    const share = held.size / sides.size;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
  });

  it('refuses data with a single configuration', () => {
    const rows = syntheticRows().slice(0, 2); // two repetitions of one configuration
    expect(() => splitByConfiguration(rows, 0.25, 1)).toThrow(/at least 2/);
  });
});

describe('gbrt and ridge', () => {
  it('fit a step function exactly at float32 thresholds', () => {
    const xs = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9].map(Math.fround);
    const x = { data: Float32Array.from(xs), rows: 6, cols: 1 };
    const y = xs.map((v) => (v < 0.5 ? 1 : 5));
    const m = fitGbrt(x, y, { nTrees: 200, learningRate: 0.1, maxDepth: 1, minSamplesLeaf: 1 });
    const p = predictGbrt(m, x);
    p.forEach((v, i) => expect(v).toBeCloseTo(y[i], 3));
    expect(m.trees[0].nodes[0].threshold).toBe(Math.fround(0.5));
  });

  it('Huber loss shrugs off a few disturbed measurements that pull squared loss', () => {
    const n = 40;
    const data = Float32Array.from({ length: n }, (_, i) => i % 2);
    const y = Array.from({ length: n }, (_, i) => (i % 2) * 1 + (i < 4 ? 20 : 0)); // 4 outliers of +20
    const x = { data, rows: n, cols: 1 };
    const sq = predictGbrt(fitGbrt(x, y, { nTrees: 200, learningRate: 0.1, maxDepth: 1, minSamplesLeaf: 1 }), x);
    const hu = predictGbrt(
      fitGbrt(x, y, { nTrees: 200, learningRate: 0.1, maxDepth: 1, minSamplesLeaf: 1, loss: 'huber' }),
      x,
    );
    expect(Math.abs(hu[10] - 0)).toBeLessThan(0.5); // the clean value of group 0
    expect(Math.abs(hu[11] - 1)).toBeLessThan(0.5);
    expect(sq[10]).toBeCloseTo(2, 1); // squared loss follows the mean: (2 × 20) / 20, outliers included
  });

  it('ridge recovers a linear rule', () => {
    const n = 50;
    const data = new Float32Array(n * 2);
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      data[i * 2] = Math.fround(i / 10);
      data[i * 2 + 1] = Math.fround((i * 7) % 11);
      y.push(3 + 2 * data[i * 2] - 0.5 * data[i * 2 + 1]);
    }
    const m = fitRidge({ data, rows: n, cols: 2 }, y, 1e-6);
    const p = predictRidge(m, { data, rows: n, cols: 2 });
    p.forEach((v, i) => expect(v).toBeCloseTo(y[i], 3));
  });
});

describe('trainAdvisor on synthetic data with a known rule', () => {
  const rows = syntheticRows({ repetitions: 2, noise: 0.01 });
  const trained = trainAdvisor(rows, { seed: 3, tune: false });

  it('recovers the rule on held-out configurations (low error)', () => {
    expect(trained.scores.gbrt.energy.mape).toBeLessThan(12);
    expect(trained.scores.gbrt.energy.r2).toBeGreaterThan(0.95);
    expect(trained.scores.gbrt.quality.mae).toBeLessThan(1.5);
    expect(trained.scores.gbrt.speed.r2).toBeGreaterThan(0.9);
  });

  it('beats the ridge baseline on the non-linear rule', () => {
    for (const t of ['energy', 'quality', 'speed'] as const) {
      expect(trained.scores.gbrt[t].mae).toBeLessThan(trained.scores.ridge[t].mae);
    }
  });

  it('records targets, split sizes and coverage', () => {
    const { meta } = trained;
    expect(meta.targets.map((t) => t.name)).toEqual(['energy', 'quality', 'speed']);
    expect(meta.targets[0].basis).toBe('net');
    expect(meta.targets[1].metric).toBe('vmaf');
    expect(meta.runs.total).toBe(rows.length);
    expect(meta.runs.train + meta.runs.validation).toBe(rows.length);
    expect(meta.coverage.pixels).toEqual({ min: 320 * 180, max: 960 * 540 });
    expect(meta.hardware).toHaveLength(1);
    expect(meta.hardware[0].encoders).toEqual(['libsvtav1', 'libx264', 'libx265']);
    expect(meta.uncertainty.residuals.energy.min).toBeLessThanOrEqual(meta.uncertainty.residuals.energy.max);
  });

  it('uses gross energy for every row when one row lacks a net figure, and PSNR when VMAF is absent', () => {
    const mixed = syntheticRows().map((r, i) => ({
      ...r,
      netJPerEncodedMinute: i === 0 ? null : r.netJPerEncodedMinute,
      psnr: 40,
      vmaf: null,
    }));
    const t = trainAdvisor(mixed, { gbrt: { nTrees: 5 }, tune: false });
    expect(t.meta.targets[0].basis).toBe('gross');
    expect(t.meta.targets[1].metric).toBe('psnr');
    expect(toMatrix(t.meta.features, mixed).rows).toBe(mixed.length);
  });
});

describe('tuneGbrt (grouped cross-validation inside the training part)', () => {
  function grid2(rule: (a: number, b: number) => number) {
    const rows: number[][] = [];
    for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) rows.push([a, b]);
    const x = { data: Float32Array.from(rows.flat()), rows: rows.length, cols: 2 };
    return { x, y: rows.map(([a, b]) => rule(a, b)), groups: rows.map(([a, b]) => `${a}/${b}`) };
  }
  const opts = {
    linearStart: false,
    ridgeLambda: 1,
    seed: 1,
    grid: { losses: ['squared' as const], depths: [1, 2, 3], trees: [50, 100, 200], folds: 3 },
  };

  it('keeps the simplest setting when one split explains everything', () => {
    const { x, y, groups } = grid2((a) => (a < 3 ? 0 : 10));
    expect(tuneGbrt(x, y, groups, DEFAULT_GBRT, opts)).toMatchObject({ maxDepth: 1 });
  });

  it('goes deeper for an interaction that one split cannot express', () => {
    const { x, y, groups } = grid2((a, b) => (a < 3 !== b < 3 ? 10 : 0));
    expect(tuneGbrt(x, y, groups, DEFAULT_GBRT, opts)!.maxDepth).toBeGreaterThan(1);
  });

  it('records what it chose in the model metadata', () => {
    const t = trainAdvisor(syntheticRows({ repetitions: 1 }), { seed: 4, gbrt: { nTrees: 50 } });
    expect(t.meta.training.tune).toBe(true);
    for (const c of Object.values(t.meta.training.chosen)) {
      expect([1, 2, 3, 4]).toContain(c.maxDepth);
      expect([25, 50]).toContain(c.nTrees);
      expect(c.cvMae).toBeGreaterThanOrEqual(0);
      expect(['squared', 'huber']).toContain(c.loss);
    }
  });
});
