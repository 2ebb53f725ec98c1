/**
 * FFmpeg argument building: pure functions, data in, argv out (no binary name,
 * nothing spawned). Running lives in process.ts / cell.ts.
 */
import type { RateControl, Resolution, Scenario } from '../core/types.ts';
import { InputError } from '../core/errors.ts';
import { presetArgs } from './presets.ts';

export interface EncodeArgsOptions {
  /** One output path per ladder rung, in ladder order. */
  outputs: string[];
  /** Media seconds to encode per output (warm-up + measured duration). */
  totalMediaS: number;
  /** Index of this stream within the cell (0-based), tagged into the outputs' metadata. */
  streamIndex: number;
  /** Replaces the scenario's input, e.g. an rtmp:// URL in live mode. */
  input?: string;
  /** Read the input at its native rate (`-re`). */
  realtime?: boolean;
}

type Family = 'x26x' | 'svtav1' | 'aom' | 'vpx' | 'nvenc' | 'qsv' | 'vaapi' | 'other';

export function encoderFamily(encoder: string): Family {
  if (encoder === 'libx264' || encoder === 'libx265') return 'x26x';
  if (encoder === 'libsvtav1') return 'svtav1';
  if (encoder === 'libaom-av1') return 'aom';
  if (encoder === 'libvpx-vp9' || encoder === 'libvpx') return 'vpx';
  if (encoder.endsWith('_nvenc')) return 'nvenc';
  if (encoder.endsWith('_qsv')) return 'qsv';
  if (encoder.endsWith('_vaapi')) return 'vaapi';
  return 'other';
}

/** Numbers for argv: integers stay integers, fractions keep up to 6 decimals. */
export function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

const size = (r: Resolution) => `${r.width}x${r.height}`;

/** Rate control arguments for one output of `encoder`. */
export function rateArgs(encoder: string, rate: RateControl): string[] {
  const fam = encoderFamily(encoder);
  const v = fmtNum(rate.value);
  if (rate.kind === 'crf') {
    switch (fam) {
      case 'x26x':
      case 'svtav1':
        return ['-crf', v];
      case 'aom':
      case 'vpx':
        return ['-crf', v, '-b:v', '0']; // constant quality needs the bitrate cap off
      case 'nvenc':
        return ['-rc', 'vbr', '-cq', v, '-b:v', '0'];
      case 'qsv':
        return ['-global_quality', v];
      case 'vaapi':
        return ['-rc_mode', 'CQP', '-qp', v];
      default:
        return ['-q:v', v];
    }
  }
  const bufsize = fmtNum(rate.value * 2);
  switch (fam) {
    case 'svtav1':
      return ['-b:v', v]; // SVT-AV1 (FFmpeg 5.1) switches to VBR on -b:v; maxrate needs capped CRF
    case 'aom':
      return ['-b:v', v];
    case 'vaapi':
      return ['-rc_mode', 'VBR', '-b:v', v, '-maxrate', v];
    default:
      return ['-b:v', v, '-maxrate', v, '-bufsize', bufsize];
  }
}

/** Arguments placed before the input, needed by some hardware encoders. */
export function hwInitArgs(encoder: string): string[] {
  if (encoderFamily(encoder) === 'vaapi') return ['-vaapi_device', '/dev/dri/renderD128'];
  return [];
}

/** Last filters of each rung's chain: pixel format the encoder takes (and upload for VAAPI). */
export function pixelTail(encoder: string): string {
  switch (encoderFamily(encoder)) {
    case 'vaapi':
      return 'format=nv12,hwupload';
    case 'qsv':
      return 'format=nv12';
    default:
      return 'format=yuv420p';
  }
}

/** `{ 'x264-params': 'keyint=60' }` → ['-x264-params', 'keyint=60']; keys checked. */
export function encoderOptionArgs(options: Record<string, string> | undefined): string[] {
  const out: string[] = [];
  for (const [rawKey, value] of Object.entries(options ?? {})) {
    const key = rawKey.replace(/^-/, '');
    if (!/^[A-Za-z0-9_][A-Za-z0-9_:.-]*$/.test(key)) {
      throw new InputError(`encoder option "${rawKey}" is not a valid FFmpeg option name`, {
        field: 'encoderOptions',
        fix: 'use names like "tune" or "x264-params" (letters, digits, _ - : .)',
      });
    }
    out.push(`-${key}`, String(value));
  }
  return out;
}

/** Input arguments: lavfi test source, looped file, or an override URL. */
export function inputArgs(
  scenario: Scenario,
  opts: Pick<EncodeArgsOptions, 'input' | 'realtime' | 'totalMediaS'>,
): string[] {
  const re = opts.realtime ? ['-re'] : [];
  if (opts.input !== undefined) {
    // Live: a stalled source must not hang the encode forever (µs), and probing must not
    // buffer FFmpeg's default 5 s of stream before encoding starts (it would then burst).
    const live = /^rtmps?:\/\//.test(opts.input) ? ['-rw_timeout', '15000000', '-analyzeduration', '500000'] : [];
    return [...re, ...live, '-i', opts.input];
  }
  const input = scenario.input;
  if (input.kind === 'synthetic') {
    const src = `${input.source}=size=${size(input.resolution)}:rate=${fmtNum(input.fps)}:duration=${fmtNum(opts.totalMediaS)}`;
    return [...re, '-f', 'lavfi', '-i', src];
  }
  return [...re, '-stream_loop', '-1', '-i', input.path];
}

/** The filter graph: split the source once per rung, scale (and re-time) each. */
export function ladderFilter(scenario: Scenario, encoder: string): string {
  const n = scenario.outputs.length;
  const chains = scenario.outputs.map((rung, i) => {
    const parts = [`scale=${rung.resolution.width}:${rung.resolution.height}`];
    if (rung.fps !== scenario.input.fps) parts.push(`fps=${fmtNum(rung.fps)}`);
    parts.push(pixelTail(encoder));
    return `${n > 1 ? `[s${i}]` : '[0:v]'}${parts.join(',')}[o${i}]`;
  });
  if (n === 1) return chains[0];
  const labels = scenario.outputs.map((_, i) => `[s${i}]`).join('');
  return [`[0:v]split=${n}${labels}`, ...chains].join(';');
}

/**
 * Seconds between FFmpeg progress blocks while the measured window waits for the end of the
 * warm-up: the window opens on the first block past it, so this is the resolution of its opening.
 */
export const WARMUP_PROGRESS_PERIOD_S = 0.05;
/**
 * Seconds between progress blocks of a scenario without warm-up (FFmpeg's own default): its window
 * opens when the encoders start and closes when they exit, so no block marks an edge; blocks only
 * feed the progress display and metrics, and each one wakes the measuring process (bench/overhead.ts).
 */
export const DISPLAY_PROGRESS_PERIOD_S = 0.5;

/** The `-stats_period` of a scenario's encoders (see the two periods above). */
export function progressPeriodS(scenario: Pick<Scenario, 'warmupS'>): number {
  return scenario.warmupS > 0 ? WARMUP_PROGRESS_PERIOD_S : DISPLAY_PROGRESS_PERIOD_S;
}

/** The full argv (without the ffmpeg binary) for one stream of a cell. */
export function buildEncodeArgs(scenario: Scenario, encoder: string, opts: EncodeArgsOptions): string[] {
  if (scenario.outputs.length === 0) {
    throw new InputError(`scenario "${scenario.label}" has no outputs`, {
      field: 'outputs',
      fix: 'give at least one ladder rung',
    });
  }
  if (opts.outputs.length !== scenario.outputs.length) {
    throw new InputError(
      `scenario "${scenario.label}" has ${scenario.outputs.length} ladder rungs but ${opts.outputs.length} output paths were given`,
      { field: 'outputs', fix: 'pass one output path per ladder rung' },
    );
  }
  if (!(opts.totalMediaS > 0)) {
    throw new InputError(`totalMediaS must be positive, got ${opts.totalMediaS}`, { field: 'duration_s' });
  }
  const bounded = opts.input !== undefined || scenario.input.kind === 'file';
  const preset = presetArgs(encoder, scenario.preset);
  const extra = encoderOptionArgs(scenario.encoderOptions);
  // -stats_period 0.05 with a warm-up: progress every 50 ms, so the measured window opens within
  // 50 ms of its end even for encodes that run many times faster than real time.
  const args = [
    '-hide_banner',
    '-nostats',
    '-stats_period',
    String(progressPeriodS(scenario)),
    '-y',
    '-progress',
    'pipe:1',
    ...hwInitArgs(encoder),
    ...inputArgs(scenario, opts),
  ];
  args.push('-filter_complex', ladderFilter(scenario, encoder));
  scenario.outputs.forEach((rung, i) => {
    args.push(
      '-map',
      `[o${i}]`,
      '-c:v',
      encoder,
      ...preset,
      ...rateArgs(encoder, rung.rate ?? scenario.rate),
      ...extra,
      '-an',
    );
    if (bounded) args.push('-t', fmtNum(opts.totalMediaS));
    args.push('-metadata', `comment=ffwatt stream ${opts.streamIndex} rung ${i}`, opts.outputs[i]);
  });
  return args;
}

/**
 * Live mode, before the cell: renders the scenario's source once to an FLV file
 * (H.264, near-lossless, a keyframe every second) that the publishers then send with
 * `-c copy`, so publishing costs almost no CPU inside the measured window.
 */
export function buildLiveSourceArgs(scenario: Scenario, path: string, seconds: number): string[] {
  const gop = String(Math.max(1, Math.round(scenario.input.fps)));
  const args = ['-hide_banner', '-nostats', '-nostdin', '-y', ...inputArgs(scenario, { totalMediaS: seconds })];
  args.push('-map', '0:v', '-vf', 'format=yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '12');
  args.push('-g', gop, '-bf', '0', '-an');
  if (scenario.input.kind === 'file') args.push('-t', fmtNum(seconds));
  args.push('-f', 'flv', path);
  return args;
}

/** Live-mode publisher: sends a rendered source file to `url` in real time, without re-encoding. */
export function buildPublishArgs(sourcePath: string, url: string): string[] {
  return ['-hide_banner', '-nostats', '-re', '-i', sourcePath, '-map', '0:v', '-c', 'copy', '-f', 'flv', url];
}
