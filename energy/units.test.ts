import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { joulesFromUj, secondsFromNs, ujFromJoules, wattsFrom, wrapSafeDelta, WrapCounter } from './units.ts';

describe('unit conversions', () => {
  it('converts µJ to J exactly, also beyond 2^53 µJ', () => {
    expect(joulesFromUj(1_500_000n)).toBe(1.5);
    expect(joulesFromUj(0n)).toBe(0);
    // biome-ignore lint/correctness/noPrecisionLoss: the exact joules as written; a double holds them to 0.02 J, and toBeCloseTo(…, 0) allows 0.5
    expect(joulesFromUj(123_456_789_012_345_678_901n)).toBeCloseTo(123_456_789_012_345.678901, 0);
    expect(ujFromJoules(2.000001)).toBe(2_000_001n);
    expect(() => ujFromJoules(Number.NaN)).toThrow(/finite/);
    expect(secondsFromNs(2_500_000_000n)).toBe(2.5);
  });

  it('gives average watts, or null when no time passed', () => {
    expect(wattsFrom(10_000_000n, 2_000_000_000n)).toBe(5);
    expect(wattsFrom(1n, 0n)).toBeNull();
  });
});

describe('wrapSafeDelta', () => {
  it('is the plain difference while the counter rises', () => {
    expect(wrapSafeDelta(100n, 250n, 1000n)).toBe(150n);
    expect(wrapSafeDelta(5n, 5n, 1000n)).toBe(0n);
  });

  it('adds the wrap range when the counter went down (one wrap)', () => {
    // 900 → wraps at 1000 → 50: 100 + 50
    expect(wrapSafeDelta(900n, 50n, 1000n)).toBe(150n);
    // real RAPL range of a package: 262143328850 µJ
    expect(wrapSafeDelta(262_143_000_000n, 1_000_000n, 262_143_328_850n)).toBe(1_328_850n);
  });

  it('refuses a decrease without a wrap range, negative readings and readings past the range', () => {
    expect(() => wrapSafeDelta(10n, 5n, 0n)).toThrow(/reset/);
    expect(() => wrapSafeDelta(-1n, 5n, 100n)).toThrow(/negative/);
    expect(() => wrapSafeDelta(200n, 5n, 100n)).toThrow(/exceeds the wrap range/);
  });

  it('reconstructs the true total from wrapped readings when each step is under one range (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n, max: 1n << 40n }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { maxLength: 50 }),
        (range, start, fractions) => {
          let total = start;
          let prev = start % range;
          let sum = 0n;
          for (const f of fractions) {
            const step = BigInt(Math.floor(f * Number(range - 1n)));
            total += step;
            const cur = total % range;
            const d = wrapSafeDelta(prev, cur, range);
            expect(d).toBeGreaterThanOrEqual(0n);
            sum += d;
            prev = cur;
          }
          expect(sum).toBe(total - start);
        },
      ),
    );
  });
});

describe('WrapCounter', () => {
  it('equals the hardware counter until a wrap, then keeps rising by the wrap range', () => {
    const c = new WrapCounter(1000n);
    expect(c.raw).toBeNull();
    expect(c.update(700n)).toBe(700n);
    expect(c.update(950n)).toBe(950n);
    expect(c.update(100n)).toBe(1100n);
    expect(c.update(100n)).toBe(1100n);
    expect(c.wraps).toBe(1);
    expect(c.uj).toBe(1100n);
    expect(c.raw).toBe(100n);
    expect(c.uj - c.raw!).toBe(BigInt(c.wraps) * c.maxRangeUj);
  });
});
