// The FFmpeg that scores quality: what it can do (libvmaf and its generation), probed once per binary
// and process, and a runner that turns a failure into an error carrying the stderr tail.
import { execFile } from 'node:child_process';
import { InputError, RunError } from '../core/errors.ts';

export interface ScoringFfmpeg {
  path: string;
  /** First line of `ffmpeg -version` after "ffmpeg version", e.g. "5.1.9-0+deb12u1". */
  version: string;
  hasLibvmaf: boolean;
  /** 1: libvmaf 1.x (`model_path`, .pkl models); 2: libvmaf 2.x (`model`, .json models); null: no libvmaf. */
  libvmafGeneration: 1 | 2 | null;
}

export interface ProcessResult {
  stdout: string;
  stderr: string;
}

const STDERR_TAIL = 2000;

export function runProcess(file: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return reject(
            new InputError(`ffmpeg binary "${file}" not found`, {
              field: 'qualityFfmpegPath',
              fix: 'install ffmpeg or point --quality-ffmpeg / FFWATT_QUALITY_FFMPEG at an ffmpeg binary',
            }),
          );
        }
        const tail = String(stderr).slice(-STDERR_TAIL).trim();
        const how = (err as { killed?: boolean }).killed ? 'was killed (timeout)' : `exited with ${String(code ?? (err as { signal?: string }).signal)}`;
        reject(new RunError(`${file} ${how}: ${tail || err.message}`, err));
      },
    );
  });
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
  const version = versionFromBanner((await runProcess(path, ['-hide_banner', '-version'], { timeoutMs: 30_000 })).stdout);
  const filters = await runProcess(path, ['-hide_banner', '-filters'], { timeoutMs: 30_000 });
  const hasLibvmaf = listsLibvmaf(filters.stdout);
  let libvmafGeneration: 1 | 2 | null = null;
  if (hasLibvmaf) {
    const help = await runProcess(path, ['-hide_banner', '-h', 'filter=libvmaf'], { timeoutMs: 30_000 });
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
