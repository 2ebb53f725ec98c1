// Parsers for the per-frame logs FFmpeg's quality filters write: psnr/ssim `stats_file` lines and the
// libvmaf JSON log (1.x and 2.x share `frames[].metrics.vmaf`).
import { RunError } from '../core/errors.ts';

export interface PsnrFrame {
  n: number;
  /** dB; Infinity where the frame is identical (mse 0). */
  psnrY: number;
  psnrAvg: number;
  mseY: number;
  mseAvg: number;
}

export interface SsimFrame {
  n: number;
  y: number;
  all: number;
}

/** `key:value` pairs separated by spaces, as FFmpeg's psnr/ssim stats files write them. */
function fieldsOf(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const token of line.trim().split(/\s+/)) {
    const colon = token.indexOf(':');
    if (colon > 0) fields.set(token.slice(0, colon), token.slice(colon + 1));
  }
  return fields;
}

function numberField(fields: Map<string, string>, key: string, where: string): number {
  const raw = fields.get(key);
  if (raw === undefined) throw new RunError(`${where}: field "${key}" missing`);
  const value = raw === 'inf' ? Infinity : Number(raw);
  if (Number.isNaN(value)) throw new RunError(`${where}: field "${key}" is not a number: "${raw}"`);
  return value;
}

function dataLines(text: string): Array<{ line: string; lineNo: number }> {
  return text
    .split('\n')
    .map((line, i) => ({ line, lineNo: i + 1 }))
    .filter(({ line }) => line.trim() !== '');
}

export function parsePsnrLog(text: string, source = 'psnr log'): PsnrFrame[] {
  return dataLines(text).map(({ line, lineNo }) => {
    const where = `${source} line ${lineNo}`;
    const f = fieldsOf(line);
    return {
      n: numberField(f, 'n', where),
      psnrY: numberField(f, 'psnr_y', where),
      psnrAvg: numberField(f, 'psnr_avg', where),
      mseY: numberField(f, 'mse_y', where),
      mseAvg: numberField(f, 'mse_avg', where),
    };
  });
}

/** SSIM lines look like `n:1 Y:0.99 U:0.99 V:0.99 All:0.99 (20.1)`; the bracketed dB figure is ignored. */
export function parseSsimLog(text: string, source = 'ssim log'): SsimFrame[] {
  return dataLines(text).map(({ line, lineNo }) => {
    const where = `${source} line ${lineNo}`;
    const f = fieldsOf(line.replace(/\([^)]*\)/g, ''));
    return { n: numberField(f, 'n', where), y: numberField(f, 'Y', where), all: numberField(f, 'All', where) };
  });
}

export interface VmafLog {
  /** libvmaf version that wrote the log, e.g. "1.3.7" or "2.3.1". */
  version: string | null;
  frames: number[];
}

export function parseVmafJson(text: string, source = 'vmaf log'): VmafLog {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RunError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const frames = (doc as { frames?: unknown }).frames;
  if (!Array.isArray(frames)) throw new RunError(`${source}: no "frames" array`);
  const scores = frames.map((frame, i) => {
    const value = (frame as { metrics?: Record<string, unknown> })?.metrics?.vmaf;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RunError(`${source}: frames[${i}].metrics.vmaf missing or not a number`);
    }
    return value;
  });
  const version = (doc as { version?: unknown }).version;
  return { version: typeof version === 'string' ? version : null, frames: scores };
}
