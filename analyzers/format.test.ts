import { describe, expect, it } from 'vitest';
import { round } from './format.ts';

/** What round() promised before its scaling shortcut: the decimal digits of toPrecision, parsed back. */
const byDigits = (x: number, sig: number) =>
  !Number.isFinite(x) || x === 0 || (Number.isInteger(x) && Math.abs(x) < 10 ** sig) ? x : Number(x.toPrecision(sig));

/** Deterministic stream of doubles (xorshift), so a failure names a reproducible value. */
function* doubles(count: number, seed: number): Generator<number> {
  let s = seed >>> 0 || 1;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  for (let i = 0; i < count; i++) {
    switch (i % 4) {
      case 0: // any bit pattern: subnormals, huge values, NaN, infinities
        words[0] = next() * 2 ** 32;
        words[1] = next() * 2 ** 32;
        yield bits[0];
        break;
      case 1: // everyday magnitudes of report figures
        yield (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
        break;
      case 2: {
        // exact halves of the 11th digit and their neighbours: where a shortcut could round the other way
        const digits = Math.floor(1e9 + next() * 9e9);
        const half = Number(`${digits}5e${Math.floor(next() * 30) - 16}`);
        yield half;
        yield half * (1 + 2 ** -52);
        yield half * (1 - 2 ** -53);
        break;
      }
      default: // just below and above powers of ten, where the decimal exponent is easy to misjudge
        yield 10 ** Math.floor(next() * 40 - 20) * (1 - next() * 1e-9) * (next() < 0.5 ? -1 : 1);
    }
  }
}

describe('round', () => {
  it('gives the double that toPrecision(10) prints, for any double', () => {
    let checked = 0;
    for (const x of doubles(200_000, 17)) {
      const got = round(x);
      const want = byDigits(x, 10);
      if (!Object.is(got, want)) expect({ x, got }).toEqual({ x, got: want });
      checked++;
    }
    expect(checked).toBeGreaterThan(200_000);
  });

  it('keeps every other number of significant digits to toPrecision too', () => {
    for (const sig of [1, 3, 4, 6, 12, 15])
      for (const x of doubles(20_000, sig)) {
        const got = round(x, sig);
        const want = byDigits(x, sig);
        if (!Object.is(got, want)) expect({ x, sig, got }).toEqual({ x, sig, got: want });
      }
  });

  it('leaves zeros, non-finite values and short integers as they are', () => {
    expect(Object.is(round(-0), -0)).toBe(true);
    expect(round(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(round(Number.NaN)).toBeNaN();
    expect(round(1234567890)).toBe(1234567890);
    expect(round(12345678901)).toBe(12345678900);
    expect(round(0.1 + 0.2)).toBe(0.3);
    expect(round(-2.00000000049999)).toBe(-2);
    expect(round(2.0000000005)).toBe(2.000000001);
  });
});
