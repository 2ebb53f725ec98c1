// Picks the loss (squared or Huber), tree depth and number of trees per target by grouped
// cross-validation (criterion: mean absolute error in model space) inside the
// TRAINING part only (the held-out configurations are never looked at), so the held-out
// figures stay an honest estimate. Folds are by configuration, like the main split.

import { fitGbrt, leafValue, type GbrtParams, type Matrix } from './gbrt.ts';
import { fitRidge, ridgeAsLinear } from './ridge.ts';

export interface TuneGrid {
  losses: Array<GbrtParams['loss']>;
  depths: number[];
  /** Tree counts checked (one fit with the largest count gives every smaller one). */
  trees: number[];
  folds: number;
}

export const DEFAULT_TUNE_GRID: TuneGrid = {
  losses: ['squared', 'huber'],
  depths: [1, 2, 3, 4],
  trees: [25, 50, 100, 200, 300],
  folds: 3,
};

export interface TuneResult {
  loss: GbrtParams['loss'];
  maxDepth: number;
  nTrees: number;
  /** Mean absolute error (model space: for log targets ≈ relative error) across folds for the chosen setting. */
  cvMae: number;
}

function subset(x: Matrix, idx: number[]): Matrix {
  const data = new Float32Array(idx.length * x.cols);
  idx.forEach((r, i) => data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols));
  return { data, rows: idx.length, cols: x.cols };
}

/**
 * `groups[i]` is the configuration of row i. Returns the depth and tree count with the
 * lowest mean fold error; with fewer groups than folds the base params are kept.
 */
export function tuneGbrt(
  x: Matrix,
  y: number[],
  groups: string[],
  base: GbrtParams,
  opts: { linearStart: boolean; ridgeLambda: number; seed: number; grid?: TuneGrid },
): TuneResult | null {
  const grid = opts.grid ?? DEFAULT_TUNE_GRID;
  const keys = [...new Set(groups)].sort();
  if (keys.length < grid.folds * 2) return null;
  let s = opts.seed >>> 0 || 1;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const foldOf = new Map(keys.map((k, i) => [k, i % grid.folds]));
  const trees = grid.trees.filter((n) => n <= base.nTrees);
  if (trees.length === 0) trees.push(base.nTrees);
  const maxTrees = Math.max(...trees);
  const sse = new Map<string, number>();
  let count = 0;
  for (let f = 0; f < grid.folds; f++) {
    const trainIdx = groups.flatMap((g, i) => (foldOf.get(g) !== f ? [i] : []));
    const validIdx = groups.flatMap((g, i) => (foldOf.get(g) === f ? [i] : []));
    const xt = subset(x, trainIdx);
    const xv = subset(x, validIdx);
    const yt = trainIdx.map((i) => y[i]);
    const linear = opts.linearStart ? ridgeAsLinear(fitRidge(xt, yt, opts.ridgeLambda)) : undefined;
    count += validIdx.length;
    for (const loss of grid.losses ?? ['squared'])
      for (const depth of grid.depths) {
        const m = fitGbrt(xt, yt, { ...base, loss, maxDepth: depth, nTrees: maxTrees }, linear);
        const pred = new Float64Array(xv.rows);
        for (let i = 0; i < xv.rows; i++) {
          pred[i] = m.base;
          if (linear) {
            let l = linear.intercept;
            for (let j = 0; j < xv.cols; j++) l += linear.weights[j] * xv.data[i * xv.cols + j];
            pred[i] += l;
          }
        }
        m.trees.forEach((tree, t) => {
          for (let i = 0; i < xv.rows; i++) pred[i] += leafValue(tree, xv.data, i * xv.cols);
          if (trees.includes(t + 1)) {
            let e = 0;
            for (let i = 0; i < xv.rows; i++) e += Math.abs(y[validIdx[i]] - pred[i]);
            const key = `${loss}/${depth}/${t + 1}`;
            sse.set(key, (sse.get(key) ?? 0) + e);
          }
        });
      }
  }
  let best: TuneResult | null = null;
  for (const [key, e] of sse) {
    const [lossName, d, n] = key.split('/');
    const loss = lossName as GbrtParams['loss'];
    const maxDepth = Number(d);
    const nTrees = Number(n);
    const cvMae = e / count;
    // Ties go to the simpler model (squared loss, shallower, then fewer trees).
    const rank = (r: { loss: string; maxDepth: number; nTrees: number }) =>
      (r.loss === 'huber' ? 1e6 : 0) + r.maxDepth * 1000 + r.nTrees;
    if (
      !best ||
      cvMae < best.cvMae - 1e-12 ||
      (Math.abs(cvMae - best.cvMae) <= 1e-12 && rank({ loss, maxDepth, nTrees }) < rank(best))
    ) {
      best = { loss, maxDepth, nTrees, cvMae };
    }
  }
  return best;
}
