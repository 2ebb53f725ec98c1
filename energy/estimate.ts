import { InputError } from '../core/errors.ts';
import type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
import { DEFAULT_CLOCK_TICKS_PER_S, readMachineCpuTicks } from './procstat.ts';

/**
 * Default power of one busy logical CPU, in W. A deliberately round figure in the range of
 * current server and desktop cores under an encoder load (a 16-core ~150–200 W part gives
 * ~10 W per busy core); replace it with a figure measured on the hardware (`wattsPerCore`).
 * Idle power is not modelled: a machine doing nothing costs 0 J in the estimate.
 */
export const DEFAULT_WATTS_PER_CORE = 10;

export interface EstimateOptions {
  /** Root of procfs (default /proc). */
  procRoot?: string;
  /** W drawn by one fully busy logical CPU (default DEFAULT_WATTS_PER_CORE). */
  wattsPerCore?: number;
  /** USER_HZ of /proc/stat (default 100). */
  clockTicksPerS?: number;
}

export const ESTIMATE_METER = 'estimate';
export const ESTIMATE_ZONE = 'cpu';

/**
 * The fallback meter: machine-wide busy CPU time from /proc/stat × a per-core watt figure,
 * as a monotonic µJ counter that starts at 0 when the meter is opened. Every figure it
 * produces carries source `estimate`.
 */
export class EstimateMeter implements Meter {
  readonly name = ESTIMATE_METER;
  readonly source = 'estimate' as const;
  readonly procRoot: string;
  readonly wattsPerCore: number;
  private readonly microwattsPerCore: bigint;
  private readonly ticksPerS: bigint;
  private readonly startBusy: bigint;
  private lastBusy: bigint;

  constructor(opts: EstimateOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.wattsPerCore = opts.wattsPerCore ?? DEFAULT_WATTS_PER_CORE;
    if (!Number.isFinite(this.wattsPerCore) || this.wattsPerCore <= 0) {
      throw new InputError(`wattsPerCore must be a positive number of watts, got ${opts.wattsPerCore}`, {
        field: 'wattsPerCore',
        fix: `set it to the power of one busy core of this CPU (default ${DEFAULT_WATTS_PER_CORE} W)`,
      });
    }
    const ticks = opts.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
    if (!Number.isInteger(ticks) || ticks <= 0) {
      throw new InputError(`clockTicksPerS must be a positive integer, got ${ticks}`, { field: 'clockTicksPerS' });
    }
    this.microwattsPerCore = BigInt(Math.round(this.wattsPerCore * 1e6));
    this.ticksPerS = BigInt(ticks);
    this.startBusy = readMachineCpuTicks(this.procRoot).busy;
    this.lastBusy = this.startBusy;
  }

  zones(): ZoneInfo[] {
    return [{ meter: this.name, zone: ESTIMATE_ZONE, source: 'estimate', role: 'total' }];
  }

  read(): ZoneSample[] {
    const busy = readMachineCpuTicks(this.procRoot).busy;
    // /proc/stat counters are not guaranteed monotonic on every kernel; the energy counter is.
    if (busy > this.lastBusy) this.lastBusy = busy;
    const uj = ((this.lastBusy - this.startBusy) * this.microwattsPerCore) / this.ticksPerS;
    return [{ zone: ESTIMATE_ZONE, uj }];
  }

  close(): void {}
}

/** Opens the estimate meter, or says why it cannot (procfs unreadable). */
export function openEstimateMeter(opts: EstimateOptions = {}): MeterProbe {
  try {
    return { ok: true, meter: new EstimateMeter(opts) };
  } catch (err) {
    if (err instanceof InputError) throw err;
    return {
      ok: false,
      meter: ESTIMATE_METER,
      source: 'estimate',
      reason: `cannot read ${opts.procRoot ?? '/proc'}/stat: ${(err as Error).message}`,
      fix: 'mount procfs (or point procRoot at it)',
    };
  }
}
