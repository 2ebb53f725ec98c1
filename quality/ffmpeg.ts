// The FFmpeg that scores quality: what it can do (libvmaf and its generation), probed once per binary
// and process, and runners (through runner/'s registry, so Ctrl-C stops them) that turn a
// failure into an error carrying the stderr tail.
import { InputError, RunError } from '../core/errors.ts';
import { startProcess, stoppingAllProcesses, type ProcessResult as ChildResult } from '../runner/index.ts';

export interface ScoringFfmpeg {
  path: string;
  /** First line of `ffmpeg -version` after "ffmpeg version", e.g. "5.1.9-0+deb12u1". */
  version: string;
  hasLibvmaf: boolean;
  /** 1: libvmaf 1.x (`model_path`, .pkl models); 2: libvmaf 2.x (`model`, .json models); null: no libvmaf. */
  libvmafGeneration: 1 | 2 | null;
}

export interface QualityProcessOutput {
  stdout: string;
  stderr: string;
}

export interface QualityProcessOptions {
  cwd?: string;
  /** Default 600 s; past it the process is stopped and the run fails naming the timeout. */
  timeoutMs?: number;
  /** Aborting stops the process; the call then fails. */
  signal?: AbortSignal;
  /** Which FFmpeg this is, for the error when the binary is missing. */
  role?: 'scoring' | 'encoding';
}

const STDERR_TAIL = 2000;
const DEFAULT_TIMEOUT_MS = 600_000;

function missingBinary(file: string, role: QualityProcessOptions['role']): InputError {
  return role === 'encoding'
    ? new InputError(`ffmpeg binary "${file}" (the encoding FFmpeg, which renders the quality reference) not found`, {
        field: 'ffmpegPath',
        fix: 'install ffmpeg or point --ffmpeg / FFWATT_FFMPEG at the ffmpeg that encodes',
      })
    : new InputError(`ffmpeg binary "${file}" not found`, {
        field: 'qualityFfmpegPath',
        fix: 'install ffmpeg or point --quality-ffmpeg / FFWATT_QUALITY_FFMPEG at an ffmpeg binary',
      });
}

/** Timeout and caller's abort as one signal. */
function stopSignal(opts: QualityProcessOptions): { signal: AbortSignal; timedOut: () => boolean } {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  return { signal, timedOut: () => timeout.aborted };
}

/** The error for a child that did not succeed: missing binary, timeout, cancel, or its exit with the stderr tail. */
function failure(r: ChildResult, opts: QualityProcessOptions, timedOut: boolean): Error {
  const file = r.argv[0];
  if (r.spawnError && /ENOENT/.test(r.spawnError)) return missingBinary(file, opts.role);
  const tail = r.stderrTail.slice(-STDERR_TAIL).trim();
  let how: string;
  if (timedOut) how = `was killed (timeout after ${(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s)`;
  else if (r.stopped) how = 'was stopped (canceled)';
  else if (stoppingAllProcesses()) how = 'was stopped (this program was interrupted)';
  else if (r.spawnError) how = `could not be started: ${r.spawnError}`;
  else how = `exited with ${r.signal ?? r.exitCode}`;
  return new RunError(`${file} ${how}${tail ? `: ${tail}` : ''}`, r);
}

/**
 * Runs one quality FFmpeg to the end through the runner's process registry (runner/) (Ctrl-C and
 * exit stop it with the rest). Fails with InputError for a missing binary, RunError otherwise.
 */
export async function runQualityProcess(
  file: string,
  args: string[],
  opts: QualityProcessOptions = {},
): Promise<QualityProcessOutput> {
  const stop = stopSignal(opts);
  const r = await startProcess(file, args, { cwd: opts.cwd, signal: stop.signal, captureStdout: true, tailBytes: 8192 })
    .done;
  if (!r.ok) throw failure(r, opts, stop.timedOut());
  return { stdout: r.stdout, stderr: r.stderrTail };
}

/** Runs one FFmpeg and keeps its binary stdout (e.g. raw thumbnails), through the process registry. */
export async function runQualityProcessBinary(
  file: string,
  args: string[],
  opts: QualityProcessOptions = {},
): Promise<Buffer> {
  const stop = stopSignal(opts);
  const chunks: Buffer[] = [];
  const r = await startProcess(file, args, {
    cwd: opts.cwd,
    signal: stop.signal,
    onStdout: (c) => chunks.push(c),
    tailBytes: 8192,
  }).done;
  if (!r.ok) throw failure(r, opts, stop.timedOut());
  return Buffer.concat(chunks);
}

/** A producer that stopped because its reader was done: killed by SIGPIPE, or FFmpeg reporting the broken pipe (Node's stdio pipes are socket pairs: "Connection reset by peer"). */
function endedByReader(r: ChildResult): boolean {
  return r.signal === 'SIGPIPE' || /Broken pipe|EPIPE|Connection reset by peer|ECONNRESET/i.test(r.stderrTail);
}

/**
 * `producer | consumer`, both through the process registry: the producer's stdout is the consumer's
 * stdin. The consumer decides when the pipeline is done (a comparison ends with the shorter input);
 * a producer cut off by that (broken pipe) is normal, any other producer failure fails the run.
 */
export async function runQualityPipeline(
  producer: { file: string; args: string[]; role?: QualityProcessOptions['role'] },
  consumer: { file: string; args: string[]; role?: QualityProcessOptions['role'] },
  opts: Omit<QualityProcessOptions, 'role'> = {},
): Promise<QualityProcessOutput> {
  const stop = stopSignal(opts);
  const first = startProcess(producer.file, producer.args, {
    cwd: opts.cwd,
    signal: stop.signal,
    pipeStdout: true,
    stdin: 'ignore',
    tailBytes: 8192,
  });
  if (!first.stdout) {
    const r = await first.done;
    throw failure(r, { ...opts, role: producer.role }, stop.timedOut());
  }
  const second = startProcess(consumer.file, consumer.args, {
    cwd: opts.cwd,
    signal: stop.signal,
    stdin: first.stdout,
    captureStdout: true,
    tailBytes: 8192,
  });
  // The consumer holds its own copy of the pipe; ours must close, or a producer whose reader is
  // gone would block on a full pipe instead of seeing the broken pipe.
  first.stdout.destroy();
  const consumed = await second.done;
  if (!consumed.ok) {
    first.stop().catch(() => {});
    const produced = await first.done;
    // An empty or broken reference stream fails the consumer: the producer's own error explains it.
    if (!produced.ok && !produced.stopped && !stoppingAllProcesses() && !endedByReader(produced))
      throw failure(produced, { ...opts, role: producer.role }, stop.timedOut());
    throw failure(consumed, { ...opts, role: consumer.role }, stop.timedOut());
  }
  const produced = await first.done;
  if (!produced.ok && !endedByReader(produced))
    throw failure(produced, { ...opts, role: producer.role }, stop.timedOut());
  return { stdout: consumed.stdout, stderr: consumed.stderrTail };
}

/** Parses `ffmpeg -hide_banner -filters`: is there a filter named libvmaf? */
export function listsLibvmaf(filtersOutput: string): boolean {
  return filtersOutput.split('\n').some((line) => line.trim().split(/\s+/)[1] === 'libvmaf');
}

/** Parses `ffmpeg -hide_banner -h filter=libvmaf`: 2.x has a `model` option, 1.x only `model_path`. */
export function libvmafGenerationFromHelp(helpOutput: string): 1 | 2 | null {
  if (/^\s+model\s+</m.test(helpOutput)) return 2;
  if (/^\s+model_path\s+</m.test(helpOutput)) return 1;
  return null;
}

export function versionFromBanner(versionOutput: string): string {
  const match = /^ffmpeg version (\S+)/m.exec(versionOutput);
  return match ? match[1] : 'unknown';
}

const probes = new Map<string, Promise<ScoringFfmpeg>>();

async function probe(path: string): Promise<ScoringFfmpeg> {
  const version = versionFromBanner(
    (await runQualityProcess(path, ['-hide_banner', '-version'], { timeoutMs: 30_000 })).stdout,
  );
  const filters = await runQualityProcess(path, ['-hide_banner', '-filters'], { timeoutMs: 30_000 });
  const hasLibvmaf = listsLibvmaf(filters.stdout);
  let libvmafGeneration: 1 | 2 | null = null;
  if (hasLibvmaf) {
    const help = await runQualityProcess(path, ['-hide_banner', '-h', 'filter=libvmaf'], { timeoutMs: 30_000 });
    libvmafGeneration = libvmafGenerationFromHelp(help.stdout);
  }
  return { path, version, hasLibvmaf, libvmafGeneration };
}

/** Probed once per binary path and process; a failed probe is not cached. */
export function probeScoringFfmpeg(path: string): Promise<ScoringFfmpeg> {
  let pending = probes.get(path);
  if (!pending) {
    pending = probe(path);
    probes.set(path, pending);
    pending.catch(() => probes.delete(path));
  }
  return pending;
}
