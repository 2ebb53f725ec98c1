/**
 * Which encoders this node can really use. `ffmpeg -encoders` lists what the build
 * knows (NVENC, QSV, VAAPI included, hardware or not); a 1-frame probe encode per
 * candidate decides what is usable. Codec → first usable encoder in preference order.
 */
import { createHash } from 'node:crypto';
import type { Codec } from '../core/types.ts';
import { CODECS } from '../core/types.ts';
import { RunError } from '../core/errors.ts';
import { ENCODER_PREFERENCE } from './presets.ts';
import { hwInitArgs, pixelTail } from './ffmpeg-args.ts';
import { runProcess, type ProcessResult } from '../runner/index.ts';

export interface EncoderReport {
  ffmpegPath: string;
  ffmpegVersion: string;
  /** SHA-256 (hex) of `ffmpeg -buildconf` output. */
  buildconfHash: string;
  /** Video encoders named by `ffmpeg -encoders`. */
  listed: string[];
  /** Candidates whose 1-frame probe encode succeeded. */
  usable: string[];
  /** Candidates that are not usable, each with why. */
  refused: Array<{ encoder: string; reason: string }>;
  codecMap: Partial<Record<Codec, string>>;
}

export function defaultFfmpegPath(): string {
  return process.env.FFWATT_FFMPEG || 'ffmpeg';
}

/** Video encoder names from `ffmpeg -encoders` output (lines like " V....D libx264  …"). */
export function parseEncoderList(text: string): string[] {
  const body = text.split(/\n\s*-{4,}\s*\n/)[1] ?? text;
  const names: string[] = [];
  for (const line of body.split('\n')) {
    const m = /^\s*([VAS][A-Z.]{5})\s+(\S+)/.exec(line);
    if (m && m[1].startsWith('V')) names.push(m[2]);
  }
  return names;
}

/** "ffmpeg version 5.1.9-0+deb12u1 Copyright …" → "5.1.9-0+deb12u1". */
export function parseFfmpegVersion(text: string): string {
  const m = /version\s+(\S+)/.exec(text);
  return m ? m[1] : 'unknown';
}

/** The argv (without binary) of a 1-frame probe encode to the null muxer. */
export function probeArgs(encoder: string): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-nostdin',
    '-loglevel',
    'error',
    ...hwInitArgs(encoder),
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=25',
    '-frames:v',
    '1',
    '-vf',
    pixelTail(encoder),
    '-c:v',
    encoder,
    '-f',
    'null',
    '-',
  ];
}

function refusalReason(r: ProcessResult): string {
  if (r.spawnError) return r.spawnError;
  if (r.stopped) return 'probe encode timed out';
  const lines = r.stderrTail
    .split('\n')
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/, ']').trim())
    .filter(Boolean);
  // The first error lines say why (e.g. "Cannot load libcuda.so.1"); the last ones are generic.
  const generic =
    /Error (initializing output stream|while opening encoder)|Conversion failed|Could not open encoder before EOF|Error sending frames|Terminating thread|Task finished with error|Nothing was written/;
  const specific = lines.filter((l) => !generic.test(l));
  const pick = (specific.length ? specific : lines).slice(0, 2).join(' | ');
  return pick || `probe encode exited with code ${r.exitCode ?? r.signal}`;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function detect(ffmpegPath: string): Promise<EncoderReport> {
  const run = (args: string[]) =>
    runProcess(ffmpegPath, args, { captureStdout: true, nothrow: true, signal: AbortSignal.timeout(30_000) });
  const versionRun = await run(['-hide_banner', '-version']);
  if (!versionRun.ok) {
    throw new RunError(
      `ffmpeg at "${ffmpegPath}" does not run (${versionRun.message}); install it (apt-get install ffmpeg) or set FFWATT_FFMPEG to its path`,
      versionRun,
    );
  }
  const [buildconf, encoders] = await Promise.all([
    run(['-hide_banner', '-buildconf']),
    run(['-hide_banner', '-encoders']),
  ]);
  if (!encoders.ok) throw new RunError(`"${ffmpegPath} -encoders" failed: ${encoders.message}`, encoders);

  const listed = parseEncoderList(encoders.stdout);
  const candidates = CODECS.flatMap((c) => ENCODER_PREFERENCE[c]);
  const refused: EncoderReport['refused'] = [];
  const toProbe = candidates.filter((e) => {
    if (listed.includes(e)) return true;
    refused.push({ encoder: e, reason: 'not listed by ffmpeg -encoders (not in this build)' });
    return false;
  });
  const results = await mapLimit(toProbe, 4, (e) =>
    runProcess(ffmpegPath, probeArgs(e), { nothrow: true, signal: AbortSignal.timeout(20_000), graceMs: 1000 }),
  );
  const usable: string[] = [];
  toProbe.forEach((e, i) => {
    if (results[i].ok) usable.push(e);
    else refused.push({ encoder: e, reason: refusalReason(results[i]) });
  });
  refused.sort((a, b) => candidates.indexOf(a.encoder) - candidates.indexOf(b.encoder));
  const codecMap: EncoderReport['codecMap'] = {};
  for (const c of CODECS) {
    const first = ENCODER_PREFERENCE[c].find((e) => usable.includes(e));
    if (first) codecMap[c] = first;
  }
  return {
    ffmpegPath,
    ffmpegVersion: parseFfmpegVersion(versionRun.stdout),
    buildconfHash: createHash('sha256').update(buildconf.stdout).digest('hex'),
    listed,
    usable,
    refused,
    codecMap,
  };
}

const cache = new Map<string, Promise<EncoderReport>>();

/** Detects usable encoders once per ffmpeg path in this process (failures are not cached). */
export function detectEncoders(opts: { ffmpegPath?: string } = {}): Promise<EncoderReport> {
  const path = opts.ffmpegPath ?? defaultFfmpegPath();
  let p = cache.get(path);
  if (!p) {
    p = detect(path);
    cache.set(path, p);
    p.catch(() => cache.delete(path));
  }
  return p;
}

/**
 * The encoder to run `codec` with on this node: the explicit one if usable, else the
 * codec's first usable encoder. Throws a RunError naming what was refused and why.
 */
export function resolveEncoder(report: EncoderReport, codec: Codec, explicit?: string): string {
  const why = (e: string) => report.refused.find((r) => r.encoder === e)?.reason ?? 'not a known encoder';
  if (explicit) {
    if (report.usable.includes(explicit)) return explicit;
    throw new RunError(`encoder ${explicit} is not usable on this node: ${why(explicit)}`);
  }
  const e = report.codecMap[codec];
  if (e) return e;
  const tried = ENCODER_PREFERENCE[codec].map((x) => `${x} (${why(x)})`).join('; ');
  throw new RunError(`no usable encoder for ${codec} on this node; tried ${tried}`);
}
