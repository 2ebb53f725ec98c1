// Writes boosted-tree ensembles (one per target) as ONE ONNX model: a single
// ai.onnx.ml TreeEnsembleRegressor with n_targets = number of targets, each tree
// feeding its own target column.
//
// Input  `features`: float32 [N, columns]   (advisor/features.ts, spec in *.features.json)
// Output `targets` : float32 [N, targets]   (model space: ln J/min, quality, ln speed)
// When the ensembles boost from a linear start (gbrt.ts LinearStart), an ai.onnx.ml
// LinearRegressor computes it and an Add joins the two: targets = linear + trees.
//
// onnxruntime notes (see also gbrt.ts): the ai.onnx.ml opset is pinned to 3 (5 is refused
// as deprecated), irVersion 8, every attribute carries its type, STRING(S) values are
// bytes, and leaves need placeholder node entries (mode LEAF).

import onnxProto from 'onnx-proto';
import type { GbrtModel } from './gbrt.ts';

const { onnx } = onnxProto;
const A = onnx.AttributeProto.AttributeType;
const utf8 = (s: string) => new TextEncoder().encode(s);

export const ONNX_INPUT = 'features';
export const ONNX_OUTPUT = 'targets';
export const ML_OPSET = 3;

interface TreeArrays {
  nodesTreeIds: number[];
  nodesNodeIds: number[];
  nodesFeatureIds: number[];
  nodesModes: string[];
  nodesValues: number[];
  nodesTrueIds: number[];
  nodesFalseIds: number[];
  targetTreeIds: number[];
  targetNodeIds: number[];
  targetIds: number[];
  targetWeights: number[];
}

function flatten(models: GbrtModel[]): TreeArrays {
  const a: TreeArrays = {
    nodesTreeIds: [],
    nodesNodeIds: [],
    nodesFeatureIds: [],
    nodesModes: [],
    nodesValues: [],
    nodesTrueIds: [],
    nodesFalseIds: [],
    targetTreeIds: [],
    targetNodeIds: [],
    targetIds: [],
    targetWeights: [],
  };
  let treeId = 0;
  models.forEach((model, target) => {
    for (const tree of model.trees) {
      tree.nodes.forEach((n, id) => {
        const leaf = n.feature < 0;
        a.nodesTreeIds.push(treeId);
        a.nodesNodeIds.push(id);
        a.nodesFeatureIds.push(leaf ? 0 : n.feature);
        a.nodesModes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
        a.nodesValues.push(leaf ? 0 : n.threshold);
        a.nodesTrueIds.push(leaf ? 0 : n.left);
        a.nodesFalseIds.push(leaf ? 0 : n.right);
        if (leaf) {
          a.targetTreeIds.push(treeId);
          a.targetNodeIds.push(id);
          a.targetIds.push(target);
          a.targetWeights.push(n.value);
        }
      });
      treeId++;
    }
  });
  return a;
}

const ints = (name: string, v: number[]) => ({ name, type: A.INTS, ints: v });
const floats = (name: string, v: number[]) => ({ name, type: A.FLOATS, floats: v });

/** Serializes the ensembles to ONNX bytes; `metadata` lands in the model's metadata_props. */
export function ensembleToOnnx(
  models: GbrtModel[],
  nFeatures: number,
  metadata: Record<string, string> = {},
): Uint8Array {
  const t = flatten(models);
  const withLinear = models.some((m) => m.linear);
  const treesOut = withLinear ? 'trees' : ONNX_OUTPUT;
  const node = {
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    name: 'ffwatt_advisor',
    input: [ONNX_INPUT],
    output: [treesOut],
    attribute: [
      { name: 'aggregate_function', type: A.STRING, s: utf8('SUM') },
      { name: 'post_transform', type: A.STRING, s: utf8('NONE') },
      { name: 'n_targets', type: A.INT, i: models.length },
      floats(
        'base_values',
        models.map((m) => m.base),
      ),
      ints('nodes_treeids', t.nodesTreeIds),
      ints('nodes_nodeids', t.nodesNodeIds),
      ints('nodes_featureids', t.nodesFeatureIds),
      { name: 'nodes_modes', type: A.STRINGS, strings: t.nodesModes.map(utf8) },
      floats('nodes_values', t.nodesValues),
      ints('nodes_truenodeids', t.nodesTrueIds),
      ints('nodes_falsenodeids', t.nodesFalseIds),
      ints('target_treeids', t.targetTreeIds),
      ints('target_nodeids', t.targetNodeIds),
      ints('target_ids', t.targetIds),
      floats('target_weights', t.targetWeights),
    ],
  };
  const nodes: object[] = [node];
  if (withLinear) {
    nodes.push({
      opType: 'LinearRegressor',
      domain: 'ai.onnx.ml',
      name: 'ffwatt_linear_start',
      input: [ONNX_INPUT],
      output: ['linear'],
      attribute: [
        floats(
          'coefficients',
          models.flatMap((m) => m.linear?.weights ?? new Array<number>(nFeatures).fill(0)),
        ),
        floats(
          'intercepts',
          models.map((m) => m.linear?.intercept ?? 0),
        ),
        { name: 'targets', type: A.INT, i: models.length },
        { name: 'post_transform', type: A.STRING, s: utf8('NONE') },
      ],
    });
    nodes.push({ opType: 'Add', domain: '', name: 'ffwatt_sum', input: ['trees', 'linear'], output: [ONNX_OUTPUT] });
  }
  const tensor = (name: string, cols: number) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, { dimValue: cols }] },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'ffwatt-advisor',
    producerVersion: '1',
    opsetImport: [
      { domain: 'ai.onnx.ml', version: ML_OPSET },
      { domain: '', version: 17 },
    ],
    graph: {
      name: 'ffwatt_advisor',
      node: nodes,
      input: [tensor(ONNX_INPUT, nFeatures)],
      output: [tensor(ONNX_OUTPUT, models.length)],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
