import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePsnrLog, parseSsimLog, parseVmafJson } from './logs.ts';
import { summarizeFrames } from './summary.ts';

const fixtures = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'quality');
const fixture = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');

describe('per-frame log parsing (recorded FFmpeg logs)', () => {
  it('reads inf PSNR and SSIM 1 for identical frames', () => {
    const psnr = parsePsnrLog(fixture('psnr-identical.log'));
    expect(psnr).toHaveLength(30);
    expect(psnr.every((f) => f.psnrY === Infinity && f.psnrAvg === Infinity && f.mseY === 0)).toBe(true);
    expect(psnr.map((f) => f.n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const ssim = parseSsimLog(fixture('ssim-identical.log'));
    expect(ssim).toHaveLength(30);
    expect(ssim.every((f) => f.all === 1 && f.y === 1)).toBe(true);
  });

  it('reads an x264 encode; SSIM means match what FFmpeg printed for the same run', () => {
    const psnr = parsePsnrLog(fixture('psnr-x264-150k.log'));
    expect(psnr).toHaveLength(30);
    expect(psnr[0]).toMatchObject({ n: 1 });
    const ys = psnr.map((f) => f.psnrY);
    // FFmpeg printed min 32.579372 / max 40.163718 (those are the per-frame average-PSNR extremes).
    const avgs = psnr.map((f) => f.psnrAvg);
    expect(Math.min(...avgs)).toBeCloseTo(32.58, 2);
    expect(Math.max(...avgs)).toBeCloseTo(40.16, 2);
    expect(Math.min(...ys)).toBeGreaterThan(30);
    const ssim = parseSsimLog(fixture('ssim-x264-150k.log'));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(ssim.map((f) => f.all))).toBeCloseTo(0.955296, 5);
    expect(mean(ssim.map((f) => f.y))).toBeCloseTo(0.951494, 5);
  });

  it('reads a libvmaf 1.x JSON log; the mean matches the score libvmaf printed', () => {
    const log = parseVmafJson(fixture('vmaf1-x264-150k.json'));
    expect(log.version).toBe('1.3.7');
    expect(log.frames).toHaveLength(30);
    expect(summarizeFrames(log.frames).mean).toBeCloseTo(84.800322, 4);
  });

  it('reads the libvmaf 2.x layout (hand-written format sample, see README)', () => {
    const log = parseVmafJson(fixture('vmaf2-format-sample.json'));
    expect(log.version).toBe('2.3.1');
    expect(log.frames).toEqual([80.5, 78.25, 0]);
    expect(summarizeFrames(log.frames, { harmonicShift: 1 }).harmonicMean).toBeCloseTo(1.927148, 5);
  });

  it('names the file and line of a malformed log', () => {
    expect(() => parsePsnrLog('n:1 mse_avg:0.1 psnr_avg:30\n', 'x.log')).toThrow(
      /x\.log line 1: field "psnr_y" missing/,
    );
    expect(() => parseSsimLog('n:1 Y:abc All:0.9\n', 's.log')).toThrow(/s\.log line 1: field "Y" is not a number/);
    expect(() => parseVmafJson('{"frames":[{"metrics":{}}]}', 'v.json')).toThrow(/v\.json: frames\[0\]\.metrics\.vmaf/);
    expect(() => parseVmafJson('not json', 'v.json')).toThrow(/v\.json: not valid JSON/);
  });
});
