import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { harmonicMean, percentile, summarizeFrames } from './summary.ts';

describe('frame score pooling', () => {
  it('computes mean, harmonic mean, 1st percentile and min', () => {
    const s = summarizeFrames([40, 20, 40, 20]);
    expect(s.mean).toBe(30);
    expect(s.harmonicMean).toBeCloseTo(4 / (2 / 40 + 2 / 20), 12);
    expect(s.min).toBe(20);
    expect(s.p1).toBe(20);
  });

  it('interpolates percentiles linearly between ranks', () => {
    const values = Array.from({ length: 101 }, (_, i) => i); // 0..100
    expect(percentile(values, 1)).toBe(1);
    expect(percentile([0, 10], 1)).toBeCloseTo(0.1, 12);
    expect(percentile([5], 1)).toBe(5);
  });

  it('uses the libvmaf shift for VMAF so a zero frame does not divide by zero', () => {
    expect(harmonicMean([0, 99], 1)).toBeCloseTo(2 / (1 / 1 + 1 / 100) - 1, 12);
    expect(harmonicMean([0, 99])).toBe(0);
  });

  it('refuses empty and non-finite input instead of returning zeros', () => {
    expect(() => summarizeFrames([])).toThrow(/no frames/);
    expect(() => summarizeFrames([1, Infinity])).toThrow(/not finite/);
  });

  it('orders min <= p1 <= mean and harmonic mean <= mean for positive scores', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.001, max: 100, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (values) => {
          const s = summarizeFrames(values);
          const eps = 1e-9 * Math.max(1, s.mean);
          expect(s.min).toBeLessThanOrEqual(s.p1 + eps);
          expect(s.p1).toBeLessThanOrEqual(s.mean + eps);
          expect(s.harmonicMean).toBeLessThanOrEqual(s.mean + eps);
          expect(s.harmonicMean).toBeGreaterThanOrEqual(s.min - eps);
        },
      ),
    );
  });
});
