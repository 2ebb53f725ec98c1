// Where in the reference a live output starts. A live puller joins a stream that is already running,
// so its first frame shows the source some seconds in. nginx-rtmp passes the publisher's timestamps
// to a late subscriber (its first packet keeps the source time), so the puller's input start time is
// that offset; media's `parseInputStartS` reads it from the puller's stderr. Frame matching checks (or, with
// no hint, finds) the offset: the first output frames, shrunk to small grey images, are compared with
// every reference frame in a window around the hint.
import { InputError, RunError } from '../core/errors.ts';
import { formatRate, referenceInputArgs, type ReferenceSource } from './graph.ts';
import { runQualityProcessBinary } from './ffmpeg.ts';

/** Size of the grey thumbnails compared: cheap, yet fine enough to tell neighbouring frames of moving content apart. */
export const MATCH_SIZE = { width: 64, height: 48 } as const;
/** Output frames compared per candidate offset. */
export const MATCH_FRAMES = 25;
/** Seconds searched either side of a given offset when checking it. */
export const VERIFY_WINDOW_S = 2;
/** A given offset is replaced only when another offset matches this many dB better (static content ties). */
export const REPLACE_MARGIN_DB = 1;
const MATCH_PSNR_CAP_DB = 100;

export interface OffsetAlignment {
  /** Reference seconds shown by the output's first frame (a whole reference frame). */
  offsetS: number;
  /** 'given': the given offset, confirmed by frame matching; 'frame-match': found by frame matching. */
  method: 'given' | 'frame-match';
  givenS: number | null;
  /** Mean PSNR (dB) of the matched thumbnails at offsetS, and at the given offset. */
  matchPsnrDb: number;
  givenPsnrDb: number | null;
  /** Best PSNR among offsets at least one second away from offsetS: how distinct the match is. */
  runnerUpPsnrDb: number | null;
  framesMatched: number;
  /** Reference seconds searched, [from, to]. */
  searchedS: [number, number];
}

export interface AlignOptions {
  /** The encoding FFmpeg: the reference it regenerates is the one its encoder got. */
  ffmpegPath: string;
  /** The reference (durationS of a synthetic one is ignored: the search decides how much to generate). */
  reference: ReferenceSource;
  /** Seconds of reference available to search when no offset is given (synthetic references need it). */
  referenceDurationS?: number;
  output: string;
  /** The output's frame rate: its frames are matched at that rate (a halved rate would otherwise tie two offsets). */
  outputFps?: number;
  /** The offset to check; null: search the whole reference. */
  givenS: number | null;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Raw grey thumbnails from one FFmpeg run (through the process registry: Ctrl-C stops it). */
async function decodeGrey(
  ffmpeg: string,
  args: string[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  try {
    return await runQualityProcessBinary(ffmpeg, args, { timeoutMs, signal, role: 'encoding' });
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new RunError(`frame matching: ${(err as Error).message}`, err);
  }
}

function thumbnails(rate: string): string {
  return `fps=fps=${rate},scale=${MATCH_SIZE.width}:${MATCH_SIZE.height}:flags=area,format=gray`;
}

/** Mean over frames of the mean squared difference, as PSNR (8-bit, capped); output frame k meets reference frame refFrame + steps[k]. */
function psnrAt(out: Buffer, steps: number[], ref: Buffer, refFrame: number): number {
  const px = MATCH_SIZE.width * MATCH_SIZE.height;
  let sum = 0;
  for (let k = 0; k < steps.length; k++) {
    const o = k * px;
    const r = (refFrame + steps[k]) * px;
    for (let i = 0; i < px; i++) {
      const d = out[o + i] - ref[r + i];
      sum += d * d;
    }
  }
  const mse = sum / (steps.length * px);
  return mse === 0 ? MATCH_PSNR_CAP_DB : Math.min(MATCH_PSNR_CAP_DB, 10 * Math.log10((255 * 255) / mse));
}

/** Checks a given offset, or finds one, by comparing the output's first frames with the reference's. */
export async function alignToReference(opts: AlignOptions): Promise<OffsetAlignment> {
  const { reference } = opts;
  const rate = formatRate(reference.fps);
  const fps = reference.fps;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const px = MATCH_SIZE.width * MATCH_SIZE.height;

  const outFps = opts.outputFps ?? fps;
  const out = await decodeGrey(
    opts.ffmpegPath,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-i',
      opts.output,
      '-vf',
      `settb=AVTB,setpts=PTS-STARTPTS,${thumbnails(formatRate(outFps))}`,
      '-frames:v',
      String(MATCH_FRAMES),
      '-f',
      'rawvideo',
      '-',
    ],
    timeoutMs,
    opts.signal,
  );
  const outFrames = Math.floor(out.length / px);
  if (outFrames === 0) throw new RunError(`frame matching: no frames decoded from ${opts.output}`);
  const steps = Array.from({ length: outFrames }, (_, k) => Math.round((k * fps) / outFps));
  const span = steps[outFrames - 1] + 1;

  if (opts.givenS !== null && !(opts.givenS >= 0)) {
    throw new InputError(`reference offset must be a non-negative number of seconds, got ${opts.givenS}`, {
      field: 'referenceOffsetS',
    });
  }
  const given = opts.givenS === null ? null : Math.round(opts.givenS * fps);
  const window = Math.round(VERIFY_WINDOW_S * fps);
  const first = given === null ? 0 : Math.max(0, given - window);
  // Reference frames decoded: every candidate start within the window, plus the span the output frames cover.
  let count: number | null = given === null ? null : given + window - first + span;
  const src: ReferenceSource = { ...reference, startS: undefined };
  if (src.kind === 'synthetic') {
    const total = count === null ? opts.referenceDurationS : (first + count) / fps;
    if (total === undefined) {
      throw new InputError('frame matching over a synthetic reference needs its duration', {
        field: 'referenceDurationS',
      });
    }
    src.durationS = Number(total.toFixed(6));
    count ??= Math.round(total * fps);
  }
  const trim = `trim=start_frame=${first}${count === null ? '' : `:end_frame=${first + count}`}`;
  const ref = await decodeGrey(
    opts.ffmpegPath,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      ...referenceInputArgs(src),
      '-vf',
      `settb=AVTB,setpts=PTS-STARTPTS,fps=fps=${rate},${trim},${thumbnails(rate)}`,
      '-f',
      'rawvideo',
      '-',
    ],
    timeoutMs,
    opts.signal,
  );
  const refFrames = Math.floor(ref.length / px);
  const candidates = refFrames - span + 1;
  if (candidates < 1) {
    throw new RunError(
      `frame matching: the reference has ${refFrames} frames from ${first / fps} s, fewer than the ${span} that ${outFrames} output frames span`,
    );
  }

  const scores = new Float64Array(candidates);
  let best = 0;
  for (let c = 0; c < candidates; c++) {
    scores[c] = psnrAt(out, steps, ref, c);
    if (scores[c] > scores[best]) best = c;
  }
  let runnerUp: number | null = null;
  for (let c = 0; c < candidates; c++) {
    if (Math.abs(c - best) >= fps && (runnerUp === null || scores[c] > runnerUp)) runnerUp = scores[c];
  }
  const givenIdx = given === null ? -1 : given - first;
  const givenPsnr = givenIdx >= 0 && givenIdx < candidates ? scores[givenIdx] : null;
  const keepGiven = givenPsnr !== null && scores[best] - givenPsnr <= REPLACE_MARGIN_DB;
  const chosen = keepGiven ? givenIdx : best;
  return {
    offsetS: (first + chosen) / fps,
    method: keepGiven ? 'given' : 'frame-match',
    givenS: opts.givenS,
    matchPsnrDb: scores[chosen],
    givenPsnrDb: givenPsnr,
    runnerUpPsnrDb: runnerUp,
    framesMatched: outFrames,
    searchedS: [first / fps, (first + candidates - 1) / fps],
  };
}
