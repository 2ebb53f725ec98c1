// Native matrix → scenarios: checks that need several keys at once, then the cross product
// mode × codec × preset × rate × streams × warmup_s × duration_s of every scenario entry.

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, isAbsolute, normalize, resolve } from 'node:path';
import type { Codec, InputSpec, LadderRung, Mode, RateControl, Resolution, Scenario } from '../core/types.ts';
import {
  ENCODER_PREFERENCE,
  codecOfEncoder,
  defaultEncoder,
  isValidPreset,
  knownEncoders,
  validPresets,
} from '../media/presets.ts';
import { closest, type KeyPath, type Problem } from './problems.ts';
import { REPETITION_DEFAULTS, SYNTHETIC_SOURCES, type NativeMatrix, type NativeScenario } from './schema.ts';

export interface ExpandContext {
  /** Folder that relative input paths are resolved against (the matrix file's folder). */
  baseDir: string;
  /** Refuse file inputs that do not exist here (off where the files live on other nodes). */
  checkInputFiles: boolean;
  /**
   * Fleet mode (a master accepting a campaign): a file input is a path relative to each worker's
   * media folder, and encoder_options keys must be in FLEET_ENCODER_OPTIONS.
   */
  fleet?: boolean;
}

/** A matrix that expands past this is almost surely a mistake (and would run for weeks). Counted before expanding. */
export const MAX_CELLS = 5000;
/** Cells × repetitions.min: the jobs a campaign creates up front. */
export const MAX_INITIAL_JOBS = 50_000;

/**
 * Encoder options a fleet campaign may set (docs/matrix.md): rate-control, GOP and tuning options of
 * the encoders ffwatt knows, none of which names a file. Left out on purpose: x264-params,
 * x265-params, svtav1-params and the like (they take `stats=`, `csv=`, `analysis-save=`… paths on
 * the worker), and every muxer, filter or input option.
 */
export const FLEET_ENCODER_OPTIONS: readonly string[] = [
  'tune',
  'profile',
  'profile:v',
  'level',
  'tier',
  'pix_fmt',
  'g',
  'keyint_min',
  'bf',
  'refs',
  'sc_threshold',
  'forced-idr',
  'b_strategy',
  'coder',
  'subq',
  'trellis',
  'me_method',
  'maxrate',
  'bufsize',
  'minrate',
  'qmin',
  'qmax',
  'rc',
  'cq',
  'qp',
  'multipass',
  'aq-mode',
  'aq-strength',
  'rc-lookahead',
  'spatial-aq',
  'temporal-aq',
  'b_ref_mode',
  'zerolatency',
  'threads',
  'row-mt',
  'tile-columns',
  'tile-rows',
  'cpu-used',
  'deadline',
  'lag-in-frames',
  'lookahead',
  'look_ahead',
  'async_depth',
  'low_power',
  'quality',
];

/** Cells an entry expands to: the product of its list lengths (computed without expanding). */
function cellsOf(entry: NativeScenario): number {
  return (
    (entry.mode?.length ?? 1) *
    entry.codec.length *
    (entry.preset?.length ?? 1) *
    entry.rate.length *
    (entry.streams?.length ?? 1) *
    (entry.warmup_s?.length ?? 1) *
    entry.duration_s.length
  );
}

export const DEFAULTS = {
  mode: 'file' as Mode,
  preset: 'medium',
  streams: 1,
  warmupS: 0,
  repetitions: REPETITION_DEFAULTS,
  cooldownS: 5,
  idleBaselineS: 30,
};

/** Valid crf values per codec (x264/x265: 0–51; SVT-AV1/libaom/libvpx: 0–63). */
export const CRF_RANGE: Record<Codec, [number, number]> = { h264: [0, 51], hevc: [0, 51], av1: [0, 63], vp9: [0, 63] };

export function inputSpec(input: NativeMatrix['input'], ctx: ExpandContext, problems: Problem[]): InputSpec {
  const { resolution, fps } = input;
  if ((SYNTHETIC_SOURCES as readonly string[]).includes(input.source)) {
    return { kind: 'synthetic', source: input.source as (typeof SYNTHETIC_SOURCES)[number], resolution, fps };
  }
  if (ctx.fleet) {
    // Resolved by each agent under its --media-dir; nothing outside that folder can be named.
    const rel = normalize(input.source);
    if (isAbsolute(input.source) || rel === '..' || rel.startsWith('../')) {
      problems.push({
        path: ['input', 'source'],
        message: `'${input.source}' is outside the workers' media folder: fleet campaigns take a synthetic source or a path relative to each worker's --media-dir`,
        fix: `use ${SYNTHETIC_SOURCES.join(' or ')}, or copy the file under the workers' media folder and write its relative path (e.g. clips/${basename(input.source)})`,
      });
    }
    return { kind: 'file', path: rel, resolution, fps };
  }
  const path = isAbsolute(input.source) ? input.source : resolve(ctx.baseDir, input.source);
  if (ctx.checkInputFiles) {
    const hint = closest(input.source, SYNTHETIC_SOURCES);
    const fix = `${hint ? `did you mean '${hint}'? ` : ''}use a synthetic source (${SYNTHETIC_SOURCES.join(', ')}) or the path of an existing video file (relative paths start at ${ctx.baseDir})`;
    if (!existsSync(path)) {
      problems.push({
        path: ['input', 'source'],
        message: `'${input.source}' is neither a synthetic source nor an existing file (${path})`,
        fix,
      });
    } else if (!statSync(path).isFile()) {
      problems.push({ path: ['input', 'source'], message: `'${input.source}' is not a regular file (${path})`, fix });
    }
  }
  return { kind: 'file', path, resolution, fps };
}

type Combo<T extends Record<string, unknown[]>> = { [K in keyof T]: { value: T[K][number]; index: number } };

function crossProduct<T extends Record<string, unknown[]>>(axes: T): Array<Combo<T>> {
  let combos: Array<Record<string, { value: unknown; index: number }>> = [{}];
  for (const [axis, values] of Object.entries(axes)) {
    const next: typeof combos = [];
    for (const combo of combos) values.forEach((value, index) => next.push({ ...combo, [axis]: { value, index } }));
    combos = next;
  }
  // Each combo has one entry per axis of T, built key by key above.
  return combos as Array<Combo<T>>;
}

function rateOf(r: { crf?: number; bitrate?: number }): RateControl {
  return r.crf !== undefined ? { kind: 'crf', value: r.crf } : { kind: 'bitrate', value: r.bitrate as number };
}

/** Checks of one scenario entry that need the codec and encoder together. */
function checkEntry(entry: NativeScenario, i: number, problems: Problem[], fleet: boolean): void {
  const at = (...rest: KeyPath): KeyPath => ['scenarios', i, ...rest];
  const codecs = entry.codec as Codec[];
  if (entry.encoder !== undefined) {
    const made = codecOfEncoder(entry.encoder);
    if (made === undefined) {
      problems.push({
        path: at('encoder'),
        message: `unknown encoder '${entry.encoder}'`,
        fix: `use one of ${codecs.map((c) => ENCODER_PREFERENCE[c].join(', ')).join('; ')} — or leave encoder out to let each node pick (known: ${knownEncoders().join(', ')})`,
      });
    } else {
      for (const codec of codecs) {
        if (codec !== made) {
          problems.push({
            path: at('encoder'),
            message: `encoder ${entry.encoder} makes ${made}, but this entry's codec list holds ${codec}`,
            fix: `leave encoder out (each node picks an encoder per codec), or set codec: ${made} only`,
          });
        }
      }
    }
  }
  const presets = entry.preset ?? [DEFAULTS.preset];
  for (const codec of codecs) {
    const encoder =
      entry.encoder !== undefined && codecOfEncoder(entry.encoder) === codec ? entry.encoder : defaultEncoder(codec);
    const whose =
      entry.encoder !== undefined ? `encoder ${encoder}` : `${encoder} (the default encoder of codec ${codec})`;
    presets.forEach((preset, j) => {
      if (!isValidPreset(encoder, preset)) {
        problems.push({
          path: entry.preset ? at('preset', j) : at(),
          message: `preset '${preset}' is not valid for ${whose}`,
          fix: `use one of: ${validPresets(encoder).join(', ')}`,
        });
      }
    });
    const [lo, hi] = CRF_RANGE[codec];
    entry.rate.forEach((r, j) => {
      if (r.crf !== undefined && (r.crf > hi || r.crf < lo || !Number.isInteger(r.crf))) {
        problems.push({
          path: at('rate', j, 'crf'),
          message: `crf ${r.crf} is outside ${lo}–${hi} (whole numbers) for codec ${codec}`,
          fix: `use a whole crf from ${lo} to ${hi}${codecs.length > 1 ? ', or split codecs with different crf scales into separate entries' : ''}`,
        });
      }
    });
  }
  for (const [key, value] of Object.entries(entry.encoder_options ?? {})) {
    if (key.startsWith('-')) {
      problems.push({
        path: at('encoder_options', key),
        message: `option '${key}' starts with '-'`,
        fix: `write it without the dash: ${key.replace(/^-+/, '')}: ${value}`,
      });
    } else if (!/^[A-Za-z0-9_:-]+$/.test(key)) {
      problems.push({
        path: at('encoder_options', key),
        message: `option name '${key}' is not an ffmpeg option name`,
        fix: 'use letters, digits, _ - and : only, e.g. x264-params',
      });
    }
    const owned: Record<string, string> = {
      preset: 'preset',
      crf: 'rate',
      'b:v': 'rate',
      b: 'rate',
      'c:v': 'codec/encoder',
      c: 'codec/encoder',
      s: 'outputs',
      r: 'outputs',
    };
    if (owned[key]) {
      problems.push({
        path: at('encoder_options', key),
        message: `'${key}' is set by the matrix itself`,
        fix: `set it through the scenario's ${owned[key]} key instead`,
      });
    } else if (fleet && !FLEET_ENCODER_OPTIONS.includes(key)) {
      problems.push({
        path: at('encoder_options', key),
        message: `encoder option '${key}' is not on the fleet allow-list`,
        fix: `use only ${FLEET_ENCODER_OPTIONS.join(', ')} (docs/matrix.md); other options could make FFmpeg on a worker read or write files`,
      });
    }
  }
}

export function scenarioKey(s: Omit<Scenario, 'key' | 'label' | 'origin'>): string {
  return createHash('sha256').update(canonicalJson(s)).digest('hex').slice(0, 12);
}

/** JSON with sorted keys and no undefined members: the same cell always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function formatBitrate(bps: number): string {
  if (bps >= 1e6 && bps % 1e5 === 0) return `${bps / 1e6}M`;
  if (bps >= 1e3 && bps % 100 === 0) return `${bps / 1e3}k`;
  return String(bps);
}

function rungLabel(r: LadderRung): string {
  return `${r.resolution.height}p${r.fps}`;
}

/** e.g. "file h264/medium crf23 720p30 x1"; a ladder shows every rung ("720p30+360p30"). */
export function scenarioLabel(s: Omit<Scenario, 'key' | 'label'>): string {
  const codec = s.encoder ? `${s.codec}(${s.encoder})` : s.codec;
  const rate = s.rate.kind === 'crf' ? `crf${s.rate.value}` : formatBitrate(s.rate.value);
  return `${s.mode} ${codec}/${s.preset} ${rate} ${s.outputs.map(rungLabel).join('+')} x${s.streams}`;
}

function resolutionEq(a: Resolution, b: Resolution): boolean {
  return a.width === b.width && a.height === b.height;
}

/** Give every scenario a key and a label that no other cell shares; duplicates are problems. */
export function finishScenarios(
  cells: Array<Omit<Scenario, 'key' | 'label'>>,
  pathOf: (origin: string | undefined) => KeyPath,
  problems: Problem[],
): Scenario[] {
  const byKey = new Map<string, Scenario>();
  const reported = new Set<string | undefined>();
  const out: Scenario[] = [];
  for (const cell of cells) {
    const { origin, ...identity } = cell;
    const key = scenarioKey(identity);
    const label = scenarioLabel(cell);
    const twin = byKey.get(key);
    if (twin) {
      if (!reported.has(origin)) {
        reported.add(origin);
        problems.push({
          path: pathOf(origin),
          message: `cell '${label}' (key ${key}) appears twice (also from ${twin.origin})`,
          fix: 'remove the repeated value from the lists, or the repeated entry',
        });
      }
      continue;
    }
    const scenario: Scenario = { key, label, ...cell };
    byKey.set(key, scenario);
    out.push(scenario);
  }
  // Labels leave out warm-up, duration and encoder options; where only those differ, add them.
  const counts = new Map<string, number>();
  for (const s of out) counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
  for (const s of out) {
    if ((counts.get(s.label) ?? 0) > 1) s.label = `${s.label} w${s.warmupS}s d${s.durationS}s #${s.key.slice(0, 6)}`;
  }
  return out;
}

export function expandNative(m: NativeMatrix, ctx: ExpandContext, problems: Problem[]): Scenario[] {
  // Counted from the list lengths before anything is built: a few long lists multiply to 10⁸ cells.
  const sizes = m.scenarios.map(cellsOf);
  const total = sizes.reduce((a, b) => a + b, 0);
  const largest = sizes.indexOf(Math.max(...sizes));
  if (total > MAX_CELLS) {
    problems.push({
      path: ['scenarios', largest],
      message: `the matrix expands to ${total} cells, more than the cap of ${MAX_CELLS} (this entry alone makes ${sizes[largest]})`,
      fix: 'shorten the lists or split the matrix into several campaigns',
    });
    return [];
  }
  const initialJobs = total * (m.repetitions?.min ?? DEFAULTS.repetitions.min);
  if (initialJobs > MAX_INITIAL_JOBS) {
    problems.push({
      path: ['repetitions', 'min'],
      message: `${total} cells × ${m.repetitions?.min ?? DEFAULTS.repetitions.min} repetitions make ${initialJobs} jobs, more than the cap of ${MAX_INITIAL_JOBS}`,
      fix: 'lower repetitions.min or split the matrix into several campaigns',
    });
    return [];
  }
  const input = inputSpec(m.input, ctx, problems);
  const cells: Array<Omit<Scenario, 'key' | 'label'>> = [];
  m.scenarios.forEach((entry, i) => {
    checkEntry(entry, i, problems, ctx.fleet ?? false);
    const outputs: LadderRung[] = (entry.outputs ?? [{ resolution: input.resolution }]).map((r) => {
      const rung: LadderRung = { resolution: r.resolution, fps: r.fps ?? input.fps };
      if (r.bitrate !== undefined) rung.rate = { kind: 'bitrate', value: r.bitrate };
      return rung;
    });
    outputs.forEach((r, j) => {
      if (
        j > 0 &&
        resolutionEq(r.resolution, outputs[0].resolution) &&
        r.fps === outputs[0].fps &&
        r.rate?.value === outputs[0].rate?.value
      ) {
        problems.push({
          path: ['scenarios', i, 'outputs', j],
          message: 'this rung repeats the first rung',
          fix: 'remove it or change its resolution, fps or bitrate',
        });
      }
    });
    const combos = crossProduct({
      mode: (entry.mode ?? [DEFAULTS.mode]) as Mode[],
      codec: entry.codec as Codec[],
      preset: entry.preset ?? [DEFAULTS.preset],
      rate: entry.rate,
      streams: entry.streams ?? [DEFAULTS.streams],
      warmupS: entry.warmup_s ?? [DEFAULTS.warmupS],
      durationS: entry.duration_s,
    });
    for (const c of combos) {
      const codec = c.codec.value;
      const encoder =
        entry.encoder !== undefined && codecOfEncoder(entry.encoder) === codec ? entry.encoder : undefined;
      const cell: Omit<Scenario, 'key' | 'label'> = {
        mode: c.mode.value,
        input,
        codec,
        preset: c.preset.value,
        rate: rateOf(c.rate.value),
        streams: c.streams.value,
        warmupS: c.warmupS.value,
        durationS: c.durationS.value,
        outputs,
        origin: `scenarios[${i}]`,
      };
      if (encoder) cell.encoder = encoder;
      if (entry.encoder_options && Object.keys(entry.encoder_options).length > 0)
        cell.encoderOptions = { ...entry.encoder_options };
      cells.push(cell);
    }
  });
  return finishScenarios(cells, (origin) => originPath(origin), problems);
}

/** "scenarios[3]" → ['scenarios', 3] */
export function originPath(origin: string | undefined): KeyPath {
  const m = /^scenarios\[(\d+)\]/.exec(origin ?? '');
  return m ? ['scenarios', Number(m[1])] : [];
}
