import { InputError } from '../core/errors.ts';
import type { Meter, ZoneInfo } from './meter.ts';
import { joulesFromUj, secondsFromNs, wattsFrom } from './units.ts';

/** A point in time at which every zone was read; the ends of energy windows. */
export interface SamplerMark {
  readonly seq: number;
  /** Monotonic clock, ns. */
  readonly tNs: bigint;
  /** Monotonic µJ per zone key (meter + zone); a zone whose meter failed to read is absent. */
  readonly uj: ReadonlyMap<string, bigint>;
}

export interface WindowZone {
  meter: string;
  zone: string;
  source: ZoneInfo['source'];
  role: ZoneInfo['role'];
  joules: number;
  avgW: number;
  /** Highest power over one sampling interval inside the window (avgW when no interval fell inside). */
  peakW: number;
}

export interface WindowEnergy {
  seconds: number;
  zones: WindowZone[];
  /** Highest summed power of the `total` zones within one sampling tick (all read in the same tick). */
  totalPeakW?: number;
  /** Zones that could not be read at one of the marks: left out of `zones`, never counted as 0. */
  missing?: Array<{ meter: string; zone: string; role: ZoneInfo['role']; reason: string }>;
}

export interface SamplerOptions {
  /** Sampling rate of the timer loop (default 10 Hz). */
  hz?: number;
  /** Monotonic clock in ns (default process.hrtime.bigint). */
  now?: () => bigint;
}

interface ZoneState {
  key: string;
  info: ZoneInfo;
  lastUj: bigint | null;
  lastT: bigint | null;
  lastW: number | null;
}

const keyOf = (meter: string, zone: string) => `${meter}\u0000${zone}`;

/**
 * One timer loop that reads every meter, keeps the peak power per zone between marks,
 * and turns two marks into the energy of the window between them.
 */
export class Sampler {
  readonly hz: number;
  private readonly now: () => bigint;
  private readonly meters: Meter[];
  private readonly zones = new Map<string, ZoneState>();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private readonly ownMarks = new WeakSet<SamplerMark>();
  /** segmentPeaks[i]: per-zone peak W between mark i-1 and mark i. */
  private readonly segmentPeaks: Array<Map<string, number>> = [];
  private readonly segmentTotalPeaks: Array<number | null> = [];
  private currentPeaks = new Map<string, number>();
  private currentTotalPeak: number | null = null;
  private readonly readErrors = new Map<string, { count: number; last: string }>();
  private tickCount = 0;

  constructor(meters: Meter[], opts: SamplerOptions = {}) {
    this.hz = opts.hz ?? 10;
    if (!Number.isFinite(this.hz) || this.hz <= 0 || this.hz > 1000) {
      throw new InputError(`sampling rate must be between 0 and 1000 Hz, got ${opts.hz}`, { field: 'hz', fix: 'use e.g. 10' });
    }
    this.now = opts.now ?? (() => process.hrtime.bigint());
    this.meters = [...meters];
    for (const m of this.meters) {
      for (const info of m.zones()) {
        const key = keyOf(info.meter, info.zone);
        if (this.zones.has(key)) throw new Error(`Sampler: zone ${info.zone} of meter ${info.meter} is listed twice`);
        this.zones.set(key, { key, info, lastUj: null, lastT: null, lastW: null });
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), 1000 / this.hz);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Ticks taken so far (timer, marks and direct calls). */
  get ticks(): number {
    return this.tickCount;
  }

  /** Reads every meter once now; what the timer does each period. Returns the zone keys read. */
  tick(): { tNs: bigint; uj: Map<string, bigint> } {
    const uj = new Map<string, bigint>();
    let t = this.now();
    let totalW = 0;
    let totalComplete = true;
    for (const meter of this.meters) {
      let samples;
      try {
        samples = meter.read();
      } catch (err) {
        const e = this.readErrors.get(meter.name) ?? { count: 0, last: '' };
        e.count += 1;
        e.last = (err as Error).message;
        this.readErrors.set(meter.name, e);
        continue;
      }
      t = this.now();
      for (const s of samples) {
        const st = this.zones.get(keyOf(meter.name, s.zone));
        if (!st) continue;
        uj.set(st.key, s.uj);
        if (st.lastUj !== null && st.lastT !== null && t > st.lastT) {
          const w = wattsFrom(s.uj - st.lastUj, t - st.lastT);
          st.lastW = w;
          if (w !== null) {
            this.currentPeaks.set(st.key, Math.max(this.currentPeaks.get(st.key) ?? -Infinity, w));
            if (st.info.role === 'total') totalW += w;
          }
        } else if (st.info.role === 'total') {
          totalComplete = false;
        }
        st.lastUj = s.uj;
        st.lastT = t;
      }
    }
    for (const st of this.zones.values()) if (st.info.role === 'total' && !uj.has(st.key)) totalComplete = false;
    if (totalComplete && [...this.zones.values()].some((z) => z.info.role === 'total')) {
      this.currentTotalPeak = Math.max(this.currentTotalPeak ?? -Infinity, totalW);
    }
    this.tickCount += 1;
    return { tNs: t, uj };
  }

  /** Takes an immediate reading and closes the current peak segment. */
  mark(): SamplerMark {
    const { tNs, uj } = this.tick();
    this.seq += 1;
    this.segmentPeaks[this.seq] = this.currentPeaks;
    this.segmentTotalPeaks[this.seq] = this.currentTotalPeak;
    this.currentPeaks = new Map();
    this.currentTotalPeak = null;
    const mark: SamplerMark = Object.freeze({ seq: this.seq, tNs, uj });
    this.ownMarks.add(mark);
    return mark;
  }

  /** Energy of every zone between two marks of this sampler (a before b). */
  window(a: SamplerMark, b: SamplerMark): WindowEnergy {
    if (!this.ownMarks.has(a) || !this.ownMarks.has(b)) throw new Error('Sampler.window: marks must come from this sampler');
    if (b.seq <= a.seq) throw new Error(`Sampler.window: mark ${b.seq} is not after mark ${a.seq}`);
    const ns = b.tNs - a.tNs;
    const seconds = secondsFromNs(ns);
    const zones: WindowZone[] = [];
    const missing: NonNullable<WindowEnergy['missing']> = [];
    let totalPeak: number | null = null;
    for (let i = a.seq + 1; i <= b.seq; i++) {
      const p = this.segmentTotalPeaks[i];
      if (p !== null && p !== undefined) totalPeak = Math.max(totalPeak ?? -Infinity, p);
    }
    for (const st of this.zones.values()) {
      const ua = a.uj.get(st.key);
      const ub = b.uj.get(st.key);
      if (ua === undefined || ub === undefined) {
        const err = this.readErrors.get(st.info.meter);
        missing.push({ meter: st.info.meter, zone: st.info.zone, role: st.info.role, reason: `meter could not be read at ${ua === undefined ? 'the start' : 'the end'} of the window${err ? ': ' + err.last : ''}` });
        continue;
      }
      const duj = ub - ua;
      const joules = joulesFromUj(duj);
      const avgW = wattsFrom(duj, ns) ?? 0;
      let peak: number | null = null;
      for (let i = a.seq + 1; i <= b.seq; i++) {
        const p = this.segmentPeaks[i]?.get(st.key);
        if (p !== undefined) peak = Math.max(peak ?? -Infinity, p);
      }
      const { meter, zone, source, role } = st.info;
      zones.push({ meter, zone, source, role, joules, avgW, peakW: peak ?? avgW });
    }
    return {
      seconds,
      zones,
      ...(totalPeak !== null ? { totalPeakW: totalPeak } : {}),
      ...(missing.length ? { missing } : {}),
    };
  }

  /** Latest cumulative energy and power per zone, for exporters (`ffwatt_energy_joules_total`, `ffwatt_power_watts`). */
  latest(): Array<ZoneInfo & { joules: number | null; watts: number | null }> {
    return [...this.zones.values()].map((st) => ({
      ...st.info,
      joules: st.lastUj === null ? null : joulesFromUj(st.lastUj),
      watts: st.lastW,
    }));
  }

  /** Meters whose read() threw, with how often and the last message. */
  errors(): Array<{ meter: string; count: number; last: string }> {
    return [...this.readErrors.entries()].map(([meter, e]) => ({ meter, ...e }));
  }
}
