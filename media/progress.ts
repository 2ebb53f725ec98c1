/**
 * Parser for FFmpeg's `-progress pipe:1` output: blocks of `key=value` lines, each
 * block closed by `progress=continue` or `progress=end`. Chunk-safe: feed it stdout
 * chunks as they arrive; partial lines are kept until their newline comes.
 */
import { StringDecoder } from 'node:string_decoder';

export interface ProgressSample {
  frame: number;
  fps: number | null;
  bitrateBps: number | null;
  totalSizeBytes: number | null;
  /**
   * Output timestamp of the last frame written, in seconds: that frame's start, so one frame short of
   * the media duration written (media time is counted as frames × frame duration, see cell.ts).
   */
  outTimeS: number;
  dupFrames: number;
  dropFrames: number;
  speed: number | null;
  /** True for the last block (`progress=end`). */
  end: boolean;
}

/** A number, or null for "N/A", empty or unparsable values. */
function num(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (v === '' || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "715.9kbits/s" → 715900; "N/A" → null. */
export function parseBitrate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*(-?[\d.]+)\s*([kmg]?)bits\/s\s*$/i.exec(value);
  if (!m) return null;
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Number(m[1]) * scale;
  return Number.isFinite(n) ? n : null;
}

/** "1.5x" → 1.5; "N/A" → null. */
export function parseSpeed(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*(-?[\d.]+(?:e[+-]?\d+)?)x\s*$/i.exec(value);
  return m ? Number(m[1]) : null;
}

/** "00:01:02.500000" (optionally negative) → 62.5; otherwise null. */
export function parseClock(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$/.exec(value);
  if (!m) return null;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -s : s;
}

/**
 * Media time of a block. `out_time_us` first; then `out_time`; then `out_time_ms`,
 * which FFmpeg has always filled with microseconds despite its name. Negative
 * start-up values clamp to 0; a block with none of them keeps the previous time.
 */
function outTimeOf(block: Map<string, string>, previous: number): number {
  const us = num(block.get('out_time_us'));
  if (us !== null) return Math.max(0, us / 1e6);
  const clock = parseClock(block.get('out_time'));
  if (clock !== null) return Math.max(0, clock);
  const ms = num(block.get('out_time_ms'));
  if (ms !== null) return Math.max(0, ms / 1e6);
  return previous;
}

export class ProgressParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private block = new Map<string, string>();
  private lastOutTimeS = 0;
  /** The most recent complete sample, if any. */
  last: ProgressSample | null = null;

  /** Feeds a chunk of stdout; returns the samples completed by it (possibly none). */
  push(chunk: string | Buffer): ProgressSample[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    const out: ProgressSample[] = [];
    for (const line of lines) {
      const sample = this.line(line.replace(/\r$/, ''));
      if (sample) out.push(sample);
    }
    return out;
  }

  /** Flushes a last line without a newline (stdout closed). */
  finish(): ProgressSample[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (!rest) return [];
    const s = this.line(rest.replace(/\r$/, ''));
    return s ? [s] : [];
  }

  private line(line: string): ProgressSample | null {
    const eq = line.indexOf('=');
    if (eq <= 0) return null;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (key !== 'progress') {
      this.block.set(key, value);
      return null;
    }
    const b = this.block;
    this.block = new Map();
    const outTimeS = outTimeOf(b, this.lastOutTimeS);
    this.lastOutTimeS = outTimeS;
    const sample: ProgressSample = {
      frame: num(b.get('frame')) ?? this.last?.frame ?? 0,
      fps: num(b.get('fps')),
      bitrateBps: parseBitrate(b.get('bitrate')),
      totalSizeBytes: num(b.get('total_size')),
      outTimeS,
      dupFrames: num(b.get('dup_frames')) ?? this.last?.dupFrames ?? 0,
      dropFrames: num(b.get('drop_frames')) ?? this.last?.dropFrames ?? 0,
      speed: parseSpeed(b.get('speed')),
      end: value.trim() === 'end',
    };
    this.last = sample;
    return sample;
  }
}

/** Parses a whole recorded `-progress` text. */
export function parseProgressText(text: string): ProgressSample[] {
  const p = new ProgressParser();
  return [...p.push(text), ...p.finish()];
}
