import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MeterProbe } from './meter.ts';

export interface RaplOptions {
  /** Root of sysfs (default /sys); the powercap tree is `<sysfsRoot>/class/powercap`. */
  sysfsRoot?: string;
}

/** Opens the RAPL meter from the powercap tree, or says why there is none. */
export function openRaplMeter(opts: RaplOptions = {}): MeterProbe {
  const dir = join(opts.sysfsRoot ?? '/sys', 'class', 'powercap');
  if (!existsSync(dir)) {
    return {
      ok: false,
      meter: 'rapl',
      source: 'rapl',
      reason: `no RAPL: ${dir} does not exist (a VM, a container without /sys, or a CPU without RAPL)`,
      fix: 'run on bare metal with the intel_rapl_msr (Intel/AMD) module loaded: modprobe intel_rapl_msr',
    };
  }
  return { ok: false, meter: 'rapl', source: 'rapl', reason: `RAPL reader not available yet for ${dir}` };
}
