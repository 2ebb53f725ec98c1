import { InputError } from '../core/errors.ts';
import type { EnergySource, ZoneRole } from '../core/types.ts';
import type { Sampler, WindowEnergy } from './sampler.ts';

export interface IdleBaseline {
  seconds: number;
  zones: Array<{ meter: string; zone: string; source: EnergySource; role: ZoneRole; watts: number }>;
  /** Sum of the `total` zones' idle power. */
  totalW: number;
  source: EnergySource | 'mixed';
}

export interface MeasureIdleOptions {
  /** Waits ms milliseconds (default setTimeout); injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Aborts the wait; the promise then rejects. */
  signal?: AbortSignal;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('idle measurement aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('idle measurement aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Source label of a set of `total` zones: 'estimate' when all are estimated, 'mixed' when
 * measured and estimated zones are combined, else the measured source carrying the most
 * energy (RAPL + NVML are both measured; each zone keeps its own source).
 */
export function combinedSource(zones: Array<{ source: EnergySource; role: ZoneRole; weight: number }>): EnergySource | 'mixed' {
  const totals = zones.filter((z) => z.role === 'total');
  if (totals.length === 0) return 'estimate';
  const estimated = totals.some((z) => z.source === 'estimate');
  const measured = totals.filter((z) => z.source !== 'estimate');
  if (estimated && measured.length > 0) return 'mixed';
  if (estimated) return 'estimate';
  return measured.reduce((best, z) => (z.weight > best.weight ? z : best)).source;
}

/** Idle power per zone from one window (joules / seconds). */
export function idleFromWindow(w: WindowEnergy): IdleBaseline {
  if (w.seconds <= 0) throw new Error('idle window has no duration');
  const zones = w.zones.map((z) => ({ meter: z.meter, zone: z.zone, source: z.source, role: z.role, watts: z.joules / w.seconds }));
  const totalW = zones.filter((z) => z.role === 'total').reduce((s, z) => s + z.watts, 0);
  return { seconds: w.seconds, zones, totalW, source: combinedSource(zones.map((z) => ({ ...z, weight: z.watts }))) };
}

/**
 * Measures idle power: marks, waits `seconds` while the caller keeps the node quiet, marks
 * again. The sampler's timer need not run (the marks read the counters); run it to also
 * see idle peaks elsewhere.
 */
export async function measureIdle(sampler: Sampler, seconds: number, opts: MeasureIdleOptions = {}): Promise<IdleBaseline> {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InputError(`idle baseline duration must be a positive number of seconds, got ${seconds}`, {
      field: 'idle_baseline_s',
      fix: 'set idle_baseline_s to e.g. 30',
    });
  }
  const a = sampler.mark();
  await (opts.sleep ? opts.sleep(seconds * 1000) : defaultSleep(seconds * 1000, opts.signal));
  const b = sampler.mark();
  return idleFromWindow(sampler.window(a, b));
}
