// Number and label formatting shared by the writers, so every report prints a figure alike.
import type { MeterState } from '../core/types.ts';
import type { Stat } from '../core/report-model.ts';

/** Significant-figure formatting without exponent for everyday magnitudes; '—' for missing. */
export function num(x: number | null | undefined, sig = 4): string {
  if (x == null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e15 || abs < 1e-3) return x.toExponential(Math.max(0, sig - 1));
  const digits = Math.max(0, sig - 1 - Math.floor(Math.log10(abs)));
  return x.toFixed(Math.min(digits, 12));
}

/** "mean ±half-width" (95% CI), or "mean (n=1)" when there is no spread yet. */
export function stat(s: Stat | null | undefined, sig = 4): string {
  if (!s) return '—';
  if (s.halfWidth == null) return `${num(s.mean, sig)} (n=1)`;
  return `${num(s.mean, sig)} ±${num(s.halfWidth, 2)}`;
}

export function signedPct(x: number, sig = 3): string {
  return `${x >= 0 ? '+' : '−'}${num(Math.abs(x), sig)}%`;
}

export function bytes(x: number | null | undefined): string {
  if (x == null || !Number.isFinite(x)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${num(v, 4)} ${units[i]}`;
}

export function bitrate(x: number | null | undefined): string {
  if (x == null || !Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 1e6) return `${num(x / 1e6, 4)} Mb/s`;
  return `${num(x / 1e3, 4)} kb/s`;
}

export function flagList(flags: Record<string, number> | string[]): string {
  const list = Array.isArray(flags) ? flags : Object.entries(flags).map(([f, n]) => `${f}×${n}`);
  return list.length ? list.join(', ') : '';
}

/** 1e0 … 1e22: every power of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Rounds to `sig` significant digits for machine outputs (JSON/CSV) so goldens do not hang on the last ulp. */
export function round(x: number, sig = 10): number {
  if (!Number.isFinite(x) || x === 0) return x;
  // An integer of at most `sig` digits is its own rounding: half the numbers of a report (counts), without the string round trip.
  if (Number.isInteger(x) && Math.abs(x) < 10 ** sig) return x;
  return roundedByScaling(x, sig) ?? Number(x.toPrecision(sig));
}

/**
 * `Number(x.toPrecision(sig))` without the string round trip (a fifth of its cost), or null where
 * that could differ. |x| scaled by an exact power of ten to `sig` digits before the point is off the
 * exact product by at most half an ulp (< 1.2e-16 × 10^sig); unless that product lies that close to
 * a half, it rounds to the same integer n as toPrecision's digits, and n / 10^k (one correctly
 * rounded operation on two exact doubles) is the double nearest n·10^-k, which is what parsing the
 * digits gives. A decimal exponent misjudged near a power of ten, a near-half, or a scale beyond
 * the exact powers falls back to toPrecision.
 */
function roundedByScaling(x: number, sig: number): number | null {
  if (sig < 1 || sig > 12) return null;
  const a = Math.abs(x);
  const k = sig - 1 - Math.floor(Math.log10(a));
  if (k > 22 || k < -22) return null;
  const y = k >= 0 ? a * POW10[k] : a / POW10[-k];
  if (y < POW10[sig - 1] || y >= POW10[sig]) return null;
  const frac = y - Math.floor(y);
  if (Math.abs(frac - 0.5) <= POW10[sig] * 4e-16) return null;
  const n = frac < 0.5 ? Math.floor(y) : Math.floor(y) + 1;
  const r = k >= 0 ? n / POW10[k] : n * POW10[-k];
  return x < 0 ? -r : r;
}

/** How a meter named in the runs' provenance stood: used, not on this machine at all, or present but unusable. */
export function meterStateText(state: MeterState): string {
  return state === 'in-use' ? 'valid' : state === 'absent' ? 'absent: the machine has none' : 'INVALID';
}
