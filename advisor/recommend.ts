// Recommender: enumerate configurations this node can encode, predict energy, quality
// and speed for each, keep those whose predicted quality meets the target, rank by
// predicted energy.
//
// - Candidates: encoders both the node has and the model was trained on (an encoder the
//   node lacks is never proposed; one the model never saw is skipped and listed), the
//   presets measured for that encoder, and the rate values measured for that encoder plus
//   the midpoints between neighbours.
// - Uncertainty: each figure carries the 10 %–90 % interval of held-out residuals
//   (train.ts). The quality filter uses the point prediction; `qualityMarginOk` says
//   whether the interval's low end also meets the target.
// - measured: a run with this exact configuration (and hardware class) is in the
//   training data; otherwise extrapolated (a prediction for an unmeasured combination).
// - The question must lie inside the training range (resolution, fps, quality target,
//   content); otherwise it is refused with the field and the range named.

import { InputError } from '../core/errors.ts';
import type { FeatureInput } from './features.ts';
import { configKey } from './dataset.ts';
import type { Prediction, PredictionBatch } from './infer.ts';
import type { AdvisorMeta, HardwareEntry, Range } from './train.ts';
import type { EnergyBasis, TargetName } from './targets.ts';

export interface HardwareProfile {
  name: string;
  /** Hardware class the question is for (null: this machine, class not known to the model). */
  hardwareClass?: string | null;
  cpuModel: string;
  cores: number;
  gpu: boolean;
  meterSource: string;
}

export interface ContentProfile {
  label: string;
  si: number;
  ti: number;
  /** True when measured from a source the user named (then checked against the training range). */
  userGiven: boolean;
}

export interface RecommendQuery {
  minQuality: { metric: 'vmaf' | 'psnr'; value: number };
  width: number;
  height: number;
  fps: number;
  hardware: HardwareProfile;
  /** Encoders usable on the node the recommendation is for. */
  availableEncoders: string[];
  content?: ContentProfile;
  limit?: number;
}

export interface Candidate {
  codec: string;
  encoder: string;
  preset: string;
  rate: { kind: 'crf' | 'bitrate'; value: number };
  predicted: Prediction['values'];
  intervals: Prediction['intervals'];
  qualityMarginOk: boolean;
  measured: boolean;
}

export interface Recommendation {
  model: {
    campaigns: string[];
    trainedAt: string;
    qualityMetric: 'vmaf' | 'psnr';
    energyBasis: EnergyBasis;
    hardwareClasses: string[];
  };
  query: {
    minQuality: RecommendQuery['minQuality'];
    resolution: string;
    fps: number;
    hardware: string;
    hardwareClass: string | null;
    content: ContentProfile;
  };
  candidates: Candidate[];
  evaluated: number;
  belowTarget: number;
  skippedEncoders: Array<{ encoder: string; reason: string }>;
  notes: string[];
}

export interface Predictor {
  predictBatch(inputs: FeatureInput[], read?: TargetName[]): Promise<PredictionBatch>;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
const fmtRange = (r: Range) => `${fmt(r.min)}–${fmt(r.max)}`;

function outside(v: number, r: Range): boolean {
  return v < r.min - 1e-9 || v > r.max + 1e-9;
}

/** Refuses questions the training data does not cover (InputError, exit 2). */
export function checkCoverage(meta: AdvisorMeta, q: RecommendQuery): void {
  const quality = meta.targets.find((t) => t.name === 'quality')!;
  const flag = `--min-${q.minQuality.metric}`;
  if (quality.metric !== q.minQuality.metric) {
    const fix = `use --min-${quality.metric}, or train on runs scored with ${q.minQuality.metric.toUpperCase()}`;
    throw new InputError(
      `${flag}: this model predicts ${quality.metric!.toUpperCase()}, not ${q.minQuality.metric.toUpperCase()}; ${fix}`,
      { field: flag, fix },
    );
  }
  const c = meta.coverage;
  if (outside(q.minQuality.value, c.quality)) {
    const fix = 'ask for a target inside that range, or train on runs that reach it';
    throw new InputError(
      `${flag} ${q.minQuality.value} is outside the training range of ${quality.metric!.toUpperCase()} (${fmtRange(c.quality)}); ${fix}`,
      { field: flag, fix },
    );
  }
  const pixels = q.width * q.height;
  if (outside(pixels, c.pixels)) {
    const fix = 'train on a campaign that includes this resolution';
    throw new InputError(
      `--resolution ${q.width}x${q.height} (${pixels} pixels) is outside the training range of ${fmtRange(c.pixels)} pixels (${trainedResolutions(meta)}); ${fix}`,
      { field: '--resolution', fix },
    );
  }
  if (outside(q.fps, c.fps)) {
    const fix = 'train on a campaign that includes this frame rate';
    throw new InputError(`--fps ${q.fps} is outside the training range of ${fmtRange(c.fps)} fps; ${fix}`, {
      field: '--fps',
      fix,
    });
  }
  if (q.content?.userGiven) {
    for (const k of ['si', 'ti'] as const) {
      if (outside(q.content[k], c[k])) {
        const fix = 'train on a campaign with content like this source';
        throw new InputError(
          `--input ${q.content.label}: content ${k.toUpperCase()} ${fmt(q.content[k])} is outside the training range ${fmtRange(c[k])}; ${fix}`,
          { field: '--input', fix },
        );
      }
    }
  }
}

function trainedResolutions(meta: AdvisorMeta): string {
  const set = new Set(meta.measured.map((m) => m.split('|')[7]).filter(Boolean));
  return [...set].sort().join(', ') || 'none';
}

/**
 * Content used when the user names none: the training content when there is one, else the
 * training source of the asked size and rate (one matrix per resolution renders its own
 * source: "testsrc2 1280x720@30"), else the medians.
 */
export function defaultContent(
  meta: AdvisorMeta,
  size?: { width: number; height: number; fps: number },
): ContentProfile {
  const same = size ? meta.contents.filter((c) => c.content.endsWith(` ${size.width}x${size.height}@${size.fps}`)) : [];
  if (meta.contents.length === 1 || same.length === 1) {
    const c = same[0] ?? meta.contents[0];
    return { label: c.content, si: c.si, ti: c.ti, userGiven: false };
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return {
    label: `median of ${meta.contents.length} training sources`,
    si: median(meta.contents.map((c) => c.si)),
    ti: median(meta.contents.map((c) => c.ti)),
    userGiven: false,
  };
}

/** Rate values measured for an encoder plus the midpoints between neighbours (geometric for bitrates). */
export function rateGrid(meta: AdvisorMeta, encoder: string): Array<{ kind: 'crf' | 'bitrate'; value: number }> {
  const out: Array<{ kind: 'crf' | 'bitrate'; value: number }> = [];
  const { crf, bitrate } = meta.grid.rates[encoder] ?? { crf: [], bitrate: [] };
  crf.forEach((v, i) => {
    out.push({ kind: 'crf', value: v });
    if (i + 1 < crf.length) {
      const mid = Math.round((v + crf[i + 1]) / 2);
      if (mid > v && mid < crf[i + 1]) out.push({ kind: 'crf', value: mid });
    }
  });
  bitrate.forEach((v, i) => {
    out.push({ kind: 'bitrate', value: v });
    if (i + 1 < bitrate.length)
      out.push({ kind: 'bitrate', value: Math.round(Math.sqrt(v * bitrate[i + 1]) / 1000) * 1000 });
  });
  return out;
}

/** Hardware of the model card by name, as a profile. */
export function hardwareByName(meta: AdvisorMeta, name: string): HardwareEntry {
  const h = meta.hardware.find((x) => x.name === name);
  if (!h) {
    const fix = `use 'this' or one of: ${meta.hardware.map((x) => x.name).join(', ')}`;
    throw new InputError(`--hardware '${name}' is not in the model card; ${fix}`, { field: '--hardware', fix });
  }
  return h;
}

export async function recommend(predictor: Predictor, meta: AdvisorMeta, q: RecommendQuery): Promise<Recommendation> {
  checkCoverage(meta, q);
  const content = q.content ?? defaultContent(meta, q);
  const notes: string[] = [];
  const skippedEncoders: Recommendation['skippedEncoders'] = [];
  const trained = Object.keys(meta.grid.presets).sort();
  for (const e of trained)
    if (!q.availableEncoders.includes(e)) skippedEncoders.push({ encoder: e, reason: 'not usable on this node' });
  for (const e of q.availableEncoders)
    if (!trained.includes(e)) skippedEncoders.push({ encoder: e, reason: 'not in the training data' });
  const encoders = trained.filter((e) => q.availableEncoders.includes(e));
  if (encoders.length === 0) {
    const fix = 'train on runs of an encoder this node has';
    throw new InputError(
      `none of the encoders the model knows (${trained.join(', ')}) is usable on this node (${q.availableEncoders.join(', ') || 'none'}); ${fix}`,
      {
        field: '--hardware',
        fix,
      },
    );
  }
  if (!meta.hardware.some((h) => h.name === q.hardware.name)) {
    notes.push(
      `hardware ${q.hardware.name} is not in the training data (trained on ${meta.hardware.map((h) => h.name).join(', ')}): every prediction is an extrapolation`,
    );
  }
  if (!content.userGiven)
    notes.push(`content: ${content.label} (SI ${fmt(content.si)}, TI ${fmt(content.ti)}); name a source with --input`);

  const inputs: FeatureInput[] = [];
  for (const encoder of encoders) {
    for (const preset of meta.grid.presets[encoder]) {
      for (const rate of rateGrid(meta, encoder)) {
        inputs.push({
          codec: meta.grid.codecOf[encoder],
          encoder,
          preset,
          mode: 'file',
          rate,
          width: q.width,
          height: q.height,
          fps: q.fps,
          streams: 1,
          si: content.si,
          ti: content.ti,
          cpuModel: q.hardware.cpuModel,
          cores: q.hardware.cores,
          gpu: q.hardware.gpu,
          meterSource: q.hardware.meterSource,
        });
      }
    }
  }
  const measured = new Set(meta.measured);
  const ranked = await rankCandidates(predictor, inputs, {
    minQuality: q.minQuality.value,
    limit: q.limit ?? 10,
    isMeasured: (input) => !content.userGiven && measured.has(`${q.hardware.name}|${configKey(input, content.label)}`),
  });
  if (ranked.unseen.length) notes.push(`not seen in training (unknown bucket): ${ranked.unseen.join(', ')}`);
  const quality = meta.targets.find((t) => t.name === 'quality')!;
  const energy = meta.targets.find((t) => t.name === 'energy')!;
  return {
    model: {
      campaigns: meta.campaigns,
      trainedAt: meta.trainedAt,
      qualityMetric: quality.metric!,
      energyBasis: energy.basis!,
      hardwareClasses: meta.hardwareClasses,
    },
    query: {
      minQuality: q.minQuality,
      resolution: `${q.width}x${q.height}`,
      fps: q.fps,
      hardware: q.hardware.name,
      hardwareClass: q.hardware.hardwareClass ?? null,
      content,
    },
    candidates: ranked.candidates,
    evaluated: ranked.evaluated,
    belowTarget: ranked.belowTarget,
    skippedEncoders,
    notes,
  };
}

export interface RankOptions {
  /** Quality target: a candidate is kept when its predicted quality is not below it. */
  minQuality: number;
  /** How many to return, as `Array.prototype.slice(0, limit)` of the full ranking would. */
  limit: number;
  /** Whether a run with exactly this configuration is in the training data (for the rows returned). */
  isMeasured: (input: FeatureInput) => boolean;
}

export interface Ranked {
  /** The cheapest candidates by predicted energy (ties in input order), at most `limit`. */
  candidates: Candidate[];
  evaluated: number;
  belowTarget: number;
  /** `field=value` of the categorical values the model never saw, first seen first. */
  unseen: string[];
}

/**
 * Predicts every input, keeps those whose predicted quality meets the target and returns the
 * `limit` cheapest by predicted energy. The filter and the ranking read typed columns of the
 * batch; prediction objects are built only for the candidates returned.
 */
export async function rankCandidates(predictor: Predictor, inputs: FeatureInput[], opts: RankOptions): Promise<Ranked> {
  const batch = await predictor.predictBatch(inputs, ['quality', 'energy']);
  const quality = batch.values('quality');
  const energy = batch.values('energy');
  const kept = new Uint32Array(inputs.length);
  let m = 0;
  for (let i = 0; i < inputs.length; i++) if (!(quality[i] < opts.minQuality)) kept[m++] = i;
  const order = cheapestFirst(kept.subarray(0, m), energy, sliceEnd(opts.limit, m));
  await batch.complete(order);
  const candidates = order.map((i) => {
    const input = inputs[i];
    const p = batch.at(i);
    return {
      codec: input.codec,
      encoder: input.encoder,
      preset: input.preset,
      rate: input.rate,
      predicted: p.values,
      intervals: p.intervals,
      qualityMarginOk: p.intervals.quality.lo >= opts.minQuality,
      measured: opts.isMeasured(input),
    };
  });
  return { candidates, evaluated: inputs.length, belowTarget: inputs.length - m, unseen: batch.unseen };
}

/** How many items `slice(0, limit)` keeps of `length` (a negative limit counts from the end). */
function sliceEnd(limit: number, length: number): number {
  const end = Number.isNaN(limit) ? 0 : Math.trunc(limit);
  return end < 0 ? Math.max(length + end, 0) : Math.min(end, length);
}

/**
 * The first `k` of `rows` ordered by `key` ascending, ties in row order (what a stable sort of the
 * rows by key gives). A short list is kept by insertion while scanning, a long one sorted whole.
 */
function cheapestFirst(rows: Uint32Array, key: Float64Array, k: number): number[] {
  if (k === 0) return [];
  if (k > 256) {
    const all = Array.from(rows);
    all.sort((a, b) => key[a] - key[b] || a - b);
    return all.slice(0, k);
  }
  const top: number[] = [];
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    const v = key[i];
    if (top.length === k && !(v < key[top[k - 1]])) continue;
    // After every kept row with a key <= v: rows come in ascending order, so a tie stays behind.
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key[top[mid]] <= v) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}
