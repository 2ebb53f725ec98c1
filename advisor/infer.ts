// Inference with onnxruntime-node: loads advisor.onnx and its *.features.json, encodes
// inputs with the saved spec and predicts a batch in one session.run. A large batch that a ranking
// reads only some targets of runs a copy of the graph without the other targets' trees
// (target-subset.ts); those targets are computed afterwards for the rows asked for, bit for bit.

import { existsSync, readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { InputError } from '../core/errors.ts';
import { encodeBatch, parseFeatureSpec, type FeatureInput } from './features.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.ts';
import { LINEAR_OUTPUT, TREES_OUTPUT, targetSubset } from './target-subset.ts';
import { fromModelSpace, type TargetName } from './targets.ts';
import type { AdvisorMeta } from './train.ts';

export interface Prediction {
  /** In units: J/encoded min, quality (VMAF or PSNR dB), × real time. */
  values: Record<TargetName, number>;
  /** 10 %–90 % interval from held-out residual quantiles, in units. */
  intervals: Record<TargetName, { lo: number; hi: number }>;
}

/** `models/advisor.onnx` → `models/advisor.features.json`. */
export function metaPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/, '') + '.features.json';
}

export function loadMeta(path: string): AdvisorMeta {
  if (!existsSync(path)) {
    throw new InputError(`model metadata ${path} not found (it is written beside the .onnx by training)`, {
      file: path,
      fix: 'run `make train` or pass --model pointing at a trained model',
    });
  }
  const raw = JSON.parse(readFileSync(path, 'utf8')) as AdvisorMeta;
  parseFeatureSpec(raw.features, path);
  if (!Array.isArray(raw.targets) || !raw.coverage || !raw.uncertainty) {
    throw new InputError(`${path}: missing targets/coverage/uncertainty`, {
      file: path,
      fix: 'regenerate it with `make train`',
    });
  }
  if (!Array.isArray(raw.hardwareClasses) || raw.hardwareClasses.length === 0) {
    throw new InputError(`${path}: names no hardware class (a model trained before models were made per class)`, {
      file: path,
      fix: 'retrain it with `make train`',
    });
  }
  return raw;
}

/** From this many rows a batch read for some targets only runs without the other targets' trees. */
export const SUBSET_FROM_ROWS = 4096;

// One intra-op thread: the ensemble is small (tens of trees per target), and onnxruntime's thread
// pool spent more CPU for a longer wall time on the loaded 2-core box; with 2 threads its results
// also differ in the last bits from 1 thread's on batches of 1,000 rows and more (docs/PERFORMANCE.md).
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1 };

export class OnnxAdvisor {
  private readonly subsets = new Map<string, Promise<{ session: ort.InferenceSession; linear: boolean }>>();

  private constructor(
    readonly session: ort.InferenceSession,
    readonly meta: AdvisorMeta,
    readonly path: string,
  ) {}

  static async load(modelPath: string, metaPath = metaPathFor(modelPath)): Promise<OnnxAdvisor> {
    if (!existsSync(modelPath)) {
      throw new InputError(`model ${modelPath} not found`, {
        file: modelPath,
        field: '--model',
        fix: 'run `make train` or pass --model PATH',
      });
    }
    const meta = loadMeta(metaPath);
    const session = await ort.InferenceSession.create(modelPath, SESSION_OPTIONS);
    return new OnnxAdvisor(session, meta, modelPath);
  }

  /** Raw model-space outputs for an encoded batch: row-major [n × targets]. */
  async runEncoded(features: Float32Array, n: number): Promise<Float32Array> {
    const cols = this.meta.features.columns.length;
    if (features.length !== n * cols)
      throw new Error(`runEncoded: expected ${n}×${cols} features, got ${features.length}`);
    if (n === 0) return new Float32Array(0);
    const out = await this.session.run({ [ONNX_INPUT]: new ort.Tensor('float32', features, [n, cols]) });
    return out[ONNX_OUTPUT].data as Float32Array;
  }

  /**
   * Predictions of a batch, kept as the raw outputs: values in units are decoded only where read.
   * `read`: the targets read for every row; from SUBSET_FROM_ROWS rows the others are left out of
   * the run and computed by `complete(rows)` for the rows asked for.
   */
  async predictBatch(inputs: FeatureInput[], read?: TargetName[]): Promise<PredictionBatch> {
    const unseen = new Set<string>();
    const n = inputs.length;
    const x = encodeBatch(this.meta.features, inputs, unseen);
    const targets = this.meta.targets.map((t) => t.name);
    const keep = read ? targets.flatMap((t, j) => (read.includes(t) ? [j] : [])) : [];
    const rest = targets.flatMap((_, j) => (keep.includes(j) ? [] : [j]));
    if (!read || n < SUBSET_FROM_ROWS || rest.length === 0 || keep.length === 0)
      return new PredictionBatch(this.meta, await this.runEncoded(x, n), n, [...unseen]);
    const main = await this.subset(keep);
    const out = await main.session.run({ [ONNX_INPUT]: this.tensor(x, n) });
    const raw = out[ONNX_OUTPUT].data as Float32Array;
    const linear = main.linear ? (out[LINEAR_OUTPUT].data as Float32Array) : null;
    const cols = this.meta.features.columns.length;
    const k = targets.length;
    // The left-out targets for some rows: their own trees on those rows, plus the whole batch's linear part.
    const fill = async (rows: number[]) => {
      const part = new Float32Array(rows.length * cols);
      rows.forEach((i, r) => part.set(x.subarray(i * cols, (i + 1) * cols), r * cols));
      const other = await this.subset(rest);
      const o = await other.session.run({ [ONNX_INPUT]: this.tensor(part, rows.length) });
      const trees = o[other.linear ? TREES_OUTPUT : ONNX_OUTPUT].data as Float32Array;
      rows.forEach((i, r) => {
        for (const j of rest)
          raw[i * k + j] = linear ? Math.fround(trees[r * k + j] + linear[i * k + j]) : trees[r * k + j];
      });
    };
    return new PredictionBatch(this.meta, raw, n, [...unseen], {
      targets: rest.map((j) => targets[j]),
      fill,
    });
  }

  private tensor(x: Float32Array, n: number): ort.Tensor {
    return new ort.Tensor('float32', x, [n, this.meta.features.columns.length]);
  }

  /** A session on the graph without the trees of the targets not in `keep` (built once per set). */
  private subset(keep: number[]): Promise<{ session: ort.InferenceSession; linear: boolean }> {
    const key = keep.join(',');
    let s = this.subsets.get(key);
    if (!s) {
      s = (async () => {
        const { bytes, linear } = targetSubset(readFileSync(this.path), keep);
        return { session: await ort.InferenceSession.create(bytes, SESSION_OPTIONS), linear };
      })();
      this.subsets.set(key, s);
    }
    return s;
  }

  /** One object per input (values and intervals in units). */
  async predict(inputs: FeatureInput[]): Promise<Prediction[]> {
    const batch = await this.predictBatch(inputs);
    const out = new Array<Prediction>(batch.n);
    for (let i = 0; i < batch.n; i++) out[i] = batch.at(i);
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
    // A subset that failed to build has nothing to release.
    for (const s of this.subsets.values())
      await s.then(
        (x) => x.session.release(),
        () => undefined,
      );
  }
}

/**
 * Model-space outputs of a batch ([n × targets], row-major) with the per-target conversion to units:
 * a ranking reads one target's column for every row and builds whole predictions only for the rows
 * it returns.
 */
export class PredictionBatch {
  private readonly decoders: Array<{ name: TargetName; unit: (v: number) => number; lo: number; hi: number }>;

  constructor(
    meta: AdvisorMeta,
    private readonly raw: Float32Array,
    readonly n: number,
    /** `field=value` of the categorical values the model never saw (features.ts unseenCategories), first seen first. */
    readonly unseen: string[],
    /** Targets left out of the run, and how to compute them for some rows. */
    private readonly pending?: { targets: TargetName[]; fill: (rows: number[]) => Promise<void> },
  ) {
    const { residuals } = meta.uncertainty;
    // VMAF (v0.6.1) lives on 0–100, so predictions and bands past it are clipped.
    this.decoders = meta.targets.map((t) => {
      const cap = t.metric === 'vmaf' ? (q: number) => Math.min(100, Math.max(0, q)) : (q: number) => q;
      return {
        name: t.name,
        unit: (v: number) => cap(fromModelSpace(t, v)),
        lo: residuals[t.name].min,
        hi: residuals[t.name].max,
      };
    });
  }

  private readonly completed = new Set<number>();

  /** One target's predicted value in units for every row (as `at(i).values[target]`). */
  values(target: TargetName): Float64Array {
    const j = this.decoders.findIndex((d) => d.name === target);
    if (j < 0) throw new Error(`PredictionBatch: the model has no target '${target}'`);
    if (this.pending?.targets.includes(target))
      throw new Error(`PredictionBatch: '${target}' was left out of this batch's run (predictBatch read)`);
    const { unit } = this.decoders[j];
    const k = this.decoders.length;
    const out = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = unit(this.raw[i * k + j]);
    return out;
  }

  /** Computes the targets left out of the run for these rows, so that `at` can read them. */
  async complete(rows: number[]): Promise<void> {
    if (!this.pending) return;
    const todo = [...new Set(rows)].filter((i) => !this.completed.has(i));
    if (todo.length === 0) return;
    await this.pending.fill(todo);
    for (const i of todo) this.completed.add(i);
  }

  /** Row i's prediction: values and 10–90 % intervals in units. */
  at(i: number): Prediction {
    if (this.pending && !this.completed.has(i))
      throw new Error(`PredictionBatch: row ${i} has targets left out of the run; complete([${i}]) first`);
    const k = this.decoders.length;
    const values = {} as Prediction['values'];
    const intervals = {} as Prediction['intervals'];
    for (let j = 0; j < k; j++) {
      const d = this.decoders[j];
      const v = this.raw[i * k + j];
      values[d.name] = d.unit(v);
      intervals[d.name] = { lo: d.unit(v + d.lo), hi: d.unit(v + d.hi) };
    }
    return { values, intervals };
  }
}
