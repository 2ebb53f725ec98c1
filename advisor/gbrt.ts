// Gradient-boosted regression trees: squared loss, depth-limited trees, shrinkage.
//
// Built to be exported as an ONNX TreeEnsembleRegressor and to give the same numbers
// there: features are float32, a split sends `x <= threshold` left with the threshold
// stored as float32 (Math.fround) and used as such while training, leaf values are
// float32, and prediction sums the trees in float32 before adding the base value, the
// order onnxruntime uses.

export interface TreeNode {
  /** -1 for a leaf. */
  feature: number;
  threshold: number;
  left: number;
  right: number;
  /** Leaf output (learning rate already applied); 0 for inner nodes. */
  value: number;
}

export interface Tree {
  nodes: TreeNode[]; // nodes[0] is the root
}

/** A linear start the trees boost from: prediction = linear(x) + trees(x). Float32 coefficients on raw features. */
export interface LinearStart {
  weights: number[];
  intercept: number;
}

export interface GbrtModel {
  kind: 'gbrt';
  base: number;
  trees: Tree[];
  params: GbrtParams;
  linear?: LinearStart;
}

export interface GbrtParams {
  nTrees: number;
  maxDepth: number;
  learningRate: number;
  minSamplesLeaf: number;
}

export const DEFAULT_GBRT: GbrtParams = { nTrees: 300, maxDepth: 4, learningRate: 0.05, minSamplesLeaf: 2 };

/** Row-major float32 feature matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

interface Split {
  feature: number;
  threshold: number;
  gain: number;
}

function bestSplit(x: Matrix, residual: Float64Array, idx: number[], minLeaf: number): Split | null {
  const n = idx.length;
  let total = 0;
  for (const i of idx) total += residual[i];
  const parentScore = (total * total) / n;
  let best: Split | null = null;
  const order = idx.slice();
  for (let f = 0; f < x.cols; f++) {
    order.sort((a, b) => x.data[a * x.cols + f] - x.data[b * x.cols + f]);
    let leftSum = 0;
    for (let k = 0; k < n - 1; k++) {
      leftSum += residual[order[k]];
      const lo = x.data[order[k] * x.cols + f];
      const hi = x.data[order[k + 1] * x.cols + f];
      if (lo === hi) continue;
      const nl = k + 1;
      const nr = n - nl;
      if (nl < minLeaf || nr < minLeaf) continue;
      const rightSum = total - leftSum;
      const gain = (leftSum * leftSum) / nl + (rightSum * rightSum) / nr - parentScore;
      if (gain > 1e-12 && (!best || gain > best.gain)) {
        // Midpoint as float32; if rounding pushes it onto `hi`, split exactly at `lo` (a float32 value).
        let threshold = Math.fround((lo + hi) / 2);
        if (!(threshold < hi) || threshold < lo) threshold = lo;
        best = { feature: f, threshold, gain };
      }
    }
  }
  return best;
}

function buildTree(x: Matrix, residual: Float64Array, rows: number[], p: GbrtParams): Tree {
  const nodes: TreeNode[] = [];
  const grow = (idx: number[], depth: number): number => {
    const id = nodes.length;
    nodes.push({ feature: -1, threshold: 0, left: 0, right: 0, value: 0 });
    const split = depth < p.maxDepth && idx.length >= 2 * p.minSamplesLeaf ? bestSplit(x, residual, idx, p.minSamplesLeaf) : null;
    if (!split) {
      let s = 0;
      for (const i of idx) s += residual[i];
      nodes[id].value = Math.fround((p.learningRate * s) / idx.length);
      return id;
    }
    const left: number[] = [];
    const right: number[] = [];
    for (const i of idx) (x.data[i * x.cols + split.feature] <= split.threshold ? left : right).push(i);
    nodes[id].feature = split.feature;
    nodes[id].threshold = split.threshold;
    nodes[id].left = grow(left, depth + 1);
    nodes[id].right = grow(right, depth + 1);
    return id;
  };
  grow(rows, 0);
  return { nodes };
}

export function leafValue(tree: Tree, x: Float32Array, offset: number): number {
  let n = tree.nodes[0];
  while (n.feature >= 0) n = tree.nodes[x[offset + n.feature] <= n.threshold ? n.left : n.right];
  return n.value;
}

/** The linear start's prediction, in float32 steps. */
export function predictLinear(l: LinearStart, x: Float32Array, offset: number, cols: number): number {
  let s = l.intercept;
  for (let j = 0; j < cols; j++) if (l.weights[j] !== 0) s = Math.fround(s + Math.fround(l.weights[j] * x[offset + j]));
  return s;
}

/**
 * Fits one boosted ensemble to targets y (already in model space, e.g. log energy).
 * With `linear`, the trees fit what the linear model leaves over (boosting from a linear start).
 */
export function fitGbrt(x: Matrix, y: ArrayLike<number>, params: Partial<GbrtParams> = {}, linear?: LinearStart): GbrtModel {
  const p = { ...DEFAULT_GBRT, ...params };
  if (x.rows === 0) throw new Error('fitGbrt: no rows');
  if (linear) {
    const rest = new Float64Array(x.rows);
    for (let i = 0; i < x.rows; i++) rest[i] = y[i] - predictLinear(linear, x.data, i * x.cols, x.cols);
    return { ...fitGbrt(x, rest, params), linear };
  }
  let mean = 0;
  for (let i = 0; i < x.rows; i++) mean += y[i];
  const base = Math.fround(mean / x.rows);
  const pred = new Float64Array(x.rows).fill(base);
  const residual = new Float64Array(x.rows);
  const rows = Array.from({ length: x.rows }, (_, i) => i);
  const trees: Tree[] = [];
  for (let t = 0; t < p.nTrees; t++) {
    for (let i = 0; i < x.rows; i++) residual[i] = y[i] - pred[i];
    const tree = buildTree(x, residual, rows, p);
    trees.push(tree);
    for (let i = 0; i < x.rows; i++) pred[i] += leafValue(tree, x.data, i * x.cols);
  }
  return { kind: 'gbrt', base, trees, params: p };
}

/** Predicts like onnxruntime: float32 sum of the trees, then + base (float32), then + the linear start. */
export function predictGbrt(model: GbrtModel, x: Matrix): Float64Array {
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (const tree of model.trees) s = Math.fround(s + leafValue(tree, x.data, i * x.cols));
    out[i] = Math.fround(s + model.base);
    if (model.linear) out[i] = Math.fround(out[i] + predictLinear(model.linear, x.data, i * x.cols, x.cols));
  }
  return out;
}
