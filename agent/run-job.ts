import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FfwattEvent, RunEnergy, RunRecord } from '../core/types.ts';
import type { Logger } from '../core/log.ts';
import { computeRunEnergy, jobTreeEstimateZone, type Sampler } from '../energy/index.ts';
import { explainNet, type MeasuredIdle } from '../energy/idle.ts';
import { ProcTreeMonitor, type ProcTreeUsage } from '../energy/proctree.ts';
import { runEncodeCell, type CellResult } from '../media/cell.ts';
import type { EncoderReport } from '../media/encoders.ts';
import type { RtmpServer } from '../media/rtmp.ts';
import { scoreOutputs } from '../quality/index.ts';
import type { ClaimedJob } from './client.ts';
import { inputHash, type HostFacts } from './host-facts.ts';
import { runFlags } from './flags.ts';

/** How often the job's process tree is read during the window (peak memory; see bench/overhead.ts). */
export const TREE_SAMPLE_MS = 2000;

export interface JobContext {
  nodeId: string;
  sampler: Sampler;
  encoders: EncoderReport;
  host: HostFacts;
  workDir: string;
  /**
   * Idle baseline of this node for the job's campaign: a function is called after the cooldown
   * (the baseline is taken on a settled machine, never right after another job's encode or
   * quality scoring); null: none, net figures stay null. A baseline that is not clean gives the
   * run no net figure and the flag idle-baseline-dirty.
   */
  idle: ((signal?: AbortSignal) => Promise<MeasuredIdle | null>) | MeasuredIdle | null;
  ffmpegPath?: string;
  /** FFmpeg used for quality scoring (VMAF needs a libvmaf build); defaults to ffmpegPath. */
  qualityFfmpegPath?: string;
  vmafModel?: string | null;
  /** Skip quality scoring (e.g. benchmarks); quality stays null. */
  skipQuality?: boolean;
  keepOutputs?: boolean;
  rtmp?: () => Promise<RtmpServer>;
  signal?: AbortSignal;
  onEvent?: (ev: FfwattEvent) => void;
  log: Logger;
  /** W per busy core when the CPU energy is the estimate: the job's own share is reported as a component zone. */
  estimateWattsPerCore?: number | null;
  /** Resource use of the job's process tree over the measured window (for the exporter). */
  onResources?: (jobId: string, usage: ProcTreeUsage) => void;
  /** Sleep used for cooldowns; injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  /** Fleet agents: file inputs must lie under this folder (relative paths start here). */
  mediaDir?: string;
}

/** The job's work folder: removed after the job whatever its end (and swept at agent start). */
export function jobWorkDir(root: string, job: { id: string; attempts: number }): string {
  return join(root, `${job.id}-${job.attempts}`);
}

/**
 * Runs one job (runJobOnce) under its deadline, with a file input confined to the media folder,
 * and removes its work folder afterwards, also when it failed, was canceled or threw.
 */
export async function runJob(job: ClaimedJob, ctx: JobContext): Promise<RunRecord> {
  const refused = ctx.mediaDir !== undefined ? mediaRefusal(job, ctx.mediaDir) : null;
  if (refused)
    return finish(baseRecord(job, ctx, new Date(), 'none', null), process.hrtime.bigint(), {
      status: 'failed',
      error: refused,
    });
  const input = job.scenario.input;
  const confined =
    input.kind === 'file' && ctx.mediaDir !== undefined
      ? { ...job, scenario: { ...job.scenario, input: { ...input, path: resolve(ctx.mediaDir, input.path) } } }
      : job;
  const deadline = new AbortController();
  const timer = job.deadlineS > 0 ? setTimeout(() => deadline.abort(), job.deadlineS * 1000) : undefined;
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline.signal]) : deadline.signal;
  try {
    const record = await runJobOnce(confined, { ...ctx, signal });
    if (deadline.signal.aborted && !ctx.signal?.aborted && record.status !== 'succeeded') {
      return {
        ...record,
        status: 'failed',
        error: `job deadline of ${job.deadlineS} s exceeded: FFmpeg stopped (${record.error ?? 'no error'})`,
      };
    }
    return record;
  } finally {
    clearTimeout(timer);
    if (!ctx.keepOutputs) rmSync(jobWorkDir(ctx.workDir, job), { recursive: true, force: true });
  }
}

/** Why a file input may not be read on this node (outside the media folder), or null. */
function mediaRefusal(job: ClaimedJob, mediaDir: string): string | null {
  const input = job.scenario.input;
  if (input.kind !== 'file') return null;
  const fix = `put the file under this agent's --media-dir ${mediaDir} and name it relative to that folder in input.source`;
  let real: string;
  let root: string;
  try {
    root = realpathSync(mediaDir);
    real = realpathSync(resolve(mediaDir, input.path));
  } catch (err) {
    return `input ${input.path} is not readable under the media folder ${mediaDir}: ${(err as Error).message}; ${fix}`;
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
    return `input ${input.path} resolves to ${real}, outside the media folder ${root}; ${fix}`;
  return null;
}

/**
 * Runs one claimed job on this node: cooldown, the encode cell with its measured window,
 * energy over that window, quality after it, and the run record with provenance and flags.
 * FFmpeg failures become a failed record; they never throw.
 */
async function runJobOnce(job: ClaimedJob, ctx: JobContext): Promise<RunRecord> {
  const s = job.scenario;
  const emit = ctx.onEvent ?? (() => {});
  const doSleep = ctx.sleep ?? ((ms: number, signal?: AbortSignal) => sleep(ms, undefined, { signal }));
  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  const workDir = jobWorkDir(ctx.workDir, job);
  mkdirSync(workDir, { recursive: true });

  // Hashed once per file (cached by path, size and mtime), before the cooldown lets the machine settle.
  const hash = await inputHash(s.input).catch(() => null);
  if (job.cooldownS > 0) {
    emit({ kind: 'job', jobId: job.id, scenario: s, repetition: job.repetition, phase: 'cooldown' });
    await doSleep(job.cooldownS * 1000, ctx.signal).catch(() => {});
  }

  const encoder = s.encoder ?? ctx.encoders.codecMap[s.codec];
  const base = baseRecord(job, ctx, startedAt, encoder ?? 'none', hash);
  if (!encoder || !ctx.encoders.usable.includes(encoder)) {
    return finish(base, t0, {
      status: 'failed',
      error: `no usable encoder for ${s.encoder ?? s.codec} on ${ctx.nodeId} (usable: ${ctx.encoders.usable.join(', ') || 'none'})`,
    });
  }

  let idle: MeasuredIdle | null;
  try {
    idle = typeof ctx.idle === 'function' ? await ctx.idle(ctx.signal) : ctx.idle;
  } catch (err) {
    const canceled = ctx.signal?.aborted ?? false;
    return finish(base, t0, {
      status: canceled ? 'canceled' : 'failed',
      error: canceled ? 'canceled' : `idle baseline failed: ${(err as Error).message}`,
    });
  }

  const preflightBefore = ctx.host.preflight();
  emit({ kind: 'job', jobId: job.id, scenario: s, repetition: job.repetition, phase: 'warmup' });
  let openMark: ReturnType<Sampler['mark']> | null = null;
  let closeMark: ReturnType<Sampler['mark']> | null = null;
  // The agent's own process tree holds every FFmpeg (and nginx) of the job: CPU time outside it
  // during the window is other load on the machine (noisy neighbour).
  const tree = new ProcTreeMonitor(process.pid);
  let treeTimer: NodeJS.Timeout | undefined;
  const rtmp = s.mode === 'live' && ctx.rtmp ? await ctx.rtmp() : undefined;
  let cell: CellResult;
  try {
    cell = await runEncodeCell(s, encoder, {
      workDir,
      ffmpegPath: ctx.ffmpegPath,
      signal: ctx.signal,
      rtmp,
      onWindowOpen: () => {
        openMark = ctx.sampler.mark();
        tree.sample();
        // CPU and I/O counters are cumulative (edges suffice); the periodic sample only keeps the
        // peak memory. Each sample walks /proc (~5 ms of CPU), so it stays rare: measured overhead.
        treeTimer = setInterval(() => tree.sample(), TREE_SAMPLE_MS);
        emit({ kind: 'job', jobId: job.id, scenario: s, repetition: job.repetition, phase: 'measure' });
      },
      // The window closes when the last encoder exits, before the cell's own cleanup.
      onWindowClose: () => {
        closeMark = ctx.sampler.mark();
      },
      onProgress: (stream, p) =>
        emit({
          kind: 'progress',
          jobId: job.id,
          stream,
          frame: p.frame,
          fps: p.fps,
          speed: p.speed,
          outTimeS: p.outTimeS,
          bitrateBps: p.bitrateBps,
        }),
    });
  } catch (err) {
    clearInterval(treeTimer);
    return finish(base, t0, {
      status: ctx.signal?.aborted ? 'canceled' : 'failed',
      error: `encode cell crashed: ${(err as Error).message}`,
    });
  }
  closeMark ??= ctx.sampler.mark();
  const preflightAfter = ctx.host.preflight();
  clearInterval(treeTimer);
  tree.sample();
  const usage = tree.usage();
  ctx.onResources?.(job.id, usage);

  const argv = cell.streams.map((st) => st.argv);
  base.provenance.argv = argv;
  const firstFailure = cell.streams.find((st) => st.exitCode !== 0);
  const media = {
    mediaSeconds: cell.mediaSecondsInWindow,
    frames: cell.framesInWindow,
    outputBytes: cell.outputBytes,
    bitrateBps: cell.bitrateBps,
    fps: cell.fps,
    speed: cell.speed,
    droppedFrames: cell.droppedFrames,
    dupFrames: cell.dupFrames,
  };
  if (!cell.ok || !openMark) {
    const canceled = ctx.signal?.aborted ?? false;
    return finish(base, t0, {
      ...media,
      status: canceled ? 'canceled' : 'failed',
      exitCode: firstFailure?.exitCode ?? null,
      signal: firstFailure?.signal ?? null,
      stderrTail: firstFailure?.stderrTail ?? cell.streams[0]?.stderrTail ?? '',
      error: canceled
        ? 'canceled'
        : (cell.error ??
          (openMark ? 'encode failed' : 'the measured window never opened (no stream passed its warm-up)')),
    });
  }

  const window = ctx.sampler.window(openMark, closeMark!);
  const rung = s.outputs[0];
  const megapixels = (cell.framesInWindow * rung.resolution.width * rung.resolution.height) / 1e6;
  let energy: RunEnergy;
  try {
    // A dirty baseline is recorded but never subtracted: the run keeps gross figures only.
    energy = computeRunEnergy(window, idle?.info.clean ? idle.baseline : null, {
      mediaSeconds: cell.mediaSecondsInWindow,
      frames: cell.framesInWindow,
      megapixels,
    });
  } catch (err) {
    // A meter that stopped answering mid-window: the run is failed, never stored with a short sum.
    return finish(base, t0, {
      ...media,
      status: 'failed',
      exitCode: 0,
      error: `energy of the measured window is incomplete: ${(err as Error).message}`,
    });
  }
  energy.baseline = idle?.info ?? null;
  energy.netExplanation = explainNet(energy, energy.baseline);
  if (ctx.estimateWattsPerCore)
    energy.zones.push(jobTreeEstimateZone(usage.cpuSeconds, ctx.estimateWattsPerCore, window.seconds));

  // Quality is scored after the measured window closed, so it never counts in the job's energy.
  let quality: RunRecord['quality'] = null;
  let qualityFailed = false;
  if (!ctx.skipQuality) {
    emit({ kind: 'job', jobId: job.id, scenario: s, repetition: job.repetition, phase: 'quality' });
    try {
      const st = cell.streams[0];
      // Live outputs start wherever the puller joined: compare them with the part of the published
      // source they show (offset from the stream timestamps, checked by frame matching).
      const liveSource = s.mode === 'live' ? cell.liveSourcePath : undefined;
      quality = await scoreOutputs({
        reference: liveSource
          ? { kind: 'file', path: liveSource, fps: s.input.fps, resolution: s.input.resolution }
          : s.input,
        referenceDurationS: s.warmupS + s.durationS,
        outputs: st.outputs.map((o) => ({
          rung: o.rung,
          path: o.path,
          fps: s.outputs[o.rung].fps,
          resolution: s.outputs[o.rung].resolution,
          ...(liveSource
            ? {
                referenceOffsetS: st.sourceOffsetS ?? null,
                referenceOffsetOrigin: 'rtmp stream timestamps (puller input start)',
                verifyReferenceOffset: true,
              }
            : {}),
        })),
        // The encoding FFmpeg renders the reference; a separate quality FFmpeg (libvmaf) only scores.
        ffmpegPath: ctx.ffmpegPath,
        qualityFfmpegPath: ctx.qualityFfmpegPath,
        vmafModel: ctx.vmafModel ?? null,
        log: ctx.log,
        workDir,
      });
    } catch (err) {
      qualityFailed = true;
      ctx.log.warn(`quality scoring failed for job ${job.id}: ${(err as Error).message}`);
    }
  }

  const flags = [
    ...cell.flags,
    ...runFlags({
      energy,
      windowS: window.seconds,
      usage,
      before: preflightBefore,
      after: preflightAfter,
      hybridMaster: ctx.host.hybridMaster,
      droppedFrames: cell.droppedFrames,
      mode: s.mode,
    }),
    ...(qualityFailed ? ['quality_failed'] : []),
  ];
  const record = finish(base, t0, {
    ...media,
    status: 'succeeded',
    exitCode: 0,
    stderrTail: '',
    energy,
    quality,
    flags,
  });
  if (!ctx.keepOutputs) rmSync(workDir, { recursive: true, force: true });
  emit({ kind: 'job', jobId: job.id, scenario: s, repetition: job.repetition, phase: 'done' });
  return record;
}

function baseRecord(
  job: ClaimedJob,
  ctx: JobContext,
  startedAt: Date,
  encoder: string,
  hash: string | null,
): RunRecord {
  const s = job.scenario;
  const preflight = ctx.host.preflight();
  return {
    jobId: job.id,
    attempt: job.attempts,
    nodeId: ctx.nodeId,
    status: 'failed',
    exitCode: null,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: startedAt.toISOString(),
    endedAt: startedAt.toISOString(),
    wallS: 0,
    mediaSeconds: 0,
    frames: 0,
    outputBytes: 0,
    bitrateBps: null,
    fps: null,
    speed: null,
    droppedFrames: 0,
    dupFrames: 0,
    energy: null,
    quality: null,
    flags: [],
    provenance: {
      ffmpegVersion: ctx.encoders.ffmpegVersion,
      ffmpegBuildconfHash: ctx.encoders.buildconfHash,
      argv: [],
      inputDescription: describeInput(s.input),
      inputHash: hash,
      kernel: ctx.host.kernel,
      cpuModel: ctx.host.cpuModel,
      cores: ctx.host.cores,
      gpu: ctx.host.gpu,
      hardwareClass: ctx.host.hardwareClass,
      governor: preflight.governor,
      turbo: preflight.turbo,
      meters: ctx.host.meters,
      encoder,
      hybridMaster: ctx.host.hybridMaster || undefined,
    },
  };
}

function finish(base: RunRecord, t0: bigint, patch: Partial<RunRecord>): RunRecord {
  return {
    ...base,
    ...patch,
    endedAt: new Date().toISOString(),
    wallS: Number(process.hrtime.bigint() - t0) / 1e9,
  };
}

export function describeInput(input: ClaimedJob['scenario']['input']): string {
  const size = `${input.resolution.width}x${input.resolution.height}@${input.fps}`;
  return input.kind === 'synthetic' ? `lavfi ${input.source} ${size}` : `file ${input.path} ${size}`;
}
