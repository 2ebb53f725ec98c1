// Builds the FFmpeg commands that compare one output (distorted) against its reference. Pure: data in,
// argv out. The reference is rendered by the encoding FFmpeg (buildReferenceRender) and piped as raw
// frames into the scoring FFmpeg, which may be another build (libvmaf): two builds' `testsrc2` draw
// different frames, so a scoring FFmpeg must never regenerate the source itself. In the comparison,
// input 0 is the distorted output, input 1 the reference; both are normalised the same way (time
// base, zero start, explicit frame rate), the distorted one is scaled to the reference size.
import type { Resolution } from '../core/types.ts';
import { InputError } from '../core/errors.ts';

export type Scaler = 'bicubic' | 'lanczos' | 'bilinear';
export const SCALERS: readonly Scaler[] = ['bicubic', 'lanczos', 'bilinear'];

export type ReferenceSource = (
  | { kind: 'synthetic'; source: 'testsrc2' | 'smptehdbars'; resolution: Resolution; fps: number; durationS?: number }
  | { kind: 'file'; path: string; resolution: Resolution; fps: number }
) & {
  /** Reference seconds where the comparison starts (a live output joined late); rounded to a whole frame. */
  startS?: number;
};

/** The reference frame (at the comparison rate) that `startS` falls on. */
export function referenceStartFrame(ref: Pick<ReferenceSource, 'fps' | 'startS'>): number {
  const startS = ref.startS ?? 0;
  if (!(startS >= 0) || !Number.isFinite(startS)) {
    throw new InputError(`reference start must be a non-negative number of seconds, got ${startS}`, {
      field: 'referenceOffsetS',
    });
  }
  return Math.round(startS * ref.fps);
}

export interface VmafSetup {
  /** 1: libvmaf 1.x (`model_path=` a .pkl); 2: libvmaf 2.x (`model=path=` a .json). */
  generation: 1 | 2;
  modelPath: string;
}

export interface ComparisonSpec {
  reference: ReferenceSource;
  distorted: { path: string; fps: number; resolution: Resolution };
  scaler: Scaler;
  pixFmt: string;
  /** Log file names, written relative to the working directory FFmpeg runs in. */
  logs: { psnr: string; ssim: string; vmaf: string };
  vmaf: VmafSetup | null;
  /** Read the reference as NUT on stdin (piped from buildReferenceRender) instead of opening it. */
  referenceOnStdin?: boolean;
}

export interface ComparisonCommand {
  /** Arguments after the ffmpeg binary. */
  args: string[];
  filterGraph: string;
  referenceArgs: string[];
}

/** Frame rate as FFmpeg reads it: integers as-is, NTSC rates as exact rationals. */
export function formatRate(fps: number): string {
  if (!(fps > 0) || !Number.isFinite(fps))
    throw new InputError(`frame rate must be a positive number, got ${fps}`, { field: 'fps' });
  if (Number.isInteger(fps)) return String(fps);
  for (const base of [24, 30, 48, 60, 120]) {
    if (Math.abs(fps - (base * 1000) / 1001) < 0.005) return `${base * 1000}/1001`;
  }
  return String(fps);
}

/** Escapes a value for a filter option (`key=value` inside `a=b:c=d`): `\`, `'` and `:` get a backslash. */
export function escapeOptionValue(value: string): string {
  return value.replace(/[\\':]/g, (c) => '\\' + c);
}

/** Escapes a filter description for the filter graph: `\ ' [ ] , ;` get a backslash. */
export function escapeGraphLevel(text: string): string {
  return text.replace(/[\\'[\],;]/g, (c) => '\\' + c);
}

/** One option value escaped for both levels (option string inside a filter graph). */
export function filterValue(value: string): string {
  return escapeGraphLevel(escapeOptionValue(value));
}

function sizeOf(r: Resolution): string {
  return `${r.width}x${r.height}`;
}

export function referenceInputArgs(ref: ReferenceSource): string[] {
  if (ref.kind === 'file') return ['-i', ref.path];
  let source = `${ref.source}=size=${sizeOf(ref.resolution)}:rate=${formatRate(ref.fps)}`;
  if (ref.durationS !== undefined) source += `:duration=${ref.durationS}`;
  return ['-f', 'lavfi', '-i', source];
}

function vmafFilter(vmaf: VmafSetup, logName: string): string {
  if (vmaf.generation === 1) {
    return `libvmaf=model_path=${filterValue(vmaf.modelPath)}:log_fmt=json:log_path=${filterValue(logName)}`;
  }
  // libvmaf 2.x parses `model` itself as `key=value` pairs joined by `:` and models joined by `|`;
  // a third escaping level is not worth it for paths: such characters are refused up front.
  if (/[\\':|]/.test(vmaf.modelPath)) {
    throw new InputError(
      `VMAF model path ${vmaf.modelPath} contains one of \\ ' : | which libvmaf 2.x cannot take in model=path=`,
      {
        field: 'vmafModel',
        fix: 'move or link the model to a path without these characters',
      },
    );
  }
  return `libvmaf=model=path=${escapeGraphLevel(vmaf.modelPath)}:log_fmt=json:log_path=${filterValue(logName)}`;
}

/** Container of the piped reference: NUT carries any raw pixel format and exact timestamps, and every FFmpeg reads it. */
export const REFERENCE_PIPE_FORMAT = 'nut';

/**
 * Arguments (after the binary) that make the encoding FFmpeg render the reference, the frames its
 * encoder got, to stdout as raw `pixFmt` frames in NUT. Synthetic sources are generated (for
 * `durationS`, else until the reader stops); files are decoded.
 */
export function buildReferenceRender(ref: ReferenceSource, pixFmt: string): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    ...referenceInputArgs(ref),
    '-map',
    '0:v:0',
    '-pix_fmt',
    pixFmt,
    '-c:v',
    'rawvideo',
    '-f',
    REFERENCE_PIPE_FORMAT,
    'pipe:1',
  ];
}

/** Frames before the start are dropped after the rate is fixed, so the count is exact. */
function referenceTrim(ref: ReferenceSource): string {
  const frame = referenceStartFrame(ref);
  return frame > 0 ? `trim=start_frame=${frame},setpts=PTS-STARTPTS,` : '';
}

export function buildComparison(spec: ComparisonSpec): ComparisonCommand {
  const { reference: ref, distorted: dist } = spec;
  const rate = formatRate(ref.fps);
  formatRate(dist.fps); // validates the declared output rate too
  const sync = 'shortest=1:repeatlast=0';
  const comparisons = spec.vmaf ? 3 : 2;
  const refLabels = Array.from({ length: comparisons }, (_, i) => `[ref${i}]`);
  const normalise = `settb=AVTB,setpts=PTS-STARTPTS,fps=fps=${rate}`;
  const chains = [
    `[0:v]${normalise},scale=${ref.resolution.width}:${ref.resolution.height}:flags=${spec.scaler},format=${spec.pixFmt}[dist]`,
    `[1:v]${normalise},${referenceTrim(ref)}format=${spec.pixFmt},split=${comparisons}${refLabels.join('')}`,
    `[dist][ref0]psnr=stats_file=${filterValue(spec.logs.psnr)}:${sync}[dist1]`,
    `[dist1][ref1]ssim=stats_file=${filterValue(spec.logs.ssim)}:${sync}` + (spec.vmaf ? '[dist2]' : ''),
  ];
  if (spec.vmaf) chains.push(`[dist2][ref2]${vmafFilter(spec.vmaf, spec.logs.vmaf)}:${sync}`);
  const filterGraph = chains.join(';');
  const referenceArgs = spec.referenceOnStdin ? ['-f', REFERENCE_PIPE_FORMAT, '-i', 'pipe:0'] : referenceInputArgs(ref);
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-i',
    dist.path,
    ...referenceArgs,
    '-filter_complex',
    filterGraph,
    '-f',
    'null',
    '-',
  ];
  return { args, filterGraph, referenceArgs };
}
