import { describe, expect, it } from 'vitest';
import type { QualityResult } from '../core/types.ts';
import { headlineQuality, jPerMinuteAtQuality, qualityPerJoule } from './quality-derived.ts';

const summary = (mean: number) => ({ mean, harmonicMean: mean, p1: mean, min: mean });
const withVmaf: QualityResult = {
  outputs: [{ rung: 0, psnrY: 40, psnrAvg: 41, ssim: 0.98, vmaf: summary(90) }],
  recipe: {},
};
const psnrOnly: QualityResult = {
  outputs: [{ rung: 0, psnrY: 36, psnrAvg: 37, ssim: 0.95, vmaf: null }],
  recipe: {},
  vmafSkippedReason: 'no model',
};

describe('quality per joule', () => {
  it('uses VMAF points per kJ when VMAF was scored', () => {
    expect(qualityPerJoule(withVmaf, 3000)).toEqual({ value: 30, unit: 'vmaf/kJ', metric: 'vmaf', rung: 0 });
  });
  it('falls back to luma PSNR dB per kJ, and says so in the unit', () => {
    expect(qualityPerJoule(psnrOnly, 1500)).toEqual({ value: 24, unit: 'dB/kJ', metric: 'psnrY', rung: 0 });
  });
  it('is null with a reason when a figure is missing', () => {
    expect(qualityPerJoule(withVmaf, null)).toEqual({ value: null, reason: 'no energy figure' });
    expect(qualityPerJoule(withVmaf, 0).value).toBeNull();
    expect(qualityPerJoule(null, 100)).toEqual({ value: null, reason: 'no quality result' });
    expect(qualityPerJoule(withVmaf, 100, 3)).toEqual({ value: null, reason: 'no quality result for rung 3' });
    expect(headlineQuality({ outputs: [{ rung: 0, psnrY: null, psnrAvg: null, ssim: null, vmaf: null }], recipe: {} }).value).toBeNull();
  });
});

describe('energy at equal quality', () => {
  const runs = [
    { quality: 80, jPerMinute: 100 },
    { quality: 90, jPerMinute: 200 },
    { quality: 96, jPerMinute: 500 },
  ];
  it('interpolates linearly between the runs that bracket the threshold', () => {
    const at93 = jPerMinuteAtQuality(runs, 93);
    expect(at93.value).toBeCloseTo(350, 9);
    expect(at93).toMatchObject({ interpolated: true, between: [runs[1], runs[2]] });
  });
  it('returns a measured point as is, in any input order', () => {
    expect(jPerMinuteAtQuality([...runs].reverse(), 90)).toEqual({ value: 200, interpolated: false, between: null });
  });
  it('averages repetitions of equal quality', () => {
    expect(jPerMinuteAtQuality([{ quality: 90, jPerMinute: 100 }, { quality: 90, jPerMinute: 300 }], 90).value).toBe(200);
  });
  it('does not extrapolate', () => {
    expect(jPerMinuteAtQuality(runs, 97)).toEqual({ value: null, reason: 'quality 97 is outside the measured range 80–96' });
    expect(jPerMinuteAtQuality([], 90).value).toBeNull();
    expect(jPerMinuteAtQuality([{ quality: NaN, jPerMinute: 1 }], 90).value).toBeNull();
  });
});
