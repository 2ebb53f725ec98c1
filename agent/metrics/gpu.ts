// GPU engine utilization. The sampler keeps energy only, so utilization is asked of NVML at
// scrape time (a few library calls per GPU, no file read).
import { Gauge, type Registry } from 'prom-client';
import type { Meter } from '../../energy/index.ts';

export type GpuEngine = 'encoder' | 'decoder' | 'sm';

export interface GpuStat {
  gpu: string;
  engine: GpuEngine;
  ratio: number;
}

/** What a meter that knows GPU utilization offers (energy/nvml.ts NvmlMeter.readings()). */
interface GpuReadingSource {
  readings(): Array<{
    gpu: string;
    zone?: string;
    utilization: { gpu: number | null; encoder: number | null; decoder: number | null };
  }>;
}

const hasGpuReadings = (m: Meter): m is Meter & GpuReadingSource =>
  typeof (m as Partial<GpuReadingSource>).readings === 'function';

/**
 * GPU engine utilization from the meters that report it (the NVML meter), labelled by the
 * GPU's zone (gpu0, …) so it lines up with that GPU's energy and power series. Engines a
 * GPU does not report are left out, not zero.
 */
export function gpuStatsFromMeters(meters: () => readonly Meter[]): () => GpuStat[] {
  return () =>
    meters()
      .filter(hasGpuReadings)
      .flatMap((m) =>
        m.readings().flatMap((r) => {
          const gpu = r.zone ?? r.gpu;
          const out: GpuStat[] = [];
          if (r.utilization.encoder !== null) out.push({ gpu, engine: 'encoder', ratio: r.utilization.encoder });
          if (r.utilization.decoder !== null) out.push({ gpu, engine: 'decoder', ratio: r.utilization.decoder });
          if (r.utilization.gpu !== null) out.push({ gpu, engine: 'sm', ratio: r.utilization.gpu });
          return out;
        }),
      );
}

export interface GpuCollectors {
  /** Whether the last scrape got the GPU figures (`ffwatt_collector_success{collector="gpu_stats"}`). */
  statsOk(): boolean;
}

export function registerGpuCollectors(registry: Registry, gpuStats: () => GpuStat[]): GpuCollectors {
  let ok = true;
  new Gauge({
    name: 'ffwatt_gpu_utilization_ratio',
    help: 'Utilization of a GPU engine (encoder, decoder, sm) as a ratio 0..1.',
    labelNames: ['gpu', 'engine'],
    registers: [registry],
    collect() {
      this.reset();
      try {
        for (const g of gpuStats()) this.set({ gpu: g.gpu, engine: g.engine }, g.ratio);
        ok = true;
      } catch {
        this.reset();
        ok = false;
      }
    },
  });
  return { statsOk: () => ok };
}
