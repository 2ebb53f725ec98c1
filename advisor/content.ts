// Content complexity of a source: spatial information (SI) and temporal information (TI).
//
// Method `siti`: FFmpeg's `siti` filter (ITU-T P.910 SI/TI: standard deviation of the
// Sobel-filtered luma, and of the luma difference between frames); we keep the average
// over the analysed frames. FFmpeg 5.1 has it.
// Method `proxy` (FFmpeg without `siti`): SI ≈ mean luma of the Sobel-filtered frame,
// TI ≈ mean absolute luma difference to the previous frame (signalstats YDIF). Means
// instead of standard deviations: the proxy ranks content the same way but its numbers
// are on another scale, so the method is recorded in the feature spec and a model is
// only used with figures measured by the same method.
//
// Results are cached per input description (memory, and a JSON file when given).

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { InputSpec } from '../core/types.ts';
import { InputError, RunError } from '../core/errors.ts';
import { runProcess } from '../runner/index.ts';

/** Runs one analysis FFmpeg to the end; its whole stdout and stderr, or a RunError carrying the stderr tail. */
async function run(ffmpeg: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const stderr: Buffer[] = [];
  const r = await runProcess(ffmpeg, args, {
    captureStdout: true,
    stdin: 'ignore',
    onStderr: (c) => stderr.push(c),
    nothrow: true,
  });
  if (!r.ok) throw new RunError(`content analysis failed: ${r.message}`, r);
  return { stdout: r.stdout, stderr: Buffer.concat(stderr).toString('utf8') };
}

export type ContentMethod = 'siti' | 'proxy';

export interface ContentComplexity {
  si: number;
  ti: number;
  method: ContentMethod;
  /** Frames analysed. */
  frames: number;
  input: string;
}

export interface ContentOptions {
  ffmpeg?: string;
  /** Seconds of the source analysed (default 3). */
  seconds?: number;
  /** Default: `siti` when this FFmpeg has the filter, else `proxy`. */
  method?: ContentMethod;
  /** JSON file that keeps measurements between runs. */
  cacheFile?: string;
}

/** A stable description of a source: what the cache is keyed on. */
export function describeInput(input: InputSpec): string {
  const r = `${input.resolution.width}x${input.resolution.height}@${input.fps}`;
  if (input.kind === 'synthetic') return `${input.source} ${r}`;
  let stamp = 'missing';
  if (existsSync(input.path)) {
    const st = statSync(input.path);
    stamp = `${st.size}b ${Math.round(st.mtimeMs)}`;
  }
  return `file:${input.path} ${r} (${stamp})`;
}

const memory = new Map<string, ContentComplexity>();
const sitiSupport = new Map<string, boolean>();

export async function hasSitiFilter(ffmpeg = 'ffmpeg'): Promise<boolean> {
  const known = sitiSupport.get(ffmpeg);
  if (known !== undefined) return known;
  const { stdout } = await run(ffmpeg, ['-hide_banner', '-filters']);
  const has = /^\s*\S+\s+siti\s/m.test(stdout);
  sitiSupport.set(ffmpeg, has);
  return has;
}

function inputArgs(input: InputSpec, seconds: number): string[] {
  if (input.kind === 'synthetic') {
    const { width, height } = input.resolution;
    return ['-f', 'lavfi', '-i', `${input.source}=s=${width}x${height}:r=${input.fps}:d=${seconds}`];
  }
  if (!existsSync(input.path)) {
    throw new InputError(`input file '${input.path}' does not exist`, {
      field: 'input',
      fix: 'give an existing video file or a synthetic source (testsrc2)',
    });
  }
  return ['-t', String(seconds), '-i', input.path];
}

/** Parses the summary the `siti` filter prints with print_summary=1. */
export function parseSitiSummary(stderr: string): { si: number; ti: number; frames: number } {
  const frames = Number(/Total frames:\s*(\d+)/.exec(stderr)?.[1]);
  const si = Number(/Spatial Information:\s*Average:\s*([\d.]+)/.exec(stderr)?.[1]);
  const ti = Number(/Temporal Information:\s*Average:\s*([\d.]+)/.exec(stderr)?.[1]);
  if (!Number.isFinite(si) || !Number.isFinite(ti) || !(frames > 0)) {
    throw new RunError(`could not read the siti summary from ffmpeg's output: ${stderr.slice(-400)}`);
  }
  return { si, ti, frames };
}

function meanOfKey(text: string, key: string, skipFirst: boolean): { mean: number; n: number } {
  const vals = [...text.matchAll(new RegExp(`${key.replace(/\./g, '\\.')}=([\\d.]+)`, 'g'))].map((m) => Number(m[1]));
  const used = skipFirst ? vals.slice(1) : vals;
  if (used.length === 0) throw new RunError(`no ${key} values in ffmpeg's metadata output`);
  return { mean: used.reduce((a, b) => a + b, 0) / used.length, n: vals.length };
}

async function measureSiti(ffmpeg: string, input: InputSpec, seconds: number) {
  const args = [
    '-hide_banner',
    '-nostats',
    ...inputArgs(input, seconds),
    '-vf',
    'siti=print_summary=1',
    '-f',
    'null',
    '-',
  ];
  const { stderr } = await run(ffmpeg, args);
  return parseSitiSummary(stderr);
}

async function measureProxy(ffmpeg: string, input: InputSpec, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-content-'));
  try {
    const siFile = join(dir, 'si.txt');
    const tiFile = join(dir, 'ti.txt');
    const graph =
      `[0:v]format=gray,split[a][b];` +
      `[a]sobel,signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=${siFile}[ao];` +
      `[b]signalstats,metadata=mode=print:key=lavfi.signalstats.YDIF:file=${tiFile}[bo]`;
    const args = [
      '-hide_banner',
      '-nostats',
      ...inputArgs(input, seconds),
      '-filter_complex',
      graph,
      '-map',
      '[ao]',
      '-f',
      'null',
      '-',
      '-map',
      '[bo]',
      '-f',
      'null',
      '-',
    ];
    await run(ffmpeg, args);
    const si = meanOfKey(readFileSync(siFile, 'utf8'), 'lavfi.signalstats.YAVG', false);
    // The first frame has no predecessor: its YDIF is 0 by definition, not a measurement.
    const ti = meanOfKey(readFileSync(tiFile, 'utf8'), 'lavfi.signalstats.YDIF', true);
    return { si: si.mean, ti: ti.mean, frames: si.n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readCache(file: string | undefined): Record<string, ContentComplexity> {
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, ContentComplexity>;
  } catch {
    return {}; // a damaged cache is only lost time: measure again and rewrite it
  }
}

/** Measures (or recalls) SI/TI of a source. */
export async function measureContent(input: InputSpec, opts: ContentOptions = {}): Promise<ContentComplexity> {
  const ffmpeg = opts.ffmpeg ?? 'ffmpeg';
  const seconds = opts.seconds ?? 3;
  const method = opts.method ?? ((await hasSitiFilter(ffmpeg)) ? 'siti' : 'proxy');
  const key = `${method} ${seconds}s ${describeInput(input)}`;
  const cached = memory.get(key) ?? readCache(opts.cacheFile)[key];
  if (cached) {
    memory.set(key, cached);
    return cached;
  }
  const m = method === 'siti' ? await measureSiti(ffmpeg, input, seconds) : await measureProxy(ffmpeg, input, seconds);
  const result: ContentComplexity = { ...m, method, input: describeInput(input) };
  memory.set(key, result);
  if (opts.cacheFile) {
    const all = readCache(opts.cacheFile);
    all[key] = result;
    mkdirSync(dirname(opts.cacheFile), { recursive: true });
    writeFileSync(opts.cacheFile, JSON.stringify(all, null, 2) + '\n');
  }
  return result;
}

/** Parses a content argument from the command line: `testsrc2`, `smptehdbars` or a file path. */
export function contentInputFromArg(arg: string, width: number, height: number, fps: number): InputSpec {
  const resolution = { width, height };
  if (arg === 'testsrc2' || arg === 'smptehdbars') return { kind: 'synthetic', source: arg, resolution, fps };
  return { kind: 'file', path: arg, resolution, fps };
}
