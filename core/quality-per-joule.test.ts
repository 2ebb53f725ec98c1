import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RunRecordSchema, type RunEnergy, type RunRecord } from './contracts/index.ts';
import { qualityPerJoule } from './quality-per-joule.ts';

// Quality from the recorded libvmaf 1.3.7 and psnr logs of one libx264 encode
// (test/fixtures/quality/README.md: VMAF 84.800322 by libvmaf's own summary).
const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/quality/${name}`, import.meta.url), 'utf8');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const vmafFrames = (
  JSON.parse(fixture('vmaf1-x264-150k.json')) as { frames: Array<{ metrics: { vmaf: number } }> }
).frames.map((f) => f.metrics.vmaf);
const vmaf = {
  mean: mean(vmafFrames),
  harmonicMean: vmafFrames.length / vmafFrames.reduce((a, v) => a + 1 / v, 0),
  p1: Math.min(...vmafFrames),
  min: Math.min(...vmafFrames),
};
const psnrAvg = mean([...fixture('psnr-x264-150k.log').matchAll(/psnr_avg:([0-9.]+)/g)].map((m) => Number(m[1])));

function record(energy: Partial<RunEnergy> | null, withVmaf = true): RunRecord {
  return RunRecordSchema.parse({
    jobId: 'j-1',
    attempt: 1,
    nodeId: 'box-a',
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: '2026-11-25T10:00:00.000Z',
    endedAt: '2026-11-25T10:00:02.000Z',
    wallS: 2,
    mediaSeconds: 1,
    frames: 30,
    outputBytes: 18_750,
    bitrateBps: 150_000,
    fps: 30,
    speed: 1,
    droppedFrames: 0,
    dupFrames: 0,
    energy: energy && {
      source: 'rapl',
      zones: [],
      grossJ: 0,
      idleW: null,
      netJ: null,
      avgW: 0,
      peakW: 0,
      windowS: 1,
      jPerEncodedMinute: null,
      netJPerEncodedMinute: null,
      jPerFrame: null,
      jPerMegapixel: null,
      ...energy,
    },
    quality: { outputs: [{ rung: 0, psnrY: null, psnrAvg, ssim: null, vmaf: withVmaf ? vmaf : null }], recipe: {} },
    flags: [],
    provenance: { ffmpegVersion: '4.1', encoder: 'libx264', argv: [] },
  }) as RunRecord;
}

describe('qualityPerJoule (docs/methodology.md, one definition)', () => {
  it('is the main rung mean VMAF per kJ of net energy', () => {
    expect(vmaf.mean).toBeCloseTo(84.800322, 5);
    // 12.5 J net, 20 J gross: 84.800322 / 0.0125 kJ
    expect(qualityPerJoule(record({ grossJ: 20, netJ: 12.5, idleW: 7.5 }))).toBeCloseTo(84.800322 / 0.0125, 3);
  });

  it('falls back to gross energy without a positive net figure, and to PSNR without VMAF', () => {
    expect(qualityPerJoule(record({ grossJ: 20, netJ: -1 }))).toBeCloseTo(84.800322 / 0.02, 3);
    expect(psnrAvg).toBeGreaterThan(32);
    expect(qualityPerJoule(record({ grossJ: 20 }, false))).toBeCloseTo(psnrAvg / 0.02, 9);
  });

  it('is null, never 0, without energy or quality', () => {
    expect(qualityPerJoule(record(null))).toBeNull();
    expect(qualityPerJoule(record({ grossJ: 0 }))).toBeNull();
    expect(qualityPerJoule({ ...record({ grossJ: 20 }), quality: null })).toBeNull();
  });
});
