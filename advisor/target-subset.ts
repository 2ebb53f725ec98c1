// A copy of the advisor's ONNX graph (onnx-export.ts) whose tree ensemble keeps only the trees of
// some targets, for ranking large batches: a ranking reads quality and energy for every row and the
// other targets only for the rows it returns.
//
// Exactness (onnxruntime, one intra-op thread): each row sums its trees in tree order from the
// base value, per target, whatever the other targets' trees and the batch; the linear start is a
// GEMM whose last bits may depend on the batch's row count. So the kept targets of the subset come
// out bit for bit as from the whole model on the same batch; a dropped target is rebuilt as
// float32(trees + linear) from its trees (a subset keeping only them, on any rows) and the linear
// part of the whole batch, which the subset exposes as an output for that.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const TREES_OUTPUT = 'trees';
export const LINEAR_OUTPUT = 'linear';

export interface TargetSubset {
  bytes: Uint8Array;
  /** True when the graph has a linear start: `trees` and `linear` are then outputs too. */
  linear: boolean;
}

type Model = InstanceType<typeof onnx.ModelProto>;

function ensembleOf(m: Model) {
  const ensemble = (m.graph?.node ?? []).find((n) => n.opType === 'TreeEnsembleRegressor');
  if (!ensemble?.attribute) throw new Error('targetSubset: the model has no TreeEnsembleRegressor');
  const attribute = ensemble.attribute;
  const ints = (name: string) => {
    const a = attribute.find((x) => x.name === name);
    if (!a?.ints) throw new Error(`targetSubset: TreeEnsembleRegressor has no ${name}`);
    return a.ints.map((v) => Number(String(v)));
  };
  return { attribute, ints };
}

/** The tree ids of each target (target id → its trees, in the ensemble's order), read from the leaves. */
function treesOf(ints: (name: string) => number[]): Map<number, number[]> {
  const leafTargets = ints('target_ids');
  const out = new Map<number, number[]>();
  ints('target_treeids').forEach((t, i) => {
    const list = out.get(leafTargets[i]) ?? [];
    if (!list.includes(t)) list.push(t);
    out.set(leafTargets[i], list);
  });
  return out;
}

/** Drops every node and leaf of the trees not in `trees` from the ensemble (in place). */
function keepOnly(m: Model, trees: ReadonlySet<number>): void {
  const { attribute, ints } = ensembleOf(m);
  const keepNode = ints('nodes_treeids').map((t) => trees.has(t));
  const keepLeaf = ints('target_treeids').map((t) => trees.has(t));
  for (const a of attribute) {
    const mask = a.name?.startsWith('nodes_') ? keepNode : a.name?.startsWith('target_') ? keepLeaf : null;
    if (!mask) continue;
    if (a.ints?.length === mask.length) a.ints = a.ints.filter((_, i) => mask[i]);
    if (a.floats?.length === mask.length) a.floats = a.floats.filter((_, i) => mask[i]);
    if (a.strings?.length === mask.length) a.strings = a.strings.filter((_, i) => mask[i]);
  }
}

/** The tree ids of each target of a model (target id → its trees, in order). */
export function treesByTarget(model: Uint8Array): Map<number, number[]> {
  return treesOf(ensembleOf(onnx.ModelProto.decode(model)).ints);
}

/** A copy of the model whose ensemble keeps only the given trees (bench/advisor-trees.ts times such cuts). */
export function keepTrees(model: Uint8Array, trees: ReadonlySet<number>): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  keepOnly(m, trees);
  return onnx.ModelProto.encode(m).finish();
}

export function targetSubset(model: Uint8Array, keepTargets: number[]): TargetSubset {
  const m = onnx.ModelProto.decode(model);
  const byTarget = treesOf(ensembleOf(m).ints);
  keepOnly(m, new Set(keepTargets.flatMap((t) => byTarget.get(t) ?? [])));
  const linear = (m.graph?.node ?? []).some((n) => n.opType === 'LinearRegressor' && n.output?.[0] === LINEAR_OUTPUT);
  if (linear)
    m.graph!.output!.push(
      onnx.ValueInfoProto.create({ name: TREES_OUTPUT }),
      onnx.ValueInfoProto.create({ name: LINEAR_OUTPUT }),
    );
  return { bytes: onnx.ModelProto.encode(m).finish(), linear };
}
