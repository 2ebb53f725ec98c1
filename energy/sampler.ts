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

/** One zone's latest reading, as exporters see it (`ffwatt_energy_joules_total`, `ffwatt_power_watts`). */
export interface LatestZone extends ZoneInfo {
  /** Cumulative J of the zone's last successful read; null before the first. */
  joules: number | null;
  /** Average W between the zone's last two reads (one sampling interval); null before the second read, or when no time passed. */
  watts: number | null;
  /** The zone was read at the sampler's latest tick (false: its meter failed then, so the figures are older). */
  fresh: boolean;
}

/** How a meter's read went at the sampler's latest tick that tried it. */
export interface MeterReadStatus {
  meter: string;
  source: ZoneInfo['source'];
  /** null: never tried yet. */
  up: boolean | null;
  /** Duration of that read, s (0 before the first). */
  durationS: number;
}

/** What the sampler read at its latest tick: built at most once per tick, shared by every reader of that tick. */
export interface SamplerSnapshot {
  /** Ticks taken when the snapshot was built (0: the sampler has not read anything yet). */
  readonly tick: number;
  readonly zones: ReadonlyArray<Readonly<LatestZone>>;
  readonly meters: ReadonlyArray<Readonly<MeterReadStatus>>;
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
  isTotal: boolean;
  lastUj: bigint | null;
  lastT: bigint | null;
  lastW: number | null;
  /** Highest W since the last mark; -Infinity when none. */
  peakW: number;
  /** tickCount of the tick that last read this zone. */
  readAt: number;
}

const keyOf = (meter: string, zone: string) => `${meter}\u0000${zone}`;

/**
 * One timer loop that reads every meter, keeps the peak power per zone between marks,
 * and turns two marks into the energy of the window between them.
 */
export class Sampler {
  readonly hz: number;
  private readonly now: () => bigint;
  /** The meters this sampler reads, in reading order. */
  readonly meters: readonly Meter[];
  /** Per meter: 1 read ok, 0 read failed, -1 never tried, at its latest tick; and that read's ns. */
  private readonly meterUp: Int8Array;
  private readonly meterNs: bigint[];
  private snap: SamplerSnapshot | null = null;
  private readonly intervalNs: bigint;
  private lastTickNs = 0n;
  private readonly zones = new Map<string, ZoneState>();
  /** Per meter, its zones in the order of its zones(), which is the order its read() returns them in. */
  private readonly meterZones: ZoneState[][] = [];
  private readonly totalZones: ZoneState[];
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private readonly ownMarks = new WeakSet<SamplerMark>();
  /** segmentPeaks[i]: per-zone peak W between mark i-1 and mark i. */
  private readonly segmentPeaks: Array<Map<string, number>> = [];
  private readonly segmentTotalPeaks: Array<number | null> = [];
  private currentTotalPeak: number | null = null;
  private readonly readErrors = new Map<string, { count: number; last: string }>();
  private tickCount = 0;

  constructor(meters: Meter[], opts: SamplerOptions = {}) {
    this.hz = opts.hz ?? 10;
    if (!Number.isFinite(this.hz) || this.hz <= 0 || this.hz > 1000) {
      throw new InputError(`sampling rate must be between 0 and 1000 Hz, got ${opts.hz}`, {
        field: 'hz',
        fix: 'use e.g. 10',
      });
    }
    this.now = opts.now ?? (() => process.hrtime.bigint());
    this.intervalNs = BigInt(Math.round(1e9 / this.hz));
    this.meters = [...meters];
    this.meterUp = new Int8Array(this.meters.length).fill(-1);
    this.meterNs = this.meters.map(() => 0n);
    for (const m of this.meters) {
      const own: ZoneState[] = [];
      for (const info of m.zones()) {
        const key = keyOf(info.meter, info.zone);
        if (this.zones.has(key)) throw new Error(`Sampler: zone ${info.zone} of meter ${info.meter} is listed twice`);
        const st: ZoneState = {
          key,
          info,
          isTotal: info.role === 'total',
          lastUj: null,
          lastT: null,
          lastW: null,
          peakW: -Infinity,
          readAt: -1,
        };
        this.zones.set(key, st);
        own.push(st);
      }
      this.meterZones.push(own);
    }
    this.totalZones = [...this.zones.values()].filter((z) => z.isTotal);
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.read(), 1000 / this.hz);
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

  /** Reads every meter once now; what the timer does each period. Returns the time and every zone's µJ. */
  tick(): { tNs: bigint; uj: Map<string, bigint> } {
    const tNs = this.read();
    const uj = new Map<string, bigint>();
    for (const st of this.zones.values())
      if (st.readAt === this.tickCount && st.lastUj !== null) uj.set(st.key, st.lastUj);
    return { tNs, uj };
  }

  /**
   * One reading of every meter, allocating nothing of its own beyond the meters' bigints: the
   * timer calls this 10 times a second for as long as a node runs (docs/PERFORMANCE.md).
   */
  private read(): bigint {
    const tick = this.tickCount + 1;
    let t = this.now();
    let totalW = 0;
    let totalComplete = true;
    for (let m = 0; m < this.meters.length; m++) {
      const meter = this.meters[m];
      const before = t;
      let samples;
      try {
        samples = meter.read();
      } catch (err) {
        const e = this.readErrors.get(meter.name) ?? { count: 0, last: '' };
        e.count += 1;
        e.last = (err as Error).message;
        this.readErrors.set(meter.name, e);
        t = this.now();
        this.meterUp[m] = 0;
        this.meterNs[m] = t - before;
        continue;
      }
      t = this.now();
      this.meterUp[m] = 1;
      this.meterNs[m] = t - before;
      const own = this.meterZones[m];
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i];
        let st: ZoneState | undefined = own[i];
        if (st === undefined || st.info.zone !== s.zone) st = this.zones.get(keyOf(meter.name, s.zone));
        if (st === undefined) continue;
        st.readAt = tick;
        if (st.lastUj !== null && st.lastT !== null && t > st.lastT) {
          const w = wattsFrom(s.uj - st.lastUj, t - st.lastT);
          st.lastW = w;
          if (w !== null) {
            if (w > st.peakW) st.peakW = w;
            if (st.isTotal) totalW += w;
          }
        } else if (st.isTotal) {
          totalComplete = false;
        }
        st.lastUj = s.uj;
        st.lastT = t;
      }
    }
    for (let i = 0; i < this.totalZones.length; i++) if (this.totalZones[i].readAt !== tick) totalComplete = false;
    if (totalComplete && this.totalZones.length > 0) {
      this.currentTotalPeak = Math.max(this.currentTotalPeak ?? -Infinity, totalW);
    }
    this.tickCount = tick;
    this.lastTickNs = t;
    return t;
  }

  /** Takes an immediate reading and closes the current peak segment. */
  mark(): SamplerMark {
    const { tNs, uj } = this.tick();
    this.seq += 1;
    const peaks = new Map<string, number>();
    for (const st of this.zones.values()) {
      if (st.peakW !== -Infinity) peaks.set(st.key, st.peakW);
      st.peakW = -Infinity;
    }
    this.segmentPeaks[this.seq] = peaks;
    this.segmentTotalPeaks[this.seq] = this.currentTotalPeak;
    this.currentTotalPeak = null;
    const mark: SamplerMark = Object.freeze({ seq: this.seq, tNs, uj });
    this.ownMarks.add(mark);
    return mark;
  }

  /** Energy of every zone between two marks of this sampler (a before b). */
  window(a: SamplerMark, b: SamplerMark): WindowEnergy {
    if (!this.ownMarks.has(a) || !this.ownMarks.has(b))
      throw new Error('Sampler.window: marks must come from this sampler');
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
        missing.push({
          meter: st.info.meter,
          zone: st.info.zone,
          role: st.info.role,
          reason: `meter could not be read at ${ua === undefined ? 'the start' : 'the end'} of the window${err ? ': ' + err.last : ''}`,
        });
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
  latest(): LatestZone[] {
    return this.snapshot().zones.map((z) => ({ ...z }));
  }

  /**
   * The latest tick's readings of every zone and meter, built once per tick and then shared:
   * an exporter formats it without reading a meter, however often it is scraped.
   */
  snapshot(): SamplerSnapshot {
    if (this.snap !== null && this.snap.tick === this.tickCount) return this.snap;
    const tick = this.tickCount;
    const zones: LatestZone[] = [];
    for (const st of this.zones.values()) {
      zones.push({
        ...st.info,
        joules: st.lastUj === null ? null : joulesFromUj(st.lastUj),
        watts: st.lastW,
        fresh: tick > 0 && st.readAt === tick,
      });
    }
    const meters: MeterReadStatus[] = this.meters.map((m, i) => ({
      meter: m.name,
      source: m.source,
      up: this.meterUp[i] === -1 ? null : this.meterUp[i] === 1,
      durationS: secondsFromNs(this.meterNs[i]),
    }));
    this.snap = Object.freeze({ tick, zones: Object.freeze(zones), meters: Object.freeze(meters) });
    return this.snap;
  }

  /**
   * The snapshot an exporter serves: the latest tick while the timer runs (at most one interval
   * old). With the timer off (never started, or stopped), a snapshot older than one interval is
   * refreshed by one tick now, so counters stay current without a second reader of the meters.
   */
  currentSnapshot(): SamplerSnapshot {
    if (this.timer === null && (this.tickCount === 0 || this.now() - this.lastTickNs >= this.intervalNs)) this.tick();
    return this.snapshot();
  }

  /** Meters whose read() threw, with how often and the last message. */
  errors(): Array<{ meter: string; count: number; last: string }> {
    return [...this.readErrors.entries()].map(([meter, e]) => ({ meter, ...e }));
  }
}
