/**
 * One cell of the matrix: `scenario.streams` concurrent encodes of warm-up + measured
 * media seconds each, with the measured window opening once every stream is past the
 * warm-up and closing when the last stream ends. File mode encodes the source
 * directly; live mode publishes it in real time to nginx-rtmp and encodes a pulled copy.
 * FFmpeg failures come back as `ok: false` with exit code and stderr tail, never thrown.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../core/types.ts';
import { buildEncodeArgs, buildLiveSourceArgs, buildPublishArgs } from './ffmpeg-args.ts';
import { defaultFfmpegPath } from './encoders.ts';
import { ProgressParser, type ProgressSample } from './progress.ts';
import { runProcess, startProcess, type ProcessResult, type RunningProcess } from '../runner/index.ts';
import { startRtmpServer, type RtmpServer } from './rtmp.ts';
import { parseInputStartS } from './input-start.ts';

export interface CellOptions {
  /** Outputs go here, as s<stream>-r<rung>.mkv (kept for quality scoring). */
  workDir: string;
  ffmpegPath?: string;
  signal?: AbortSignal;
  onProgress?: (stream: number, sample: ProgressSample) => void;
  /** Called synchronously the moment the measured window opens. */
  onWindowOpen?: () => void;
  /** Called synchronously the moment the window closes (last encoder exited), before publishers are stopped. */
  onWindowClose?: () => void;
  /** Live mode: the RTMP server to publish through; without one the cell starts (and stops) its own. */
  rtmp?: RtmpServer;
  /** Live mode: ms to wait for each published stream to appear. Default 15000. */
  publishTimeoutMs?: number;
}

export interface StreamOutcome {
  /** The encoding ffmpeg's argv (the puller's in live mode). */
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
  outputs: Array<{ rung: number; path: string; bytes: number }>;
  atWindowOpen: ProgressSample | null;
  final: ProgressSample | null;
  /** Live mode: the real-time publisher feeding this stream. */
  publisher?: { argv: string[]; exitCode: number | null; signal: string | null; stderrTail: string };
  /**
   * Live mode: seconds into `liveSourcePath` where the puller's output starts. nginx-rtmp hands a late
   * subscriber the publisher's own timestamps, so the puller's input start time is that offset.
   * null when the puller never reported its input.
   */
  sourceOffsetS?: number | null;
}

export interface CellResult {
  ok: boolean;
  /** True when the cell was stopped through the AbortSignal. */
  aborted: boolean;
  streams: StreamOutcome[];
  /** Wall seconds (monotonic) from window open to the end of the last stream; 0 if it never opened. */
  windowS: number;
  /**
   * Sum over streams of the main rung's frames encoded inside the window × its frame duration
   * (1 / rung fps): 120 frames at 30 fps are 4.000 s. Not FFmpeg's out_time, the last frame's
   * start, which is one frame short (3.967 s).
   */
  mediaSecondsInWindow: number;
  /** Sum over streams of frames encoded inside the window (main rung). */
  framesInWindow: number;
  /** Bytes of every output file of every stream (whole files, warm-up included). */
  outputBytes: number;
  /** Mean over streams of the main rung's bitrate (file bytes × 8 / (its frames × frame duration)), null if unknown. */
  bitrateBps: number | null;
  /** Frames per wall second inside the window, per stream (mean). */
  fps: number | null;
  /** Media seconds per wall second inside the window, per stream (mean); ≥ 1 keeps up with real time. */
  speed: number | null;
  droppedFrames: number;
  dupFrames: number;
  error: string | null;
  /** Exit code, signal and stderr tail of the first failed stream (else stream 0), for the run record. */
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
  /** Live mode: the rendered source the publishers sent (the reference for live outputs). */
  liveSourcePath?: string;
  /** Every argv run by the cell (encoders, then publishers in live mode), for provenance. */
  argv: string[][];
  /**
   * Validity notes: `window-opened-after-stream-end` (a stream finished before all were past
   * the warm-up: too short or too fast for the window), `live-behind-realtime` (live encode
   * slower than 0.95× real time).
   */
  flags: string[];
}

interface StreamState {
  index: number;
  argv: string[];
  outputs: string[];
  parser: ProgressParser;
  proc: RunningProcess | null;
  result: ProcessResult | null;
  latest: ProgressSample | null;
  atOpen: ProgressSample | null;
  publisher: RunningProcess | null;
  publisherResult: ProcessResult | null;
  /** Set when the stream failed before its encoder started (e.g. never published). */
  setupError: string | null;
  /** The head of the encoder's stderr, up to its input description (live: the input start time). */
  stderrHead: string;
}

export function outputExtension(): string {
  return 'mkv'; // takes every codec here, and stays readable if a run is cut short
}

/** Extra media seconds the publisher sends beyond what the puller keeps, so the puller ends on its own -t. */
const PUBLISH_MARGIN_S = 5;
/** 'q', then SIGTERM, then SIGKILL, this far apart: slow encoders flushing their lookahead must not delay a cancel. */
const STOP_GRACE_MS = 1500;

/** Bytes of an encoder's stderr kept from its start: the input description comes first. */
const STDERR_HEAD_BYTES = 32 * 1024;

let cellCounter = 0;

export async function runEncodeCell(scenario: Scenario, encoder: string, opts: CellOptions): Promise<CellResult> {
  const ffmpeg = opts.ffmpegPath ?? defaultFfmpegPath();
  const totalMediaS = scenario.warmupS + scenario.durationS;
  const live = scenario.mode === 'live';
  mkdirSync(opts.workDir, { recursive: true });

  // Stops everything: external abort, or one stream failing (the cell has failed anyway).
  const stopAll = new AbortController();
  const onExternalAbort = () => stopAll.abort();
  opts.signal?.addEventListener('abort', onExternalAbort, { once: true });

  let rtmp = opts.rtmp;
  let ownRtmp: RtmpServer | null = null;
  const liveSource = join(opts.workDir, 'live-source.flv');
  const tag = `${process.pid}-${Date.now().toString(36)}-${++cellCounter}`;
  const streamName = (i: number) => `ffwatt-${tag}-s${i}`;

  const states: StreamState[] = Array.from({ length: scenario.streams }, (_, i) => {
    const outputs = scenario.outputs.map((_, r) => join(opts.workDir, `s${i}-r${r}.${outputExtension()}`));
    return {
      index: i,
      outputs,
      argv: [], // filled below: building may throw InputError before anything runs
      parser: new ProgressParser(),
      proc: null,
      result: null,
      latest: null,
      atOpen: null,
      publisher: null,
      publisherResult: null,
      setupError: null,
      stderrHead: '',
    };
  });
  const argvFor = (s: StreamState, input?: string) => [
    ffmpeg,
    ...buildEncodeArgs(scenario, encoder, { outputs: s.outputs, totalMediaS, streamIndex: s.index, input }),
  ];
  // Built before anything starts: bad input (options, presets) throws here. Live mode rebuilds with the URL.
  for (const s of states) s.argv = argvFor(s, live ? 'rtmp://127.0.0.1/live/placeholder' : undefined);

  let windowOpenAt: number | null = null;
  const maybeOpenWindow = () => {
    if (windowOpenAt !== null) return;
    if (scenario.warmupS > 0 && !states.every((s) => s.latest !== null && s.latest.outTimeS >= scenario.warmupS))
      return;
    windowOpenAt = performance.now();
    for (const s of states) s.atOpen = s.latest;
    opts.onWindowOpen?.();
  };

  const startEncoder = (s: StreamState) => {
    s.proc = startProcess(s.argv[0], s.argv.slice(1), {
      signal: stopAll.signal,
      stopWith: 'q',
      graceMs: STOP_GRACE_MS,
      onStderr: (chunk) => {
        if (s.stderrHead.length < STDERR_HEAD_BYTES) s.stderrHead += chunk.toString('utf8');
      },
      onStdout: (chunk) => {
        for (const sample of s.parser.push(chunk)) {
          s.latest = sample;
          opts.onProgress?.(s.index, sample);
          maybeOpenWindow();
        }
      },
    });
    void s.proc.done.then((r) => {
      for (const sample of s.parser.finish()) s.latest = sample;
      s.result = r;
      if (!r.ok) stopAll.abort(); // one failed stream fails the cell: stop the others now
    });
  };

  try {
    if (live) {
      if (!rtmp) {
        ownRtmp = await startRtmpServer({ workDir: join(opts.workDir, 'rtmp') });
        rtmp = ownRtmp;
      }
      const server = rtmp;
      // Rendered once, outside the window; publishers only copy it (see buildLiveSourceArgs).
      const source = liveSource;
      const render = await runProcess(ffmpeg, buildLiveSourceArgs(scenario, source, totalMediaS + PUBLISH_MARGIN_S), {
        signal: stopAll.signal,
        nothrow: true,
      });
      if (!render.ok) {
        for (const s of states) s.setupError = `rendering the live source failed: ${render.message}`;
        stopAll.abort();
      }
      for (const s of stopAll.signal.aborted ? [] : states) {
        const url = server.url(streamName(s.index));
        s.argv = argvFor(s, url);
        const pubArgs = buildPublishArgs(source, url);
        s.publisher = startProcess(ffmpeg, pubArgs, { signal: stopAll.signal, stopWith: 'q', graceMs: STOP_GRACE_MS });
        void s.publisher.done.then((r) => {
          s.publisherResult = r;
          if (!r.ok && !r.stopped) stopAll.abort();
        });
      }
      // Pullers start only once their stream is live (an early puller finds no stream).
      await Promise.all(
        states.map(async (s) => {
          if (stopAll.signal.aborted) return;
          try {
            await server.waitPublishing(streamName(s.index), opts.publishTimeoutMs ?? 15_000, stopAll.signal);
          } catch (err) {
            if (!stopAll.signal.aborted)
              s.setupError = `stream ${s.index} never showed as publishing: ${(err as Error).message}`;
            stopAll.abort();
          }
        }),
      );
      if (!stopAll.signal.aborted) states.forEach(startEncoder);
    } else {
      states.forEach(startEncoder);
    }
    if (!stopAll.signal.aborted) maybeOpenWindow();

    await Promise.all(states.map((s) => s.proc?.done));
    const closeAt = performance.now();
    if (windowOpenAt !== null) opts.onWindowClose?.();
    // The publishers sent a margin beyond what the pullers kept: stop them now.
    await Promise.all(states.map((s) => s.publisher?.stop()));
    const result = summarize(
      scenario,
      states,
      windowOpenAt === null ? 0 : (closeAt - windowOpenAt) / 1000,
      opts.signal?.aborted ?? false,
    );
    if (live) result.liveSourcePath = liveSource;
    return result;
  } finally {
    opts.signal?.removeEventListener('abort', onExternalAbort);
    stopAll.abort();
    await Promise.all(states.flatMap((s) => [s.proc?.done, s.publisher?.done]));
    if (ownRtmp) await ownRtmp.stop();
  }
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function streamError(s: StreamState): string | null {
  if (s.setupError) return s.setupError;
  const r = s.result;
  if (r && !r.ok && !r.stopped) return `stream ${s.index}: ${r.message}`;
  const p = s.publisherResult;
  if (p && !p.ok && !p.stopped) return `stream ${s.index} publisher: ${p.message}`;
  return null;
}

/** The stderr that explains a stream's failure (setup, encoder, then publisher), else the encoder's. */
function tailOf(s: StreamState): string {
  if (s.setupError) return s.setupError;
  if (s.result && !s.result.ok) return s.result.stderrTail;
  const p = s.publisherResult;
  if (p && !p.ok && !p.stopped) return p.stderrTail;
  return s.result?.stderrTail ?? '';
}

function summarize(scenario: Scenario, states: StreamState[], windowS: number, aborted: boolean): CellResult {
  const streams: StreamOutcome[] = states.map((s) => {
    const out: StreamOutcome = {
      argv: s.argv,
      exitCode: s.result?.exitCode ?? null,
      signal: s.result?.signal ?? null,
      stderrTail: s.result?.stderrTail ?? '',
      outputs: s.outputs.map((path, rung) => ({ rung, path, bytes: fileBytes(path) })),
      atWindowOpen: s.atOpen,
      final: s.latest,
    };
    if (s.publisher) {
      const p = s.publisherResult;
      out.publisher = {
        argv: s.publisher.argv,
        exitCode: p?.exitCode ?? null,
        signal: p?.signal ?? null,
        stderrTail: p?.stderrTail ?? '',
      };
      out.sourceOffsetS = parseInputStartS(s.stderrHead);
    }
    return out;
  });
  const opened = windowS > 0 || states.some((s) => s.atOpen !== null);
  // FFmpeg's progress `frame` counts the first output's frames: the main rung's.
  const frameS = 1 / scenario.outputs[0].fps;
  let media = 0;
  let frames = 0;
  let dropped = 0;
  let dup = 0;
  for (const s of states) {
    if (!opened || !s.latest) continue;
    const streamFrames = Math.max(0, s.latest.frame - (s.atOpen?.frame ?? 0));
    frames += streamFrames;
    media += streamFrames * frameS;
    dropped += Math.max(0, s.latest.dropFrames - (s.atOpen?.dropFrames ?? 0));
    dup += Math.max(0, s.latest.dupFrames - (s.atOpen?.dupFrames ?? 0));
  }
  const rates = streams
    .filter((s) => s.final && s.final.frame > 0 && s.outputs[0].bytes > 0)
    .map((s) => (s.outputs[0].bytes * 8) / (s.final!.frame * frameS));
  const errors = states.map(streamError).filter((e): e is string => e !== null);
  const allOk = states.every((s) => s.result?.ok === true) && errors.length === 0;
  const ok = allOk && !aborted;
  const n = scenario.streams;
  const speed = windowS > 0 ? media / windowS / n : null;
  const flags: string[] = [];
  if (states.some((s) => s.atOpen?.end)) flags.push('window-opened-after-stream-end');
  if (scenario.mode === 'live' && speed !== null && speed < 0.95) flags.push('live-behind-realtime');
  const failed = states.find((s) => streamError(s) !== null) ?? states[0];
  return {
    ok,
    aborted,
    streams,
    windowS,
    mediaSecondsInWindow: media,
    framesInWindow: frames,
    outputBytes: streams.reduce((a, s) => a + s.outputs.reduce((b, o) => b + o.bytes, 0), 0),
    bitrateBps: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    fps: windowS > 0 ? frames / windowS / n : null,
    speed,
    droppedFrames: dropped,
    dupFrames: dup,
    error: ok ? null : aborted ? 'aborted' : (errors[0] ?? 'a stream did not finish'),
    exitCode: failed.result?.exitCode ?? null,
    signal: failed.result?.signal ?? null,
    stderrTail: tailOf(failed),
    argv: [...streams.map((s) => s.argv), ...streams.flatMap((s) => (s.publisher ? [s.publisher.argv] : []))],
    flags,
  };
}
