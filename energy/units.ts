/**
 * Energy units. Inside the energy folder energy is an integer count of micro-joules (bigint),
 * so sums and differences are exact; joules and watts (numbers) appear only at the edges.
 */

export const UJ_PER_J = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;

/** µJ → J without losing precision on large counters (the integer part is split off first). */
export function joulesFromUj(uj: bigint): number {
  return Number(uj / UJ_PER_J) + Number(uj % UJ_PER_J) / 1e6;
}

/** J → µJ, rounded to the nearest micro-joule. */
export function ujFromJoules(joules: number): bigint {
  if (!Number.isFinite(joules)) throw new RangeError(`ujFromJoules: ${joules} is not a finite number of joules`);
  return BigInt(Math.round(joules * 1e6));
}

/** Seconds from a monotonic nanosecond difference. */
export function secondsFromNs(ns: bigint): number {
  return Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9;
}

/** Average power in W of `uj` micro-joules spent over `ns` nanoseconds; null when no time passed. */
export function wattsFrom(uj: bigint, ns: bigint): number | null {
  if (ns <= 0n) return null;
  return joulesFromUj(uj) / secondsFromNs(ns);
}

/**
 * Energy between two raw readings of a hardware counter that wraps to 0 after `maxRangeUj`
 * (RAPL's max_energy_range_uj). A reading below the previous one is one wrap:
 * delta = maxRangeUj − prev + cur. More than one wrap between two readings cannot be seen,
 * which is why meters are sampled at least 4× per wrap period (see rapl.ts recommendedHz()).
 *
 * `maxRangeUj` ≤ 0 means the counter is not known to wrap: a decrease is then an error
 * (a counter reset), never a silent zero or a negative energy.
 */
export function wrapSafeDelta(prev: bigint, cur: bigint, maxRangeUj: bigint): bigint {
  if (prev < 0n || cur < 0n) throw new RangeError(`wrapSafeDelta: negative counter reading (prev ${prev}, cur ${cur})`);
  if (cur >= prev) return cur - prev;
  if (maxRangeUj <= 0n) {
    throw new RangeError(
      `wrapSafeDelta: counter went down from ${prev} to ${cur} and has no wrap range: a reset, not a wrap`,
    );
  }
  if (prev > maxRangeUj) {
    throw new RangeError(`wrapSafeDelta: previous reading ${prev} exceeds the wrap range ${maxRangeUj}`);
  }
  return maxRangeUj - prev + cur;
}

/**
 * Extends the raw readings of one wrapping hardware counter into a monotonic µJ counter: it
 * starts at the first raw reading and adds wrap-corrected deltas, so until the first wrap it
 * equals the hardware counter (what node_exporter shows) and afterwards keeps rising where
 * the hardware counter falls back. The one place meters keep wrap state.
 */
export class WrapCounter {
  private last: bigint | null = null;
  private total = 0n;
  private wrapCount = 0;

  constructor(readonly maxRangeUj: bigint) {}

  /** Feed one raw reading; returns the monotonic counter in µJ. */
  update(raw: bigint): bigint {
    if (this.last === null) this.total = raw;
    else {
      if (raw < this.last) this.wrapCount += 1;
      this.total += wrapSafeDelta(this.last, raw, this.maxRangeUj);
    }
    this.last = raw;
    return this.total;
  }

  get uj(): bigint {
    return this.total;
  }

  /** The last raw reading, or null before the first. */
  get raw(): bigint | null {
    return this.last;
  }

  get wraps(): number {
    return this.wrapCount;
  }
}
