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
import {
  chooseTargets,
  fromModelSpace,
  targetValue,
  toModelSpace,
  type TargetName,
  type TargetSpec,
} from './targets.ts';
import { configKey, hardwareName, type TrainingRow } from './dataset.ts';
import { seededRandom } from '../core/random.ts';
import { UNCLASSIFIED } from '../core/strata.ts';

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
  /** Hardware class id of the nodes behind these runs (core/hardware-class.ts; 'unclassified' when none was recorded). */
  hardwareClass: string;
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
  uncertainty: {
    method: 'held-out residual quantiles';
    quantiles: [number, number];
    residuals: Record<TargetName, Range>;
  };
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
  /** Hardware classes the model was trained on (one: a model never pools classes). */
  hardwareClasses: string[];
  /** Configurations that were measured: `${hardware}|${configKey}`. */
  measured: string[];
  hardware: HardwareEntry[];
  contents: Array<{ content: string; si: number; ti: number }>;
  /** Presets measured per encoder and rate values per kind (the recommender's grid). */
  grid: {
    presets: Record<string, string[]>;
    /** Measured rate values per encoder (crf scales differ between encoders). */
    rates: Record<string, { crf: number[]; bitrate: number[] }>;
    codecOf: Record<string, string>;
  };
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

/** Splits rows by configuration: returns the set of configuration keys held out. */
export function splitByConfiguration(rows: TrainingRow[], fraction: number, seed: number): Set<string> {
  const keys = [...new Set(rows.map((r) => configKey(r.features, r.content)))].sort();
  if (keys.length < 2) {
    throw new InputError(`only ${keys.length} distinct configuration(s) in the data; need at least 2 to hold one out`, {
      field: 'runs',
      fix: 'train on a campaign with more scenarios',
    });
  }
  const rand = seededRandom(seed);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const n = Math.min(keys.length - 1, Math.max(1, Math.round(keys.length * fraction)));
  return new Set(keys.slice(0, n));
}

export function toMatrix(spec: FeatureSpec, rows: TrainingRow[]): Matrix {
  return {
    data: encodeBatch(
      spec,
      rows.map((r) => r.features),
    ),
    rows: rows.length,
    cols: spec.columns.length,
  };
}

const range = (v: number[]): Range => ({ min: Math.min(...v), max: Math.max(...v) });

/** The hardware classes of some rows, sorted. */
export function classesOf(rows: TrainingRow[]): string[] {
  return [...new Set(rows.map((r) => r.hardwareClass ?? UNCLASSIFIED))].sort();
}

/** Refuses rows of several hardware classes: a model is trained per class, never on a pool. */
export function requireOneClass(rows: TrainingRow[]): string {
  const classes = classesOf(rows);
  if (classes.length > 1) {
    throw new InputError(
      `the runs come from ${classes.length} hardware classes (${classes.join(', ')}); the advisor is trained per class, never on a pool`,
      {
        field: '--class',
        fix: `train one class at a time: --class ${classes[0]} --out models/${classes[0]} (ffwatt recommend finds models/<class>/advisor.onnx)`,
      },
    );
  }
  return classes[0] ?? UNCLASSIFIED;
}

function describeCoverage(
  rows: TrainingRow[],
  targets: TargetSpec[],
): Pick<AdvisorMeta, 'coverage' | 'measured' | 'hardware' | 'contents' | 'grid'> {
  const f = rows.map((r) => r.features);
  const crf = f.filter((x) => x.rate.kind === 'crf').map((x) => x.rate.value);
  const bitrate = f.filter((x) => x.rate.kind === 'bitrate').map((x) => x.rate.value);
  const quality = targets.find((t) => t.name === 'quality')!;
  const hardware = new Map<string, HardwareEntry>();
  const presets: Record<string, Set<string>> = {};
  const rates: Record<string, { crf: Set<number>; bitrate: Set<number> }> = {};
  const sorted = (v: Set<number>) => [...v].sort((a, b) => a - b);
  const codecOf: Record<string, string> = {};
  for (const [i, x] of f.entries()) {
    const name = hardwareName(x);
    const hardwareClass = rows[i].hardwareClass ?? UNCLASSIFIED;
    const h = hardware.get(name) ?? {
      name,
      hardwareClass,
      cpuModel: x.cpuModel,
      cores: x.cores,
      gpu: x.gpu,
      meterSource: x.meterSource,
      encoders: [],
      runs: 0,
    };
    if (!h.encoders.includes(x.encoder)) h.encoders.push(x.encoder);
    h.runs++;
    hardware.set(name, h);
    (presets[x.encoder] ??= new Set()).add(x.preset);
    const r = (rates[x.encoder] ??= { crf: new Set(), bitrate: new Set() });
    r[x.rate.kind].add(x.rate.value);
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
      rates: Object.fromEntries(
        Object.entries(rates).map(([e, r]) => [e, { crf: sorted(r.crf), bitrate: sorted(r.bitrate) }]),
      ),
      codecOf,
    },
  };
}

interface Settings {
  seed: number;
  validationFraction: number;
  ridgeLambda: number;
  linearStart: boolean;
  tune: boolean;
  base: GbrtParams;
  contentMethod: FeatureSpec['contentMethod'];
}

function settingsOf(opts: TrainOptions): Settings {
  return {
    seed: opts.seed ?? 1,
    validationFraction: opts.validationFraction ?? 0.25,
    ridgeLambda: opts.ridgeLambda ?? 1,
    linearStart: opts.linearStart ?? true,
    tune: opts.tune ?? true,
    base: { ...DEFAULT_GBRT, ...opts.gbrt },
    contentMethod: opts.contentMethod ?? 'siti',
  };
}

interface Fitted {
  spec: FeatureSpec;
  gbrt: GbrtModel[];
  ridge: RidgeModel[];
  chosen: AdvisorMeta['training']['chosen'];
}

/** Fits ridge and boosted trees for every target on `train` (tuning, if on, sees only these rows). */
function fitTargets(train: TrainingRow[], targets: TargetSpec[], st: Settings): Fitted {
  const spec = buildFeatureSpec(
    train.map((r) => r.features),
    st.contentMethod,
  );
  const x = toMatrix(spec, train);
  const groups = train.map((r) => configKey(r.features, r.content));
  const out: Fitted = { spec, gbrt: [], ridge: [], chosen: {} as Fitted['chosen'] };
  for (const t of targets) {
    const y = train.map((r) => toModelSpace(t, targetValue(t, r)));
    const l = fitRidge(x, y, st.ridgeLambda);
    const picked = st.tune
      ? tuneGbrt(x, y, groups, st.base, { linearStart: st.linearStart, ridgeLambda: st.ridgeLambda, seed: st.seed + 1 })
      : null;
    const params = picked
      ? { ...st.base, loss: picked.loss, maxDepth: picked.maxDepth, nTrees: picked.nTrees }
      : st.base;
    out.chosen[t.name] = {
      loss: params.loss,
      maxDepth: params.maxDepth,
      nTrees: params.nTrees,
      cvMae: picked?.cvMae ?? null,
    };
    out.gbrt.push(fitGbrt(x, y, params, st.linearStart ? ridgeAsLinear(l) : undefined));
    out.ridge.push(l);
  }
  return out;
}

/** Model-space predictions of both models for `rows`: [target][row]. */
function predictBoth(f: Fitted, rows: TrainingRow[]): { gbrt: Float64Array[]; ridge: Float64Array[] } {
  const x = toMatrix(f.spec, rows);
  return { gbrt: f.gbrt.map((m) => predictGbrt(m, x)), ridge: f.ridge.map((m) => predictRidge(m, x)) };
}

function score(
  targets: TargetSpec[],
  rows: TrainingRow[],
  p: { gbrt: Float64Array[]; ridge: Float64Array[] },
): ModelScores {
  const scores: ModelScores = { gbrt: {} as ModelScores['gbrt'], ridge: {} as ModelScores['ridge'] };
  targets.forEach((t, k) => {
    const actual = rows.map((r) => targetValue(t, r));
    scores.gbrt[t.name] = errorMetrics(
      actual,
      Array.from(p.gbrt[k], (v) => fromModelSpace(t, v)),
    );
    scores.ridge[t.name] = errorMetrics(
      actual,
      Array.from(p.ridge[k], (v) => fromModelSpace(t, v)),
    );
  });
  return scores;
}

/**
 * A second, steadier held-out estimate: grouped k-fold cross-validation over ALL rows
 * (every configuration is held out once; each fold trains, tunes included, on the other
 * folds), both models, metrics over the pooled out-of-fold predictions. One split of a
 * small campaign holds out few configurations; this uses every one.
 */
export function crossValidate(all: TrainingRow[], opts: TrainOptions = {}, folds = 5): ModelScores & { folds: number } {
  requireOneClass(all);
  const { targets, rows } = chooseTargets(all);
  const st = settingsOf(opts);
  const keys = [...new Set(rows.map((r) => configKey(r.features, r.content)))].sort();
  const k = Math.min(folds, keys.length);
  if (k < 2) throw new InputError('cross-validation needs at least 2 configurations', { field: 'runs' });
  const rand = seededRandom(st.seed + 7);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const foldOf = new Map(keys.map((key, i) => [key, i % k]));
  const pooled = {
    gbrt: targets.map(() => new Float64Array(rows.length)),
    ridge: targets.map(() => new Float64Array(rows.length)),
  };
  for (let f = 0; f < k; f++) {
    const inFold = rows.map((r) => foldOf.get(configKey(r.features, r.content)) === f);
    const fitted = fitTargets(
      rows.filter((_, i) => !inFold[i]),
      targets,
      st,
    );
    const idx = rows.flatMap((_, i) => (inFold[i] ? [i] : []));
    const p = predictBoth(
      fitted,
      idx.map((i) => rows[i]),
    );
    targets.forEach((_, t) =>
      idx.forEach((row, j) => {
        pooled.gbrt[t][row] = p.gbrt[t][j];
        pooled.ridge[t][row] = p.ridge[t][j];
      }),
    );
  }
  return { ...score(targets, rows, pooled), folds: k };
}

export function trainAdvisor(all: TrainingRow[], opts: TrainOptions = {}): TrainedAdvisor {
  const hardwareClass = requireOneClass(all);
  const { targets, rows, dropped } = chooseTargets(all);
  const st = settingsOf(opts);
  const held = splitByConfiguration(rows, st.validationFraction, st.seed);
  const train = rows.filter((r) => !held.has(configKey(r.features, r.content)));
  const valid = rows.filter((r) => held.has(configKey(r.features, r.content)));
  const fitted = fitTargets(train, targets, st);
  const p = predictBoth(fitted, valid);
  const scores = score(targets, valid, p);
  const residuals = {} as Record<TargetName, Range>;
  targets.forEach((t, k) => {
    const res = valid.map((r, i) => toModelSpace(t, targetValue(t, r)) - p.gbrt[k][i]);
    // Widened to include 0 so an interval always contains its own prediction (with few held-out runs the residuals can all share a sign).
    residuals[t.name] = { min: Math.min(0, quantile(res, 0.1)), max: Math.max(0, quantile(res, 0.9)) };
  });
  const { spec, gbrt, ridge, chosen } = fitted;

  const meta: AdvisorMeta = {
    version: 1,
    features: spec,
    targets,
    uncertainty: { method: 'held-out residual quantiles', quantiles: [0.1, 0.9], residuals },
    hardwareClasses: [hardwareClass],
    ...describeCoverage(rows, targets),
    campaigns: [...new Set(rows.map((r) => r.campaignId))].sort(),
    trainedAt: new Date().toISOString(),
    training: {
      seed: st.seed,
      validationFraction: st.validationFraction,
      gbrt: st.base,
      ridgeLambda: st.ridgeLambda,
      linearStart: st.linearStart,
      tune: st.tune,
      chosen,
    },
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
