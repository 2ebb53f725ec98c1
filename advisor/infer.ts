// Inference with onnxruntime-node: loads advisor.onnx and its *.features.json, encodes
// inputs with the saved spec and predicts a batch in one session.run.

import { existsSync, readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { InputError } from '../core/errors.ts';
import { encodeBatch, parseFeatureSpec, type FeatureInput } from './features.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.ts';
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

export class OnnxAdvisor {
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
    // One intra-op thread: the ensemble is small (tens of trees per target), and onnxruntime's
    // thread pool spent 2.3× the CPU for a longer wall time on the loaded 2-core box (docs/PERFORMANCE.md).
    const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
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

  /** Predictions of a batch, kept as the raw outputs: values in units are decoded only where read. */
  async predictBatch(inputs: FeatureInput[]): Promise<PredictionBatch> {
    const unseen = new Set<string>();
    const raw = await this.runEncoded(encodeBatch(this.meta.features, inputs, unseen), inputs.length);
    return new PredictionBatch(this.meta, raw, inputs.length, [...unseen]);
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

  /** One target's predicted value in units for every row (as `at(i).values[target]`). */
  values(target: TargetName): Float64Array {
    const j = this.decoders.findIndex((d) => d.name === target);
    if (j < 0) throw new Error(`PredictionBatch: the model has no target '${target}'`);
    const { unit } = this.decoders[j];
    const k = this.decoders.length;
    const out = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = unit(this.raw[i * k + j]);
    return out;
  }

  /** Row i's prediction: values and 10–90 % intervals in units. */
  at(i: number): Prediction {
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
