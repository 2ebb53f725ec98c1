import type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
import { loadNvml, NvmlError, type NvmlDevice, type NvmlLib } from './nvml-lib.ts';

/**
 * NVIDIA GPUs through NVML. Energy comes from the driver's energy counter
 * (nvmlDeviceGetTotalEnergyConsumption, mJ, Volta and newer) where it works; otherwise the
 * meter integrates nvmlDeviceGetPowerUsage (mW) over its reads, so the sampling rate then
 * sets the accuracy (and the driver's own power averaging window smooths short spikes).
 */

export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';

export interface NvmlOptions {
  /** Library to load (default libnvidia-ml.so.1 from the loader path). */
  library?: string;
  /** Monotonic clock in ns for power integration (default process.hrtime.bigint). */
  now?: () => bigint;
}

export interface NvmlGpu {
  index: number;
  zone: string;
  name: string;
  uuid: string | null;
  /** `counter`: the driver's energy counter; `power`: integrated power readings. */
  energyFrom: 'counter' | 'power';
}

/** Readings for exporters (`ffwatt_gpu_utilization_ratio{gpu,engine}`); null where the GPU does not say. */
export interface NvmlGpuReading {
  gpu: string;
  zone: string;
  name: string;
  powerW: number | null;
  utilization: { gpu: number | null; memory: number | null; encoder: number | null; decoder: number | null };
  smClockMhz: number | null;
  temperatureC: number | null;
}

interface GpuState extends NvmlGpu {
  device: NvmlDevice;
  lastT: bigint | null;
  lastMw: number | null;
  /** Integrated µJ (power mode). */
  integratedUj: bigint;
  /** Counter mode: last raw driver reading (µJ), the monotonic sum, and restarts seen. */
  lastRawUj: bigint | null;
  counterUj: bigint;
  restarts: number;
}

const orNull = <T>(f: () => T): T | null => {
  try {
    return f();
  } catch {
    return null;
  }
};

export class NvmlMeter implements Meter {
  readonly name = 'nvml';
  readonly source = 'nvml' as const;
  private closed = false;
  private readonly samples: ZoneSample[];

  constructor(
    private readonly lib: NvmlLib,
    private readonly gpus: GpuState[],
    private readonly now: () => bigint,
    /** GPUs left out, with why (no energy and no power reading). */
    readonly notes: string[] = [],
  ) {
    this.samples = gpus.map((g) => ({ zone: g.zone, uj: 0n }));
  }

  zones(): ZoneInfo[] {
    return this.gpus.map((g) => ({ meter: this.name, zone: g.zone, source: 'nvml', role: 'total' }));
  }

  /** Energy-counter restarts (driver reloads) seen per GPU zone. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this.gpus.map((g) => [g.zone, g.restarts]));
  }

  devices(): NvmlGpu[] {
    return this.gpus.map(({ index, zone, name, uuid, energyFrom }) => ({ index, zone, name, uuid, energyFrom }));
  }

  /** The returned array and its objects are reused by the next read(). */
  read(): ZoneSample[] {
    const gpus = this.gpus;
    for (let i = 0; i < gpus.length; i++) {
      const g = gpus[i];
      if (g.energyFrom === 'counter') {
        // The driver counts mJ "since the driver was last reloaded" (NVML reference,
        // nvmlDeviceGetTotalEnergyConsumption): a reading below the last one is a reload, the
        // counter restarted at 0. As with a RAPL wrap the window is split there: energy up to the
        // last reading before, plus the new reading after (what was used between that reading and
        // the reload cannot be seen), so a window never gets negative joules.
        const raw = this.lib.totalEnergyMj(g.device) * 1000n;
        if (g.lastRawUj === null) g.counterUj = raw;
        else if (raw >= g.lastRawUj) g.counterUj += raw - g.lastRawUj;
        else {
          g.restarts += 1;
          g.counterUj += raw;
        }
        g.lastRawUj = raw;
        this.samples[i].uj = g.counterUj;
        continue;
      }
      const mw = this.lib.powerMw(g.device);
      const t = this.now();
      if (g.lastT !== null && g.lastMw !== null && t > g.lastT) {
        // trapezoid: mean of the two readings × elapsed time; mW × ns / 1e6 = µJ
        const avgMw2 = BigInt(g.lastMw + mw); // twice the mean, kept integral
        g.integratedUj += (avgMw2 * (t - g.lastT)) / 2_000_000n;
      }
      g.lastT = t;
      g.lastMw = mw;
      this.samples[i].uj = g.integratedUj;
    }
    return this.samples;
  }

  /** Utilization, clock, temperature and power of every GPU now. */
  readings(): NvmlGpuReading[] {
    return this.gpus.map((g) => {
      const util = orNull(() => this.lib.utilization(g.device));
      const enc = orNull(() => this.lib.encoderUtilization(g.device));
      const dec = orNull(() => this.lib.decoderUtilization(g.device));
      const mw = orNull(() => this.lib.powerMw(g.device));
      return {
        gpu: String(g.index),
        zone: g.zone,
        name: g.name,
        powerW: mw === null ? null : mw / 1000,
        utilization: {
          gpu: util ? util.gpu / 100 : null,
          memory: util ? util.memory / 100 : null,
          encoder: enc ? enc.percent / 100 : null,
          decoder: dec ? dec.percent / 100 : null,
        },
        smClockMhz: orNull(() => this.lib.clockMhz(g.device, 'sm')),
        temperatureC: orNull(() => this.lib.temperatureC(g.device)),
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    orNull(() => this.lib.shutdown());
  }
}

const FIX_DRIVER =
  'install the NVIDIA driver (it ships libnvidia-ml.so.1) on hosts with an NVIDIA GPU; elsewhere there is nothing to do';

/** Opens the NVML meter, or says why there is none (no library is a state, not an error). */
export function openNvmlMeter(opts: NvmlOptions = {}): MeterProbe {
  const library = opts.library ?? DEFAULT_NVML_LIBRARY;
  const refuse = (reason: string, fix = FIX_DRIVER, state: 'absent' | 'unusable' = 'unusable'): MeterProbe => ({
    ok: false,
    meter: 'nvml',
    source: 'nvml',
    reason,
    fix,
    state,
  });
  const loaded = loadNvml(library);
  if (!loaded.ok)
    return refuse(
      `no NVIDIA driver library: ${library} could not be loaded (${loaded.reason})`,
      FIX_DRIVER,
      loaded.missing ? 'absent' : 'unusable',
    );
  const lib = loaded.lib;
  try {
    lib.init();
  } catch (err) {
    return refuse(
      `NVML did not start: ${(err as Error).message}`,
      'check that the NVIDIA kernel driver is loaded (nvidia-smi should list the GPUs)',
    );
  }
  const gpus: GpuState[] = [];
  const skipped: string[] = [];
  try {
    const count = lib.deviceCount();
    for (let index = 0; index < count; index++) {
      const device = lib.device(index);
      const name = orNull(() => lib.name(device)) ?? `GPU ${index}`;
      const uuid = orNull(() => lib.uuid(device));
      let energyFrom: NvmlGpu['energyFrom'] | null = null;
      try {
        lib.totalEnergyMj(device);
        energyFrom = 'counter';
      } catch (err) {
        if (!(err instanceof NvmlError)) throw err;
        if (orNull(() => lib.powerMw(device)) !== null) energyFrom = 'power';
      }
      if (energyFrom === null) {
        skipped.push(`GPU ${index} (${name}) reports neither energy nor power`);
        continue;
      }
      gpus.push({
        index,
        zone: `gpu${index}`,
        name,
        uuid,
        energyFrom,
        device,
        lastT: null,
        lastMw: null,
        integratedUj: 0n,
        lastRawUj: null,
        counterUj: 0n,
        restarts: 0,
      });
    }
  } catch (err) {
    orNull(() => lib.shutdown());
    return refuse(`NVML could not list the GPUs: ${(err as Error).message}`, 'check the NVIDIA driver with nvidia-smi');
  }
  if (gpus.length === 0) {
    orNull(() => lib.shutdown());
    return skipped.length
      ? refuse(
          `no NVIDIA GPU with an energy or power reading: ${skipped.join('; ')}`,
          'nothing ffwatt can measure on these GPUs',
        )
      : refuse('NVML found no NVIDIA GPU', 'nothing to do on a host without an NVIDIA GPU', 'absent');
  }
  const meter = new NvmlMeter(lib, gpus, opts.now ?? (() => process.hrtime.bigint()), skipped);
  meter.read(); // first reading: power integration starts here
  return { ok: true, meter };
}
