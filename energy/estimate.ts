import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { CounterFile } from './counter-file.ts';
import type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
import { DEFAULT_CLOCK_TICKS_PER_S, readMachineCpuTicks } from './procstat.ts';

/**
 * Power of one busy *physical* core, in W: a deliberately round figure for current server and
 * desktop parts under an encoder load (TDP ÷ cores: a 16-core ~150–200 W part gives ~10 W).
 * The estimate counts busy time per *logical* CPU (/proc/stat), so its default per logical CPU
 * is this figure ÷ the machine's threads per core (defaultWattsPerLogicalCpu()). Replace it
 * with a figure measured on the hardware (`--watts-per-logical-cpu`).
 * Idle power is not modelled: a machine doing nothing costs 0 J in the estimate.
 */
export const WATTS_PER_BUSY_PHYSICAL_CORE = 10;

/** Threads per core of this machine, and where that came from. */
export interface ThreadsPerCore {
  threads: number;
  /** Where the figure came from, for the probe and the docs. */
  from: string;
}

/**
 * Threads per core from the kernel's CPU topology (Documentation/admin-guide/cputopology.rst):
 * logical CPUs ÷ distinct (physical_package_id, core_id) pairs under
 * `<sysfs>/devices/system/cpu/cpuN/topology/`. Null when the topology cannot be read.
 */
export function readThreadsPerCore(sysfsRoot = '/sys'): ThreadsPerCore | null {
  const dir = join(sysfsRoot, 'devices', 'system', 'cpu');
  let cpus: string[];
  try {
    cpus = readdirSync(dir).filter((d) => /^cpu\d+$/.test(d));
  } catch {
    return null;
  }
  const cores = new Set<string>();
  let logical = 0;
  for (const cpu of cpus) {
    try {
      const pkg = readFileSync(join(dir, cpu, 'topology', 'physical_package_id'), 'utf8').trim();
      const core = readFileSync(join(dir, cpu, 'topology', 'core_id'), 'utf8').trim();
      cores.add(`${pkg}/${core}`);
      logical += 1;
    } catch {
      // an offline CPU has no topology directory: it is not counted
    }
  }
  if (logical === 0 || cores.size === 0) return null;
  return {
    threads: logical / cores.size,
    from: `${logical} logical CPUs on ${cores.size} cores (${dir}/cpu*/topology)`,
  };
}

/** Default W per busy logical CPU: WATTS_PER_BUSY_PHYSICAL_CORE ÷ threads per core (1 when unknown, said so). */
export function defaultWattsPerLogicalCpu(sysfsRoot = '/sys'): { watts: number; origin: string } {
  const t = readThreadsPerCore(sysfsRoot);
  if (!t) {
    return {
      watts: WATTS_PER_BUSY_PHYSICAL_CORE,
      origin: `default ${WATTS_PER_BUSY_PHYSICAL_CORE} W per busy core ÷ 1 thread per core (CPU topology unreadable under ${sysfsRoot}: assumed 1)`,
    };
  }
  const watts = WATTS_PER_BUSY_PHYSICAL_CORE / t.threads;
  return {
    watts,
    origin: `default ${WATTS_PER_BUSY_PHYSICAL_CORE} W per busy core ÷ ${t.threads} thread(s) per core (${t.from})`,
  };
}

/** The flag that names the estimate's unit, and the old one it replaced (rejected, exit 2). */
export const WATTS_FLAG = '--watts-per-logical-cpu';
export const OLD_WATTS_FLAG = '--watts-per-core';

/** Throws an InputError naming the new flag when the old --watts-per-core was given. */
export function rejectOldWattsFlag(oldValue: unknown): void {
  if (oldValue === undefined) return;
  throw new InputError(
    `${OLD_WATTS_FLAG} was renamed ${WATTS_FLAG}: the estimate counts busy time per logical CPU (a hardware thread), not per core`,
    {
      field: OLD_WATTS_FLAG,
      fix: `use ${WATTS_FLAG} ${String(oldValue)} if that figure is the power of one busy logical CPU (a core's figure ÷ threads per core)`,
    },
  );
}

export interface EstimateOptions {
  /** Root of procfs (default /proc). */
  procRoot?: string;
  /** Root of sysfs, for the CPU topology behind the default (default /sys). */
  sysfsRoot?: string;
  /** W drawn by one fully busy logical CPU (default defaultWattsPerLogicalCpu()). */
  wattsPerLogicalCpu?: number;
  /** USER_HZ of /proc/stat (default 100). */
  clockTicksPerS?: number;
}

export const ESTIMATE_METER = 'estimate';
export const ESTIMATE_ZONE = 'cpu';

/**
 * The fallback meter: machine-wide busy CPU time from /proc/stat × a per-logical-CPU watt figure,
 * as a monotonic µJ counter that starts at 0 when the meter is opened. Every figure it
 * produces carries source `estimate`.
 */
export class EstimateMeter implements Meter {
  readonly name = ESTIMATE_METER;
  readonly source = 'estimate' as const;
  readonly procRoot: string;
  readonly wattsPerLogicalCpu: number;
  /** Where wattsPerLogicalCpu came from (given, or the default and its threads per core). */
  readonly wattsOrigin: string;
  private readonly microwattsPerCpu: bigint;
  private readonly ticksPerS: bigint;
  private readonly startBusy: bigint;
  private lastBusy: bigint;
  private readonly stat: CounterFile;
  private readonly samples: ZoneSample[] = [{ zone: ESTIMATE_ZONE, uj: 0n }];

  constructor(opts: EstimateOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    if (opts.wattsPerLogicalCpu !== undefined) {
      this.wattsPerLogicalCpu = opts.wattsPerLogicalCpu;
      this.wattsOrigin = 'given with --watts-per-logical-cpu';
    } else {
      const d = defaultWattsPerLogicalCpu(opts.sysfsRoot);
      this.wattsPerLogicalCpu = d.watts;
      this.wattsOrigin = d.origin;
    }
    if (!Number.isFinite(this.wattsPerLogicalCpu) || this.wattsPerLogicalCpu <= 0) {
      throw new InputError(
        `--watts-per-logical-cpu must be a positive number of watts, got ${opts.wattsPerLogicalCpu}`,
        {
          field: '--watts-per-logical-cpu',
          fix: `set it to the power of one busy logical CPU of this machine (default ${WATTS_PER_BUSY_PHYSICAL_CORE} W per busy core ÷ threads per core)`,
        },
      );
    }
    const ticks = opts.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
    if (!Number.isInteger(ticks) || ticks <= 0) {
      throw new InputError(`clockTicksPerS must be a positive integer, got ${ticks}`, { field: 'clockTicksPerS' });
    }
    this.microwattsPerCpu = BigInt(Math.round(this.wattsPerLogicalCpu * 1e6));
    this.ticksPerS = BigInt(ticks);
    this.startBusy = readMachineCpuTicks(this.procRoot).busy;
    this.lastBusy = this.startBusy;
    this.stat = new CounterFile(join(this.procRoot, 'stat'));
  }

  zones(): ZoneInfo[] {
    return [{ meter: this.name, zone: ESTIMATE_ZONE, source: 'estimate', role: 'total' }];
  }

  /** The returned array and its object are reused by the next read(). */
  read(): ZoneSample[] {
    const busy = BigInt(this.stat.readProcStatBusy());
    // /proc/stat counters are not guaranteed monotonic on every kernel; the energy counter is.
    if (busy > this.lastBusy) {
      this.lastBusy = busy;
      this.samples[0].uj = ((busy - this.startBusy) * this.microwattsPerCpu) / this.ticksPerS;
    }
    return this.samples;
  }

  close(): void {
    this.stat.close();
  }
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
      state: 'unusable',
    };
  }
}
