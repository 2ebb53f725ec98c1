import type { Meter, MeterProbe } from './meter.ts';
import { openEstimateMeter } from './estimate.ts';
import { openNvmlMeter, DEFAULT_NVML_LIBRARY } from './nvml.ts';
import { openRaplMeter, type SysfsReader } from './rapl.ts';

export type MeterRefusal = Extract<MeterProbe, { ok: false }>;

export interface OpenMetersOptions {
  /** Root of sysfs (default: env FFWATT_SYSFS, else /sys). */
  sysfsRoot?: string;
  /** Root of procfs for the estimate (default /proc). */
  procRoot?: string;
  /** NVML library to load (default libnvidia-ml.so.1); null: do not try NVML. */
  nvmlLibrary?: string | null;
  /** W per busy logical CPU for the estimate (default: defaultWattsPerLogicalCpu(), from threads per core). */
  wattsPerLogicalCpu?: number;
  /** Environment to read FFWATT_SYSFS from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** File access for sysfs (tests inject permission failures). */
  sysfsReader?: SysfsReader;
}

/**
 * Opens the meters of this machine from the preference list: RAPL (CPU packages), NVML
 * (NVIDIA GPUs), then the estimate for the CPU only when no RAPL counter is usable.
 * Every meter that could not be opened is kept with its reason and fix.
 */
export function openMeters(opts: OpenMetersOptions = {}): { meters: Meter[]; refused: MeterRefusal[] } {
  const env = opts.env ?? process.env;
  const sysfsRoot = opts.sysfsRoot ?? (env.FFWATT_SYSFS || '/sys');
  const meters: Meter[] = [];
  const refused: MeterRefusal[] = [];
  const take = (p: MeterProbe) => {
    if (p.ok) meters.push(p.meter);
    else refused.push(p);
    return p.ok;
  };
  const haveRapl = take(openRaplMeter({ sysfsRoot, reader: opts.sysfsReader }));
  if (opts.nvmlLibrary !== null) take(openNvmlMeter({ library: opts.nvmlLibrary ?? DEFAULT_NVML_LIBRARY }));
  if (!haveRapl)
    take(openEstimateMeter({ procRoot: opts.procRoot, sysfsRoot, wattsPerLogicalCpu: opts.wattsPerLogicalCpu }));
  return { meters, refused };
}

/**
 * Sampling rate for a set of meters: the requested rate, raised where a meter needs more reads
 * per wrap period (RaplMeter.recommendedHz()).
 */
export function samplingHz(meters: Meter[], requestedHz = 10): number {
  let hz = requestedHz;
  for (const m of meters) {
    const rec = (m as Partial<{ recommendedHz(): number }>).recommendedHz;
    if (typeof rec === 'function') hz = Math.max(hz, rec.call(m));
  }
  return hz;
}
