// Quality of each output rung against its reference: PSNR and SSIM always, VMAF where the scoring
// FFmpeg has libvmaf and a model is configured. Runs after the measured window (never in a job's energy).
// The reference is always rendered (synthetic) or decoded (file) by the encoding FFmpeg and piped to
// the scoring FFmpeg as raw frames: what the encoder got, whichever FFmpeg scores.
import { mkdir, readFile, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { FrameScoreSummary, InputSpec, QualityResult, Resolution } from '../core/types.ts';
import { InputError, RunError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import {
  buildComparison,
  buildReferenceRender,
  formatRate,
  SCALERS,
  type ReferenceSource,
  type Scaler,
  type VmafSetup,
} from './graph.ts';
import { probeScoringFfmpeg, runQualityPipeline, type ScoringFfmpeg } from './ffmpeg.ts';
import { defaultFfmpegPath } from '../media/index.ts';
import { parsePsnrLog, parseSsimLog, parseVmafJson } from './logs.ts';
import { summarizeFrames } from './summary.ts';
import {
  alignToReference,
  MATCH_FRAMES,
  MATCH_SIZE,
  REPLACE_MARGIN_DB,
  VERIFY_WINDOW_S,
  type OffsetAlignment,
} from './align.ts';

/**
 * Identical frames give PSNR = inf. Like x264's PSNR we cap at 100 dB (libvmaf's own psnr feature caps
 * lower, at 60 dB for 8-bit); results with a capped frame carry `psnrCapped: true`.
 */
export const PSNR_CAP_DB = 100;
export const VMAF_MODEL_ENV = 'FFWATT_VMAF_MODEL';
export const QUALITY_FFMPEG_ENV = 'FFWATT_QUALITY_FFMPEG';

export interface QualityOutputInput {
  rung: number;
  path: string;
  fps: number;
  resolution: Resolution;
  /**
   * Reference seconds shown by this output's first frame: a live puller joins late. Default 0.
   * null: unknown, found by frame matching over the whole reference.
   */
  referenceOffsetS?: number | null;
  /** Where referenceOffsetS came from, for the recipe (e.g. "rtmp stream timestamps"). */
  referenceOffsetOrigin?: string;
  /** Check referenceOffsetS by frame matching; a clearly better match elsewhere replaces it. */
  verifyReferenceOffset?: boolean;
}

export interface ScoreOutputsOptions {
  reference: InputSpec | { kind: 'file'; path: string; fps: number; resolution: Resolution };
  /** Seconds of a synthetic reference to generate; without it the comparison ends with the output. */
  referenceDurationS?: number;
  outputs: QualityOutputInput[];
  /**
   * The encoding FFmpeg (default: FFWATT_FFMPEG, else `ffmpeg`): it renders the reference for every
   * comparison and finds live offsets, and it also scores unless `qualityFfmpegPath` (or
   * FFWATT_QUALITY_FFMPEG) names another.
   */
  ffmpegPath?: string;
  /** A separate scoring FFmpeg, e.g. one built with libvmaf. */
  qualityFfmpegPath?: string;
  /** VMAF model file; undefined: take FFWATT_VMAF_MODEL; null: none (VMAF skipped). */
  vmafModel?: string | null;
  scale?: Scaler;
  /** Pixel format both sides are converted to before comparing. */
  pixFmt?: string;
  log?: Logger;
  /** Scratch folder for the per-frame logs (one sub-folder per rung). */
  workDir: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Reasons already logged; defaults to one set per process so each reason is said once. */
  notices?: Set<string>;
  /** Aborting stops the scoring FFmpeg processes; the call then fails. */
  signal?: AbortSignal;
}

/** Fields beyond QualityResult's (optional there, always set here). */
export interface ScoredOutput {
  rung: number;
  psnrY: number | null;
  psnrAvg: number | null;
  ssim: number | null;
  vmaf: FrameScoreSummary | null;
  psnrFrames: FrameScoreSummary | null;
  ssimFrames: FrameScoreSummary | null;
  /** Mean SSIM of the luma plane (`ssim` is the all-planes figure). */
  ssimY: number | null;
  /** True when at least one frame's PSNR was inf or above PSNR_CAP_DB and was capped. */
  psnrCapped: boolean;
  /** Frames compared (at the reference frame rate). */
  frames: number;
  /** Reference seconds the comparison started at (0 unless the output joined late). */
  referenceOffsetS: number;
  /** How referenceOffsetS was checked or found by frame matching; null when taken as given. */
  alignment: OffsetAlignment | null;
}

export interface ScoredQuality extends QualityResult {
  outputs: ScoredOutput[];
}

const processNotices = new Set<string>();

function noticeOnce(log: Logger, notices: Set<string>, message: string): void {
  if (notices.has(message)) return;
  notices.add(message);
  log.warn(message);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function toReferenceSource(opts: ScoreOutputsOptions, startS = 0): ReferenceSource {
  const ref = opts.reference;
  const start = startS > 0 ? { startS } : {};
  if (ref.kind === 'synthetic') {
    // A late start needs that much more of the source generated.
    const durationS =
      opts.referenceDurationS === undefined ? undefined : Number((opts.referenceDurationS + startS).toFixed(6));
    return { kind: 'synthetic', source: ref.source, resolution: ref.resolution, fps: ref.fps, durationS, ...start };
  }
  return { kind: 'file', path: path.resolve(ref.path), resolution: ref.resolution, fps: ref.fps, ...start };
}

/** The reference offset to compare an output at: as given, or checked/found by frame matching. */
async function resolveOffset(
  opts: ScoreOutputsOptions,
  output: QualityOutputInput,
  encodingFfmpegPath: string,
  log: Logger,
): Promise<{ offsetS: number; alignment: OffsetAlignment | null }> {
  const given = output.referenceOffsetS === undefined ? 0 : output.referenceOffsetS;
  if (given !== null && !(given >= 0 && Number.isFinite(given))) {
    throw new InputError(
      `reference offset of rung ${output.rung} must be a non-negative number of seconds, got ${given}`,
      {
        field: 'referenceOffsetS',
      },
    );
  }
  if (given !== null && !output.verifyReferenceOffset) return { offsetS: given, alignment: null };
  try {
    // The encoding FFmpeg matches frames: its reference is the one the encoder got.
    const alignment = await alignToReference({
      ffmpegPath: encodingFfmpegPath,
      reference: toReferenceSource(opts),
      referenceDurationS: opts.referenceDurationS,
      output: path.resolve(output.path),
      outputFps: output.fps,
      givenS: given,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
    return { offsetS: alignment.offsetS, alignment };
  } catch (err) {
    if (given === null || err instanceof InputError) throw err;
    // The check failed (e.g. too few frames to match): the given offset is still the best we know.
    log.warn(
      `quality: could not check the reference offset of rung ${output.rung} by frame matching; using the given ${given} s: ${(err as Error).message}`,
    );
    return { offsetS: given, alignment: null };
  }
}

function describeReference(ref: ReferenceSource, renderer: ScoringFfmpeg, pixFmt: string): string {
  const shape = `${ref.resolution.width}x${ref.resolution.height}@${formatRate(ref.fps)}`;
  const what =
    ref.kind === 'file'
      ? `file ${ref.path} ${shape}, decoded`
      : `lavfi ${ref.source} ${shape}, rendered${ref.durationS !== undefined ? ` for ${ref.durationS} s` : ''}`;
  return `${what} by the encoding ffmpeg (${renderer.path}, version ${renderer.version}) and piped to the scoring ffmpeg as raw ${pixFmt} frames (NUT)`;
}

type VmafPlan = { setup: VmafSetup; format: 'pkl' | 'json' } | { skipped: string };

/** Decides whether VMAF runs and with which model file, following the ffmpeg's libvmaf generation. */
export async function planVmaf(ffmpeg: ScoringFfmpeg, model: string | null, log: Logger): Promise<VmafPlan> {
  if (!ffmpeg.hasLibvmaf) {
    return {
      skipped: `VMAF skipped: this ffmpeg (${ffmpeg.path}, version ${ffmpeg.version}) has no libvmaf; set --quality-ffmpeg or ${QUALITY_FFMPEG_ENV} to a VMAF-capable ffmpeg`,
    };
  }
  if (ffmpeg.libvmafGeneration === null) {
    return {
      skipped: `VMAF skipped: cannot tell the libvmaf version of ${ffmpeg.path} (its libvmaf filter has neither a model nor a model_path option)`,
    };
  }
  if (!model) return { skipped: `VMAF skipped: no VMAF model configured: pass --vmaf-model or ${VMAF_MODEL_ENV}` };

  const modelPath = path.resolve(model);
  if (!(await exists(modelPath))) {
    throw new InputError(`VMAF model ${modelPath} does not exist or is not readable`, {
      field: 'vmafModel',
      fix: `pass --vmaf-model or ${VMAF_MODEL_ENV} pointing at a vmaf_v0.6.1.pkl (libvmaf 1.x) or .json (libvmaf 2.x) model`,
    });
  }
  const wanted = ffmpeg.libvmafGeneration === 1 ? 'pkl' : 'json';
  const ext = path.extname(modelPath).slice(1);
  let chosen = modelPath;
  if (ext !== wanted) {
    const sibling = modelPath.slice(0, modelPath.length - path.extname(modelPath).length) + '.' + wanted;
    if (!(await exists(sibling))) {
      throw new InputError(
        `VMAF model ${modelPath} is a .${ext} file but the libvmaf ${ffmpeg.libvmafGeneration}.x in ${ffmpeg.path} reads .${wanted} models, and ${sibling} does not exist`,
        { field: 'vmafModel', fix: `pass the .${wanted} version of the model` },
      );
    }
    log.info(
      `VMAF model: using ${sibling} (the .${wanted} twin of ${modelPath}) for libvmaf ${ffmpeg.libvmafGeneration}.x`,
    );
    chosen = sibling;
  }
  if (wanted === 'pkl' && !(await exists(chosen + '.model'))) {
    throw new InputError(`VMAF model ${chosen} needs ${chosen}.model beside it (libvmaf 1.x reads both)`, {
      field: 'vmafModel',
      fix: 'keep the .pkl and its .pkl.model in one folder',
    });
  }
  return { setup: { generation: ffmpeg.libvmafGeneration, modelPath: chosen }, format: wanted };
}

/** A binary named with a folder (`./ffmpeg`, `bin/ffmpeg`) made absolute; a bare name stays for the PATH search. */
function binaryPath(file: string): string {
  return file.includes('/') ? path.resolve(file) : file;
}

function cappedPsnr(value: number): { value: number; capped: boolean } {
  return value > PSNR_CAP_DB ? { value: PSNR_CAP_DB, capped: true } : { value, capped: false };
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export async function scoreOutputs(opts: ScoreOutputsOptions): Promise<ScoredQuality> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? silentLogger;
  const notices = opts.notices ?? processNotices;
  const scaler = opts.scale ?? 'bicubic';
  if (!SCALERS.includes(scaler)) {
    throw new InputError(`unknown scaler "${scaler}"`, { field: 'scale', fix: `use one of ${SCALERS.join(', ')}` });
  }
  const pixFmt = opts.pixFmt ?? 'yuv420p';
  if (opts.outputs.length === 0) throw new InputError('no outputs to score', { field: 'outputs' });

  // Comparisons run in each rung's folder: a relative binary path must not change meaning there.
  const encodingPath = binaryPath(opts.ffmpegPath ?? defaultFfmpegPath());
  const ffmpegPath = binaryPath(opts.qualityFfmpegPath ?? env[QUALITY_FFMPEG_ENV] ?? encodingPath);
  const ffmpeg = await probeScoringFfmpeg(ffmpegPath);
  const renderer = await probeScoringFfmpeg(encodingPath).catch((err: unknown) => {
    throw err instanceof InputError
      ? new InputError(`the encoding ffmpeg "${encodingPath}", which renders the quality reference, was not found`, {
          field: 'ffmpegPath',
          fix: 'point --ffmpeg / FFWATT_FFMPEG at the ffmpeg that encodes',
        })
      : err;
  });
  const model = opts.vmafModel === undefined ? env[VMAF_MODEL_ENV] || null : opts.vmafModel;
  const vmafPlan = await planVmaf(ffmpeg, model, log);
  const vmaf = 'setup' in vmafPlan ? vmafPlan.setup : null;
  if ('skipped' in vmafPlan) noticeOnce(log, notices, vmafPlan.skipped);

  const reference = toReferenceSource(opts);
  const comparisons: Array<{
    rung: number;
    output: string;
    filterGraph: string;
    argv: string[];
    /** The encoding FFmpeg's argv that rendered the reference into the comparison's stdin. */
    referenceArgv: string[];
    referenceOffsetS?: number;
    referenceOffsetOrigin?: string;
    alignment?: OffsetAlignment;
  }> = [];
  const scored: ScoredOutput[] = [];
  let libvmafVersion: string | null = null;

  for (const output of opts.outputs) {
    const distortedPath = path.resolve(output.path);
    if (!(await exists(distortedPath)))
      throw new RunError(`quality: output of rung ${output.rung} not found at ${distortedPath}`);
    const dir = path.join(path.resolve(opts.workDir), `rung-${output.rung}`);
    await mkdir(dir, { recursive: true });
    const logs = { psnr: 'psnr.log', ssim: 'ssim.log', vmaf: 'vmaf.json' };
    const { offsetS, alignment } = await resolveOffset(opts, output, renderer.path, log);
    if (alignment?.method === 'frame-match' && alignment.givenS !== null) {
      log.warn(
        `quality: rung ${output.rung} matched the reference at ${alignment.offsetS} s, not at the given ${alignment.givenS} s`,
        {
          matchPsnrDb: alignment.matchPsnrDb,
          givenPsnrDb: alignment.givenPsnrDb,
        },
      );
    }
    const comparedReference = toReferenceSource(opts, offsetS);
    const render = buildReferenceRender(comparedReference, pixFmt);
    const command = buildComparison({
      reference: comparedReference,
      distorted: { path: distortedPath, fps: output.fps, resolution: output.resolution },
      scaler,
      pixFmt,
      logs,
      vmaf,
      referenceOnStdin: true,
    });
    comparisons.push({
      rung: output.rung,
      output: distortedPath,
      filterGraph: command.filterGraph,
      argv: [ffmpeg.path, ...command.args],
      referenceArgv: [renderer.path, ...render],
      ...(offsetS > 0 || alignment ? { referenceOffsetS: offsetS } : {}),
      ...(output.referenceOffsetOrigin ? { referenceOffsetOrigin: output.referenceOffsetOrigin } : {}),
      ...(alignment ? { alignment } : {}),
    });
    log.debug('quality: comparing', { rung: output.rung, output: distortedPath });
    await runQualityPipeline(
      { file: renderer.path, args: render, role: 'encoding' },
      { file: ffmpeg.path, args: command.args, role: 'scoring' },
      { cwd: dir, timeoutMs: opts.timeoutMs, signal: opts.signal },
    );

    const psnr = parsePsnrLog(await readFile(path.join(dir, logs.psnr), 'utf8'), path.join(dir, logs.psnr));
    const ssim = parseSsimLog(await readFile(path.join(dir, logs.ssim), 'utf8'), path.join(dir, logs.ssim));
    if (psnr.length === 0)
      throw new RunError(
        `quality: no frames compared for rung ${output.rung} (${distortedPath}); is the output empty?`,
      );
    const y = psnr.map((f) => cappedPsnr(f.psnrY));
    const avg = psnr.map((f) => cappedPsnr(f.psnrAvg));
    const yValues = y.map((c) => c.value);

    let vmafSummary: FrameScoreSummary | null = null;
    if (vmaf) {
      const parsed = parseVmafJson(await readFile(path.join(dir, logs.vmaf), 'utf8'), path.join(dir, logs.vmaf));
      libvmafVersion = parsed.version;
      // libvmaf pools its harmonic mean as n / Σ 1/(x+1) − 1.
      vmafSummary = summarizeFrames(parsed.frames, { harmonicShift: 1 });
      if (parsed.frames.length !== psnr.length) {
        log.warn('quality: VMAF and PSNR compared different frame counts', {
          rung: output.rung,
          vmaf: parsed.frames.length,
          psnr: psnr.length,
        });
      }
    }
    if (ssim.length !== psnr.length) {
      log.warn('quality: SSIM and PSNR compared different frame counts', {
        rung: output.rung,
        ssim: ssim.length,
        psnr: psnr.length,
      });
    }
    scored.push({
      rung: output.rung,
      psnrY: mean(yValues),
      psnrAvg: mean(avg.map((c) => c.value)),
      ssim: ssim.length ? mean(ssim.map((f) => f.all)) : null,
      vmaf: vmafSummary,
      psnrFrames: summarizeFrames(yValues),
      ssimFrames: ssim.length ? summarizeFrames(ssim.map((f) => f.all)) : null,
      ssimY: ssim.length ? mean(ssim.map((f) => f.y)) : null,
      psnrCapped: y.some((c) => c.capped) || avg.some((c) => c.capped),
      frames: psnr.length,
      referenceOffsetS: offsetS,
      alignment,
    });
  }

  const result: ScoredQuality = {
    outputs: scored,
    recipe: {
      scoringFfmpeg: {
        path: ffmpeg.path,
        version: ffmpeg.version,
        libvmaf: ffmpeg.hasLibvmaf ? `${ffmpeg.libvmafGeneration}.x` : null,
      },
      reference: describeReference(reference, renderer, pixFmt),
      frameRate: formatRate(reference.fps),
      scaler,
      pixFmt,
      psnrCapDb: PSNR_CAP_DB,
      psnr: 'mean over frames of per-frame PSNR (Y, and the weighted average of Y/U/V), each capped at psnrCapDb',
      ssim: 'mean over frames of per-frame SSIM (All planes; ssimY: luma)',
      pooling:
        'per-frame summaries: mean, harmonic mean (VMAF: n/Σ1/(x+1)−1 as libvmaf), 1st percentile (linear interpolation), min',
      vmaf:
        vmaf && 'format' in vmafPlan
          ? {
              modelPath: vmaf.modelPath,
              modelFormat: vmafPlan.format,
              libvmafGeneration: vmaf.generation,
              libvmafVersion,
            }
          : null,
      comparisons,
      ...(comparisons.some((c) => c.referenceOffsetS !== undefined)
        ? {
            alignment:
              'an output that joined late (live) is compared from referenceOffsetS on (reference trimmed to that frame after the rate is fixed); ' +
              `the offset is checked by matching the first ${MATCH_FRAMES} output frames as ${MATCH_SIZE.width}x${MATCH_SIZE.height} grey thumbnails ` +
              `against reference frames within ±${VERIFY_WINDOW_S} s (whole reference when none is given) and replaced only when another offset matches > ${REPLACE_MARGIN_DB} dB better`,
          }
        : {}),
    },
  };
  if ('skipped' in vmafPlan) result.vmafSkippedReason = vmafPlan.skipped;
  return result;
}
