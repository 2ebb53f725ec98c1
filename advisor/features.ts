// Feature encoding: one configuration (+ content + hardware) → one float32 vector.
//
// The spec built from the training rows is saved beside the model (JSON) and inference
// encodes with that same spec, so the columns and their order never drift.
//
// Categorical fields are one-hot over the categories seen in training plus an explicit
// `<field>=__unknown__` column. A value never seen in training sets only that column;
// it is always 0 in training, so the trees route an unseen value down the branch taken
// by "none of the known values" and the ridge model gives it no weight. Such a
// prediction is an extrapolation and the recommender marks it so.
//
// Numbers are stored as float32 (Math.fround) because the ONNX model reads float32.

import { presetOrdinal, codecOfEncoder } from '../media/presets.ts';
import { InputError } from '../core/errors.ts';

export const UNKNOWN = '__unknown__';

export const CATEGORICAL_FIELDS = ['codec', 'encoder', 'rateKind', 'mode', 'cpuClass', 'meterSource'] as const;
export type CategoricalField = (typeof CATEGORICAL_FIELDS)[number];

export const NUMERIC_FIELDS = [
  'presetOrdinal', // 0 fastest … 1 slowest on the encoder's own scale
  'crf', // crf value when rate control is crf, else 0 (rateKind says which)
  'log10Bitrate', // log10(bits/s) when rate control is bitrate, else 0
  'log2Pixels', // log2(width × height) of the main output
  'fps',
  'streams',
  'si', // spatial information of the source (advisor/content.ts)
  'ti', // temporal information of the source
  'cores',
  'gpu', // 1 when the node has a GPU, else 0
] as const;
export type NumericField = (typeof NUMERIC_FIELDS)[number];

/** Everything a prediction depends on, in plain terms. */
export interface FeatureInput {
  codec: string;
  encoder: string;
  preset: string;
  mode: string;
  rate: { kind: 'crf' | 'bitrate'; value: number };
  width: number;
  height: number;
  fps: number;
  streams: number;
  si: number;
  ti: number;
  cpuModel: string;
  cores: number;
  gpu: boolean;
  meterSource: string;
}

export interface FeatureSpec {
  version: 1;
  /** Known categories per field, in column order; the unknown column follows them. */
  categories: Record<CategoricalField, string[]>;
  /** Column names of the encoded vector, in order. */
  columns: string[];
  /** How SI/TI were measured for the training rows (advisor/content.ts); inference must use the same. */
  contentMethod: 'siti' | 'proxy';
}

/** CPU model class: vendor and product line, e.g. "intel-xeon", "amd-epyc", "arm-neoverse". */
export function cpuClass(cpuModel: string): string {
  const m = cpuModel.toLowerCase();
  if (/qemu|kvm|virtual cpu/.test(m)) return 'virtual';
  const vendor = /intel/.test(m)
    ? 'intel'
    : /amd|epyc|ryzen/.test(m)
      ? 'amd'
      : /arm|neoverse|cortex|apple|graviton|ampere/.test(m)
        ? 'arm'
        : 'other';
  // Product lines before "core": "16-Core Processor" is a core count, not Intel's Core line.
  const line = [
    'xeon',
    'epyc',
    'threadripper',
    'ryzen',
    'atom',
    'celeron',
    'pentium',
    'neoverse',
    'cortex',
    'graviton',
    'ampere',
    'apple',
    'core',
  ].find((l) => (l === 'core' ? /(^|[^-\w])core(\(tm\))?\s/.test(m) : m.includes(l)));
  return `${vendor}-${line ?? 'other'}`;
}

/** Preset ordinal, or 0.5 for an encoder ffwatt has no preset table for (it lands in the unknown bucket too). */
export function presetPosition(encoder: string, preset: string): number {
  if (!codecOfEncoder(encoder)) return 0.5;
  return presetOrdinal(encoder, preset); // throws InputError naming the valid presets
}

// A batch of candidates repeats a handful of CPU models and encoder/preset pairs: their derived
// values are looked up once (the regular expressions of cpuClass dominated encoding otherwise).
const cpuClassMemo = new Map<string, string>();
const presetMemo = new Map<string, number>();
const MEMO_LIMIT = 4096;

function memo<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make(); // may throw (an invalid preset): nothing is stored then
    if (map.size >= MEMO_LIMIT) map.clear();
    map.set(key, v);
  }
  return v;
}

function categoryValues(input: FeatureInput): Record<CategoricalField, string> {
  return {
    codec: input.codec,
    encoder: input.encoder,
    rateKind: input.rate.kind,
    mode: input.mode,
    cpuClass: memo(cpuClassMemo, input.cpuModel, () => cpuClass(input.cpuModel)),
    meterSource: input.meterSource,
  };
}

function numericValues(input: FeatureInput): Record<NumericField, number> {
  return {
    presetOrdinal: memo(presetMemo, `${input.encoder}\u0000${input.preset}`, () =>
      presetPosition(input.encoder, input.preset),
    ),
    crf: input.rate.kind === 'crf' ? input.rate.value : 0,
    log10Bitrate: input.rate.kind === 'bitrate' ? Math.log10(input.rate.value) : 0,
    log2Pixels: Math.log2(input.width * input.height),
    fps: input.fps,
    streams: input.streams,
    si: input.si,
    ti: input.ti,
    cores: input.cores,
    gpu: input.gpu ? 1 : 0,
  };
}

/** Builds the encoding spec from training inputs: categories sorted, so the same data gives the same spec. */
export function buildFeatureSpec(inputs: FeatureInput[], contentMethod: FeatureSpec['contentMethod']): FeatureSpec {
  if (inputs.length === 0)
    throw new InputError('no training rows to build features from', {
      field: 'rows',
      fix: 'train on a campaign with succeeded runs',
    });
  const categories = {} as Record<CategoricalField, string[]>;
  for (const f of CATEGORICAL_FIELDS) {
    categories[f] = [...new Set(inputs.map((i) => categoryValues(i)[f]))].sort();
  }
  return { version: 1, categories, columns: buildColumns(categories), contentMethod };
}

/** Which categorical fields of `input` are not among the training categories. */
export function unseenCategories(
  spec: FeatureSpec,
  input: FeatureInput,
): Array<{ field: CategoricalField; value: string }> {
  const vals = categoryValues(input);
  return CATEGORICAL_FIELDS.filter((f) => !spec.categories[f].includes(vals[f])).map((f) => ({
    field: f,
    value: vals[f],
  }));
}

/** Encodes one input into `out` (length spec.columns.length) starting at `offset`. */
export function encodeInto(spec: FeatureSpec, input: FeatureInput, out: Float32Array, offset = 0): void {
  out.fill(0, offset, offset + spec.columns.length);
  encodeIntoZeroed(spec, input, out, offset);
}

/** encodeInto for a row already all zeros (a fresh batch): only the set one-hot columns are written. */
function encodeIntoZeroed(spec: FeatureSpec, input: FeatureInput, out: Float32Array, offset: number): void {
  let k = offset;
  const cats = categoryValues(input);
  for (const f of CATEGORICAL_FIELDS) {
    const known = spec.categories[f];
    const idx = known.indexOf(cats[f]);
    out[k + (idx < 0 ? known.length : idx)] = 1;
    k += known.length + 1;
  }
  const nums = numericValues(input);
  for (const f of NUMERIC_FIELDS) {
    const v = nums[f];
    if (!Number.isFinite(v)) {
      throw new InputError(`feature '${f}' is not a finite number (${v})`, {
        field: f,
        fix: 'check resolution, fps, rate and content figures',
      });
    }
    out[k++] = v;
  }
}

export function encodeOne(spec: FeatureSpec, input: FeatureInput): Float32Array {
  const out = new Float32Array(spec.columns.length);
  encodeInto(spec, input, out);
  return out;
}

/**
 * Encodes a batch row-major: [n × columns] float32, the ONNX input layout. Category positions are
 * resolved once per batch (a Map per field, the CPU class and preset ordinal per distinct value) and
 * each row writes its set one-hot columns and numbers straight into the one zeroed array: no per-row
 * objects. A row with a value encodeInto would refuse goes through encodeInto, so the error is its own.
 * `unseen`, when given, collects what unseenCategories would list for the batch: `field=value`,
 * first seen first (rows in order, fields in CATEGORICAL_FIELDS order).
 */
export function encodeBatch(spec: FeatureSpec, inputs: FeatureInput[], unseen?: Set<string>): Float32Array {
  const width = spec.columns.length;
  const out = new Float32Array(inputs.length * width);
  const at = categoryPositions(spec);
  const [codecAt, encoderAt, rateKindAt, modeAt, cpuClassAt, meterAt] = at.positions;
  const [codecUnknown, encoderUnknown, rateKindUnknown, modeUnknown, cpuClassUnknown, meterUnknown] = at.unknown;
  const num = at.numericStart;
  const cpuColumn = new Map<string, { column: number; cls: string }>();
  // The column of a value, its field's unknown bucket when training never saw it: noted in `unseen`
  // once, then mapped to that bucket (the maps are this batch's own).
  const column = (known: Map<string, number>, value: string, unknown: number, field: CategoricalField) => {
    const c = known.get(value);
    if (c !== undefined) return c;
    unseen?.add(`${field}=${value}`);
    known.set(value, unknown);
    return unknown;
  };
  const presetOf = new Map<string, Map<string, number>>();
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    const o = i * width;
    let byPreset = presetOf.get(input.encoder);
    if (byPreset === undefined) presetOf.set(input.encoder, (byPreset = new Map()));
    let preset = byPreset.get(input.preset);
    if (preset === undefined) {
      preset = presetPosition(input.encoder, input.preset); // throws InputError naming the valid presets
      byPreset.set(input.preset, preset);
    }
    const rate = input.rate;
    const crf = rate.kind === 'crf' ? rate.value : 0;
    const log10Bitrate = rate.kind === 'bitrate' ? Math.log10(rate.value) : 0;
    const log2Pixels = Math.log2(input.width * input.height);
    if (
      !Number.isFinite(crf) ||
      !Number.isFinite(log10Bitrate) ||
      !Number.isFinite(log2Pixels) ||
      !Number.isFinite(input.fps) ||
      !Number.isFinite(input.streams) ||
      !Number.isFinite(input.si) ||
      !Number.isFinite(input.ti) ||
      !Number.isFinite(input.cores)
    ) {
      encodeInto(spec, input, out, o); // throws, naming the field
    }
    let cpu = cpuColumn.get(input.cpuModel);
    if (cpu === undefined) {
      const cls = memo(cpuClassMemo, input.cpuModel, () => cpuClass(input.cpuModel));
      cpu = { column: cpuClassAt.get(cls) ?? cpuClassUnknown, cls };
      cpuColumn.set(input.cpuModel, cpu);
    }
    // In CATEGORICAL_FIELDS order, so `unseen` lists values as unseenCategories does.
    out[o + column(codecAt, input.codec, codecUnknown, 'codec')] = 1;
    out[o + column(encoderAt, input.encoder, encoderUnknown, 'encoder')] = 1;
    out[o + column(rateKindAt, rate.kind, rateKindUnknown, 'rateKind')] = 1;
    out[o + column(modeAt, input.mode, modeUnknown, 'mode')] = 1;
    out[o + column(cpuClassAt, cpu.cls, cpuClassUnknown, 'cpuClass')] = 1;
    out[o + column(meterAt, input.meterSource, meterUnknown, 'meterSource')] = 1;
    const n = o + num; // NUMERIC_FIELDS order
    out[n] = preset;
    out[n + 1] = crf;
    out[n + 2] = log10Bitrate;
    out[n + 3] = log2Pixels;
    out[n + 4] = input.fps;
    out[n + 5] = input.streams;
    out[n + 6] = input.si;
    out[n + 7] = input.ti;
    out[n + 8] = input.cores;
    out[n + 9] = input.gpu ? 1 : 0;
  }
  return out;
}

/** Column of each known category (first occurrence, as indexOf finds it) and of each field's unknown bucket. */
function categoryPositions(spec: FeatureSpec): {
  positions: Array<Map<string, number>>;
  unknown: number[];
  numericStart: number;
} {
  const positions: Array<Map<string, number>> = [];
  const unknown: number[] = [];
  let k = 0;
  for (const f of CATEGORICAL_FIELDS) {
    const known = spec.categories[f];
    const m = new Map<string, number>();
    known.forEach((c, j) => {
      if (!m.has(c)) m.set(c, k + j);
    });
    positions.push(m);
    unknown.push(k + known.length);
    k += known.length + 1;
  }
  return { positions, unknown, numericStart: k };
}

/** Checks that a JSON value read from disk is a usable spec. */
export function parseFeatureSpec(raw: unknown, file: string): FeatureSpec {
  const s = raw as Partial<FeatureSpec> | null;
  const fix = 'regenerate it with `make train`';
  if (!s || s.version !== 1 || !Array.isArray(s.columns) || !s.categories) {
    throw new InputError(`${file}: not an ffwatt feature spec (version 1)`, { file, fix });
  }
  const expected = buildColumns(s.categories as Record<CategoricalField, string[]>);
  if (expected.join('\n') !== s.columns.join('\n')) {
    throw new InputError(`${file}: columns do not match its categories (edited by hand?)`, {
      file,
      field: 'columns',
      fix,
    });
  }
  return s as FeatureSpec;
}

function buildColumns(categories: Record<CategoricalField, string[]>): string[] {
  const columns: string[] = [];
  for (const f of CATEGORICAL_FIELDS) {
    if (!Array.isArray(categories[f])) return [];
    for (const c of categories[f]) columns.push(`${f}=${c}`);
    columns.push(`${f}=${UNKNOWN}`);
  }
  return [...columns, ...NUMERIC_FIELDS];
}
