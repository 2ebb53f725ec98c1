// Gradient-boosted regression trees: squared or Huber loss, depth-limited trees, shrinkage.
// Huber (Friedman's M-TreeBoost): trees are grown on residuals clipped at the alpha
// quantile of |residual|, leaves take median + mean clipped deviation; it keeps a few
// disturbed measurements (another process loading the box) from pulling whole leaves.
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
  loss: 'squared' | 'huber';
  /** Huber only: residuals beyond this quantile of |residual| count linearly. */
  huberAlpha: number;
}

export const DEFAULT_GBRT: GbrtParams = {
  nTrees: 300,
  maxDepth: 4,
  learningRate: 0.05,
  minSamplesLeaf: 2,
  loss: 'squared',
  huberAlpha: 0.9,
};

function median(v: number[]): number {
  const s = v.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quantileOf(v: ArrayLike<number>, q: number): number {
  const s = Array.from(v).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))];
}

const clip = (v: number, d: number) => (v > d ? d : v < -d ? -d : v);

/** Huber leaf value (before shrinkage): median + mean of the clipped deviations from it. */
function huberLeaf(r: number[], delta: number): number {
  const m = median(r);
  let s = 0;
  for (const v of r) s += clip(v - m, delta);
  return m + s / r.length;
}

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

/** Row indices sorted by each feature's value, computed once per fit (x never changes while boosting). */
function presort(x: Matrix): Int32Array[] {
  return Array.from({ length: x.cols }, (_, f) => {
    const order = Int32Array.from({ length: x.rows }, (_, i) => i);
    order.sort((a, b) => x.data[a * x.cols + f] - x.data[b * x.cols + f]);
    return order;
  });
}

interface Grower {
  x: Matrix;
  residual: Float64Array;
  sorted: Int32Array[];
  /** Node id each row currently sits in. */
  nodeOf: Int32Array;
  p: GbrtParams;
}

function bestSplit(g: Grower, nodeId: number, n: number, total: number): Split | null {
  const { x, residual, sorted, nodeOf, p } = g;
  const parentScore = (total * total) / n;
  let best: Split | null = null;
  for (let f = 0; f < x.cols; f++) {
    const order = sorted[f];
    let leftSum = 0;
    let nl = 0;
    let prev = -1;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      if (nodeOf[i] !== nodeId) continue;
      if (prev >= 0) {
        const lo = x.data[prev * x.cols + f];
        const hi = x.data[i * x.cols + f];
        const nr = n - nl;
        if (lo !== hi && nl >= p.minSamplesLeaf && nr >= p.minSamplesLeaf) {
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
      leftSum += residual[i];
      nl++;
      prev = i;
    }
  }
  return best;
}

function buildTree(g: Grower, rows: number[]): Tree {
  const { x, residual, nodeOf, p } = g;
  const nodes: TreeNode[] = [];
  const grow = (idx: number[], depth: number): number => {
    const id = nodes.length;
    nodes.push({ feature: -1, threshold: 0, left: 0, right: 0, value: 0 });
    let total = 0;
    for (const i of idx) {
      total += residual[i];
      nodeOf[i] = id;
    }
    const split = depth < p.maxDepth && idx.length >= 2 * p.minSamplesLeaf ? bestSplit(g, id, idx.length, total) : null;
    if (!split) {
      nodes[id].value = Math.fround((p.learningRate * total) / idx.length);
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

export function leafIndex(tree: Tree, x: Float32Array, offset: number): number {
  let k = 0;
  while (tree.nodes[k].feature >= 0) {
    const n = tree.nodes[k];
    k = x[offset + n.feature] <= n.threshold ? n.left : n.right;
  }
  return k;
}

export function leafValue(tree: Tree, x: Float32Array, offset: number): number {
  return tree.nodes[leafIndex(tree, x, offset)].value;
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
export function fitGbrt(
  x: Matrix,
  y: ArrayLike<number>,
  params: Partial<GbrtParams> = {},
  linear?: LinearStart,
): GbrtModel {
  const p = { ...DEFAULT_GBRT, ...params };
  if (x.rows === 0) throw new Error('fitGbrt: no rows');
  if (linear) {
    const rest = new Float64Array(x.rows);
    for (let i = 0; i < x.rows; i++) rest[i] = y[i] - predictLinear(linear, x.data, i * x.cols, x.cols);
    return { ...fitGbrt(x, rest, params), linear };
  }
  const ys = Array.from({ length: x.rows }, (_, i) => y[i]);
  const base = Math.fround(p.loss === 'huber' ? median(ys) : ys.reduce((a, b) => a + b, 0) / x.rows);
  const pred = new Float64Array(x.rows).fill(base);
  const raw = new Float64Array(x.rows);
  const residual = new Float64Array(x.rows);
  const rows = Array.from({ length: x.rows }, (_, i) => i);
  const trees: Tree[] = [];
  const grower: Grower = { x, residual, sorted: presort(x), nodeOf: new Int32Array(x.rows), p };
  for (let t = 0; t < p.nTrees; t++) {
    for (let i = 0; i < x.rows; i++) raw[i] = y[i] - pred[i];
    let delta = Infinity;
    if (p.loss === 'huber') {
      delta = Math.max(quantileOf(raw.map(Math.abs), p.huberAlpha), 1e-12);
      for (let i = 0; i < x.rows; i++) residual[i] = clip(raw[i], delta);
    } else {
      residual.set(raw);
    }
    const tree = buildTree(grower, rows);
    if (p.loss === 'huber') {
      const byLeaf = new Map<number, number[]>();
      for (let i = 0; i < x.rows; i++) {
        const leaf = leafIndex(tree, x.data, i * x.cols);
        (byLeaf.get(leaf) ?? byLeaf.set(leaf, []).get(leaf)!).push(raw[i]);
      }
      for (const [leaf, r] of byLeaf) tree.nodes[leaf].value = Math.fround(p.learningRate * huberLeaf(r, delta));
    }
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
