// Linear baseline: ridge regression on standardized features (closed form).
// Columns that never vary in training (e.g. an unknown bucket) get weight 0.

import type { Matrix } from './gbrt.ts';

export interface RidgeModel {
  kind: 'ridge';
  lambda: number;
  intercept: number;
  means: number[];
  scales: number[];
  weights: number[];
}

/** Solves A w = b for a symmetric positive definite A (Cholesky); A is n×n row-major. */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * n + j];
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * z[k];
    z[i] = s / l[i * n + i];
  }
  const w = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * w[k];
    w[i] = s / l[i * n + i];
  }
  return w;
}

export function fitRidge(x: Matrix, y: ArrayLike<number>, lambda = 1): RidgeModel {
  const { rows, cols, data } = x;
  const means = new Array<number>(cols).fill(0);
  const scales = new Array<number>(cols).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) means[j] += data[i * cols + j] / rows;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) scales[j] += (data[i * cols + j] - means[j]) ** 2 / rows;
  for (let j = 0; j < cols; j++) scales[j] = Math.sqrt(scales[j]);
  let yMean = 0;
  for (let i = 0; i < rows; i++) yMean += y[i] / rows;
  const z = (i: number, j: number) => (scales[j] > 1e-12 ? (data[i * cols + j] - means[j]) / scales[j] : 0);
  const a = new Float64Array(cols * cols);
  const b = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const zj = z(i, j);
      if (zj === 0) continue;
      b[j] += zj * (y[i] - yMean);
      for (let k = 0; k <= j; k++) a[j * cols + k] += zj * z(i, k);
    }
  }
  for (let j = 0; j < cols; j++) {
    for (let k = 0; k < j; k++) a[k * cols + j] = a[j * cols + k];
    a[j * cols + j] += lambda;
  }
  const w = solveSpd(a, b, cols);
  return {
    kind: 'ridge',
    lambda,
    intercept: yMean,
    means,
    scales,
    weights: Array.from(w, (v, j) => (scales[j] > 1e-12 ? v : 0)),
  };
}

export function predictRidge(model: RidgeModel, x: Matrix): Float64Array {
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = model.intercept;
    for (let j = 0; j < x.cols; j++) {
      if (model.weights[j] !== 0) s += (model.weights[j] * (x.data[i * x.cols + j] - model.means[j])) / model.scales[j];
    }
    out[i] = s;
  }
  return out;
}

/** The ridge model as float32 coefficients on raw (unstandardized) features: the start boosting builds on. */
export function ridgeAsLinear(m: RidgeModel): { weights: number[]; intercept: number } {
  const weights = m.weights.map((w, j) => (w === 0 ? 0 : Math.fround(w / m.scales[j])));
  let intercept = m.intercept;
  m.weights.forEach((w, j) => {
    if (w !== 0) intercept -= (w * m.means[j]) / m.scales[j];
  });
  return { weights, intercept: Math.fround(intercept) };
}
