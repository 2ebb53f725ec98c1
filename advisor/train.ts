// Training: split by configuration, fit boosted trees and the ridge baseline per target,
// score both on the held-out configurations, and describe what the model covers.
//
// The split is by configuration (advisor/dataset.ts configKey: everything but hardware
// and repetition), so repetitions of one configuration never sit on both sides.
// The returned model is the one fitted on the training part: the held-out figures in
// the model card describe exactly the model that ships.

import { InputError } from '../core/errors.ts';
import { buildFeatureSpec, encodeBatch, type FeatureSpec } from './features.ts';
import { DEFAULT_GBRT, fitGbrt, predictGbrt, type GbrtModel, type GbrtParams, type Matrix } from './gbrt.ts';
import { tuneGbrt } from './tune.ts';
import { fitRidge, predictRidge, ridgeAsLinear, type RidgeModel } from './ridge.ts';
import { errorMetrics, quantile, type ErrorMetrics } from './metrics.ts';
import { chooseTargets, fromModelSpace, targetValue, toModelSpace, type TargetName, type TargetSpec } from './targets.ts';
import { configKey, hardwareName, type TrainingRow } from './dataset.ts';

export interface TrainOptions {
  gbrt?: Partial<GbrtParams>;
  ridgeLambda?: number;
  /** Share of configurations held out (default 0.25). */
  validationFraction?: number;
  seed?: number;
  /** Boost from the ridge model (trees fit its residuals) instead of from the mean (default true). */
  linearStart?: boolean;
  /** Pick depth and tree count per target by grouped cross-validation on the training part (default true). */
  tune?: boolean;
  contentMethod?: FeatureSpec['contentMethod'];
}

export interface Range {
  min: number;
  max: number;
}

export interface HardwareEntry {
  name: string;
  cpuModel: string;
  cores: number;
  gpu: boolean;
  meterSource: string;
  encoders: string[];
  runs: number;
}

/** Everything inference and the recommender need beside the ONNX file (saved as *.features.json). */
export interface AdvisorMeta {
  version: 1;
  features: FeatureSpec;
  /** Output columns of the model, in order; values are in model space (see targets.ts). */
  targets: TargetSpec[];
  /**
   * Uncertainty: quantiles (10 %, 90 %) of the held-out residuals (actual − predicted, in
   * model space) per target, widened to include 0; an interval is prediction + [lo, hi]
   * (× e^lo … e^hi for log targets).
   */
  uncertainty: { method: 'held-out residual quantiles'; quantiles: [number, number]; residuals: Record<TargetName, Range> };
  coverage: {
    pixels: Range;
    fps: Range;
    quality: Range;
    si: Range;
    ti: Range;
    crf: Range | null;
    bitrate: Range | null;
    streams: Range;
  };
  /** Configurations that were measured: `${hardware}|${configKey}`. */
  measured: string[];
  hardware: HardwareEntry[];
  contents: Array<{ content: string; si: number; ti: number }>;
  /** Presets measured per encoder and rate values per kind (the recommender's grid). */
  grid: { presets: Record<string, string[]>; crf: number[]; bitrate: number[]; codecOf: Record<string, string> };
  campaigns: string[];
  trainedAt: string;
  /** How it was trained: enough to train the same model again from the same rows. */
  training: {
    seed: number;
    validationFraction: number;
    /** Base parameters; with `tune`, depth and tree count per target are in `chosen`. */
    gbrt: GbrtParams;
    ridgeLambda: number;
    linearStart: boolean;
    tune: boolean;
    chosen: Record<TargetName, { loss: GbrtParams['loss']; maxDepth: number; nTrees: number; cvMae: number | null }>;
  };
  runs: { total: number; train: number; validation: number; configurations: number; validationConfigurations: number };
}

export interface ModelScores {
  gbrt: Record<TargetName, ErrorMetrics>;
  ridge: Record<TargetName, ErrorMetrics>;
}

export interface TrainedAdvisor {
  meta: AdvisorMeta;
  gbrt: GbrtModel[];
  ridge: RidgeModel[];
  scores: ModelScores;
  dropped: Array<{ jobId: string; reason: string }>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits rows by configuration: returns the set of configuration keys held out. */
export function splitByConfiguration(rows: TrainingRow[], fraction: number, seed: number): Set<string> {
  const keys = [...new Set(rows.map((r) => configKey(r.features, r.content)))].sort();
  if (keys.length < 2) {
    throw new InputError(`only ${keys.length} distinct configuration(s) in the data; need at least 2 to hold one out`, {
      field: 'runs',
      fix: 'train on a campaign with more scenarios',
    });
  }
  const rand = mulberry32(seed);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const n = Math.min(keys.length - 1, Math.max(1, Math.round(keys.length * fraction)));
  return new Set(keys.slice(0, n));
}

export function toMatrix(spec: FeatureSpec, rows: TrainingRow[]): Matrix {
  return { data: encodeBatch(spec, rows.map((r) => r.features)), rows: rows.length, cols: spec.columns.length };
}

const range = (v: number[]): Range => ({ min: Math.min(...v), max: Math.max(...v) });

function describeCoverage(rows: TrainingRow[], targets: TargetSpec[]): Pick<AdvisorMeta, 'coverage' | 'measured' | 'hardware' | 'contents' | 'grid'> {
  const f = rows.map((r) => r.features);
  const crf = f.filter((x) => x.rate.kind === 'crf').map((x) => x.rate.value);
  const bitrate = f.filter((x) => x.rate.kind === 'bitrate').map((x) => x.rate.value);
  const quality = targets.find((t) => t.name === 'quality')!;
  const hardware = new Map<string, HardwareEntry>();
  const presets: Record<string, Set<string>> = {};
  const codecOf: Record<string, string> = {};
  for (const x of f) {
    const name = hardwareName(x);
    const h = hardware.get(name) ?? { name, cpuModel: x.cpuModel, cores: x.cores, gpu: x.gpu, meterSource: x.meterSource, encoders: [], runs: 0 };
    if (!h.encoders.includes(x.encoder)) h.encoders.push(x.encoder);
    h.runs++;
    hardware.set(name, h);
    (presets[x.encoder] ??= new Set()).add(x.preset);
    codecOf[x.encoder] = x.codec;
  }
  const contents = new Map<string, { content: string; si: number; ti: number }>();
  for (const r of rows) contents.set(r.content, { content: r.content, si: r.features.si, ti: r.features.ti });
  return {
    coverage: {
      pixels: range(f.map((x) => x.width * x.height)),
      fps: range(f.map((x) => x.fps)),
      quality: range(rows.map((r) => targetValue(quality, r))),
      si: range(f.map((x) => x.si)),
      ti: range(f.map((x) => x.ti)),
      crf: crf.length ? range(crf) : null,
      bitrate: bitrate.length ? range(bitrate) : null,
      streams: range(f.map((x) => x.streams)),
    },
    measured: [...new Set(rows.map((r) => `${hardwareName(r.features)}|${configKey(r.features, r.content)}`))].sort(),
    hardware: [...hardware.values()].map((h) => ({ ...h, encoders: h.encoders.sort() })),
    contents: [...contents.values()],
    grid: {
      presets: Object.fromEntries(Object.entries(presets).map(([e, s]) => [e, [...s]])),
      crf: [...new Set(crf)].sort((a, b) => a - b),
      bitrate: [...new Set(bitrate)].sort((a, b) => a - b),
      codecOf,
    },
  };
}

export function trainAdvisor(all: TrainingRow[], opts: TrainOptions = {}): TrainedAdvisor {
  const { targets, rows, dropped } = chooseTargets(all);
  const seed = opts.seed ?? 1;
  const validationFraction = opts.validationFraction ?? 0.25;
  const ridgeLambda = opts.ridgeLambda ?? 1;
  const linearStart = opts.linearStart ?? true;
  const tune = opts.tune ?? true;
  const baseParams: GbrtParams = { ...DEFAULT_GBRT, ...opts.gbrt };
  const chosen = {} as AdvisorMeta['training']['chosen'];
  const held = splitByConfiguration(rows, validationFraction, seed);
  const train = rows.filter((r) => !held.has(configKey(r.features, r.content)));
  const valid = rows.filter((r) => held.has(configKey(r.features, r.content)));
  const spec = buildFeatureSpec(train.map((r) => r.features), opts.contentMethod ?? 'siti');
  const xTrain = toMatrix(spec, train);
  const xValid = toMatrix(spec, valid);

  const gbrt: GbrtModel[] = [];
  const ridge: RidgeModel[] = [];
  const scores: ModelScores = { gbrt: {} as ModelScores['gbrt'], ridge: {} as ModelScores['ridge'] };
  const residuals = {} as Record<TargetName, Range>;
  for (const t of targets) {
    const y = train.map((r) => toModelSpace(t, targetValue(t, r)));
    const l = fitRidge(xTrain, y, ridgeLambda);
    const picked = tune
      ? tuneGbrt(xTrain, y, train.map((r) => configKey(r.features, r.content)), baseParams, { linearStart, ridgeLambda, seed: seed + 1 })
      : null;
    const params = picked ? { ...baseParams, loss: picked.loss, maxDepth: picked.maxDepth, nTrees: picked.nTrees } : baseParams;
    chosen[t.name] = { loss: params.loss, maxDepth: params.maxDepth, nTrees: params.nTrees, cvMae: picked?.cvMae ?? null };
    const g = fitGbrt(xTrain, y, params, linearStart ? ridgeAsLinear(l) : undefined);
    gbrt.push(g);
    ridge.push(l);
    const actual = valid.map((r) => targetValue(t, r));
    const pg = predictGbrt(g, xValid);
    const pl = predictRidge(l, xValid);
    scores.gbrt[t.name] = errorMetrics(actual, Array.from(pg, (v) => fromModelSpace(t, v)));
    scores.ridge[t.name] = errorMetrics(actual, Array.from(pl, (v) => fromModelSpace(t, v)));
    const res = valid.map((r, i) => toModelSpace(t, targetValue(t, r)) - pg[i]);
    // Widened to include 0 so an interval always contains its own prediction (with few held-out runs the residuals can all share a sign).
    residuals[t.name] = { min: Math.min(0, quantile(res, 0.1)), max: Math.max(0, quantile(res, 0.9)) };
  }

  const meta: AdvisorMeta = {
    version: 1,
    features: spec,
    targets,
    uncertainty: { method: 'held-out residual quantiles', quantiles: [0.1, 0.9], residuals },
    ...describeCoverage(rows, targets),
    campaigns: [...new Set(rows.map((r) => r.campaignId))].sort(),
    trainedAt: new Date().toISOString(),
    training: { seed, validationFraction, gbrt: baseParams, ridgeLambda, linearStart, tune, chosen },
    runs: {
      total: rows.length,
      train: train.length,
      validation: valid.length,
      configurations: new Set(rows.map((r) => configKey(r.features, r.content))).size,
      validationConfigurations: held.size,
    },
  };
  return { meta, gbrt, ridge, scores, dropped };
}
