// Encoder preference per codec and the speed/quality preset of each encoder family.
//
// A matrix names presets the x264 way (ultrafast … placebo) for every encoder, or in the
// encoder's own terms (SVT-AV1 "6", NVENC "p4", …). Each family below lists its native
// levels from fastest to slowest; the x264 names are aliases onto those levels.
//
// | x264 name  | libx264/libx265 | libsvtav1 -preset | libaom-av1 -cpu-used | libvpx-vp9 -deadline/-cpu-used | *_nvenc -preset | *_qsv -preset | *_vaapi -compression_level |
// | ---------- | --------------- | ----------------- | -------------------- | ------------------------------ | --------------- | ------------- | -------------------------- |
// | ultrafast  | ultrafast       | 12                | 8                    | realtime / 8                   | p1              | veryfast      | 7                          |
// | superfast  | superfast       | 11                | 7                    | realtime / 7                   | p1              | veryfast      | 7                          |
// | veryfast   | veryfast        | 10                | 6                    | realtime / 6                   | p2              | veryfast      | 6                          |
// | faster     | faster          | 9                 | 5                    | good / 5                       | p3              | faster        | 5                          |
// | fast       | fast            | 8                 | 4                    | good / 4                       | p3              | fast          | 5                          |
// | medium     | medium          | 6                 | 3                    | good / 2                       | p4              | medium        | 4                          |
// | slow       | slow            | 4                 | 2                    | good / 1                       | p5              | slow          | 3                          |
// | slower     | slower          | 2                 | 1                    | good / 0                       | p6              | slower        | 2                          |
// | veryslow   | veryslow        | 1                 | 0                    | best / 0                       | p7              | veryslow      | 1                          |
// | placebo    | placebo         | 0                 | 0                    | best / 0                       | p7              | veryslow      | 1                          |
//
// SVT-AV1 1.4 caps the preset at 12 for 360p and smaller (it says so and continues), which is
// why ultrafast maps to 12 rather than 13; "13" is still accepted as a native value.
// Keep this table identical to the one in docs/matrix.md.

import type { Codec } from '../core/types.ts';
import { CODECS } from '../core/types.ts';
import { InputError } from '../core/errors.ts';

export const X264_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
  'placebo',
] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

/** Encoders per codec, most preferred first: software first (always measurable), then hardware. */
export const ENCODER_PREFERENCE: Record<Codec, string[]> = {
  h264: ['libx264', 'h264_nvenc', 'h264_qsv', 'h264_vaapi'],
  hevc: ['libx265', 'hevc_nvenc', 'hevc_qsv', 'hevc_vaapi'],
  av1: ['libsvtav1', 'libaom-av1', 'av1_nvenc', 'av1_qsv', 'av1_vaapi'],
  vp9: ['libvpx-vp9', 'vp9_qsv', 'vp9_vaapi'],
};

interface PresetLevel {
  /** The encoder's own name for this level, accepted in a matrix as is. */
  native: string;
  args: string[];
}

interface PresetFamily {
  /** Fastest first. */
  levels: PresetLevel[];
  /** x264 preset name → native level name. */
  aliases: Record<X264Preset, string>;
}

function x264Names(map: string[]): Record<X264Preset, string> {
  return Object.fromEntries(X264_PRESETS.map((name, i) => [name, map[i]])) as Record<X264Preset, string>;
}

const X26X: PresetFamily = {
  levels: X264_PRESETS.map((p) => ({ native: p, args: ['-preset', p] })),
  aliases: x264Names([...X264_PRESETS]),
};

const SVTAV1: PresetFamily = {
  levels: Array.from({ length: 14 }, (_, i) => String(13 - i)).map((n) => ({ native: n, args: ['-preset', n] })),
  aliases: x264Names(['12', '11', '10', '9', '8', '6', '4', '2', '1', '0']),
};

const AOM: PresetFamily = {
  levels: Array.from({ length: 9 }, (_, i) => String(8 - i)).map((n) => ({ native: n, args: ['-cpu-used', n] })),
  aliases: x264Names(['8', '7', '6', '5', '4', '3', '2', '1', '0', '0']),
};

const VPX_LEVELS: Array<[string, string]> = [
  ['realtime', '8'],
  ['realtime', '7'],
  ['realtime', '6'],
  ['realtime', '5'],
  ['good', '5'],
  ['good', '4'],
  ['good', '3'],
  ['good', '2'],
  ['good', '1'],
  ['good', '0'],
  ['best', '0'],
];
const VPX: PresetFamily = {
  levels: VPX_LEVELS.map(([deadline, cpu]) => ({
    native: `${deadline}-${cpu}`,
    args: ['-deadline', deadline, '-cpu-used', cpu],
  })),
  aliases: x264Names([
    'realtime-8',
    'realtime-7',
    'realtime-6',
    'good-5',
    'good-4',
    'good-2',
    'good-1',
    'good-0',
    'best-0',
    'best-0',
  ]),
};

const NVENC: PresetFamily = {
  levels: ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map((p) => ({ native: p, args: ['-preset', p] })),
  aliases: x264Names(['p1', 'p1', 'p2', 'p3', 'p3', 'p4', 'p5', 'p6', 'p7', 'p7']),
};

const QSV_NATIVE = ['veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'];
const QSV: PresetFamily = {
  levels: QSV_NATIVE.map((p) => ({ native: p, args: ['-preset', p] })),
  aliases: x264Names([
    'veryfast',
    'veryfast',
    'veryfast',
    'faster',
    'fast',
    'medium',
    'slow',
    'slower',
    'veryslow',
    'veryslow',
  ]),
};

// VAAPI quality level: 1 = best quality (slowest); the upper end is driver-dependent, 7 is common.
const VAAPI: PresetFamily = {
  levels: ['7', '6', '5', '4', '3', '2', '1'].map((n) => ({ native: n, args: ['-compression_level', n] })),
  aliases: x264Names(['7', '7', '6', '5', '5', '4', '3', '2', '1', '1']),
};

const FAMILY_BY_ENCODER: Record<string, PresetFamily> = {
  libx264: X26X,
  libx265: X26X,
  libsvtav1: SVTAV1,
  'libaom-av1': AOM,
  'libvpx-vp9': VPX,
  h264_nvenc: NVENC,
  hevc_nvenc: NVENC,
  av1_nvenc: NVENC,
  h264_qsv: QSV,
  hevc_qsv: QSV,
  av1_qsv: QSV,
  vp9_qsv: QSV,
  h264_vaapi: VAAPI,
  hevc_vaapi: VAAPI,
  av1_vaapi: VAAPI,
  vp9_vaapi: VAAPI,
};

/** Every encoder ffwatt knows presets for. */
export function knownEncoders(): string[] {
  return Object.keys(FAMILY_BY_ENCODER);
}

/** The codec an encoder produces, or undefined for an encoder ffwatt does not know. */
export function codecOfEncoder(encoder: string): Codec | undefined {
  return CODECS.find((codec) => ENCODER_PREFERENCE[codec].includes(encoder));
}

export function defaultEncoder(codec: Codec): string {
  const list = ENCODER_PREFERENCE[codec];
  if (!list) {
    const fix = `use one of: ${CODECS.join(', ')}`;
    throw new InputError(`unknown codec '${codec}'; ${fix}`, { field: 'codec', fix });
  }
  return list[0];
}

function familyOf(encoder: string): PresetFamily {
  const family = FAMILY_BY_ENCODER[encoder];
  if (!family) {
    const fix = `use one of: ${knownEncoders().join(', ')}`;
    throw new InputError(`unknown encoder '${encoder}'; ${fix}`, { field: 'encoder', fix });
  }
  return family;
}

function levelIndex(family: PresetFamily, preset: string): number {
  const native = (family.aliases as Record<string, string>)[preset] ?? preset;
  return family.levels.findIndex((l) => l.native === native);
}

function invalidPreset(encoder: string, preset: string): InputError {
  const fix = `valid presets for ${encoder}: ${validPresets(encoder).join(', ')}`;
  return new InputError(`preset '${preset}' is not valid for encoder ${encoder}; ${fix}`, { field: 'preset', fix });
}

/** Preset names valid for an encoder: the x264 names first, then the encoder's own levels. */
export function validPresets(encoder: string): string[] {
  const family = familyOf(encoder);
  const names: string[] = [...X264_PRESETS];
  for (const l of family.levels) if (!names.includes(l.native)) names.push(l.native);
  return names;
}

export function isValidPreset(encoder: string, preset: string): boolean {
  const family = FAMILY_BY_ENCODER[encoder];
  return family !== undefined && levelIndex(family, preset) >= 0;
}

/** The ffmpeg arguments that select `preset` on `encoder`, e.g. ['-preset', 'medium']. */
export function presetArgs(encoder: string, preset: string): string[] {
  const family = familyOf(encoder);
  const i = levelIndex(family, preset);
  if (i < 0) {
    throw invalidPreset(encoder, preset);
  }
  return [...family.levels[i].args];
}

/** Where a preset sits on the encoder's own speed scale: 0 = fastest level, 1 = slowest. */
export function presetOrdinal(encoder: string, preset: string): number {
  const family = familyOf(encoder);
  const i = levelIndex(family, preset);
  if (i < 0) {
    throw invalidPreset(encoder, preset);
  }
  return i / (family.levels.length - 1);
}
