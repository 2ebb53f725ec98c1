import { InputError } from '../core/errors.ts';
import type { EnergySource, IdleBaselineInfo, RunEnergy, ZoneRole } from '../core/types.ts';
import { NOISY_NEIGHBOUR_CORES, packageTemperature, readPreflight } from './preflight.ts';
import { ProcTreeMonitor } from './proctree.ts';
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
export function combinedSource(
  zones: Array<{ source: EnergySource; role: ZoneRole; weight: number }>,
): EnergySource | 'mixed' {
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
  const zones = w.zones.map((z) => ({
    meter: z.meter,
    zone: z.zone,
    source: z.source,
    role: z.role,
    watts: z.joules / w.seconds,
  }));
  const totalW = zones.filter((z) => z.role === 'total').reduce((s, z) => s + z.watts, 0);
  return { seconds: w.seconds, zones, totalW, source: combinedSource(zones.map((z) => ({ ...z, weight: z.watts }))) };
}

/**
 * Measures idle power: marks, waits `seconds` while the caller keeps the node quiet, marks
 * again. The sampler's timer need not run (the marks read the counters); run it to also
 * see idle peaks elsewhere.
 */
export async function measureIdle(
  sampler: Sampler,
  seconds: number,
  opts: MeasureIdleOptions = {},
): Promise<IdleBaseline> {
  checkSeconds(seconds);
  const a = sampler.mark();
  await (opts.sleep ? opts.sleep(seconds * 1000) : defaultSleep(seconds * 1000, opts.signal));
  const b = sampler.mark();
  return idleFromWindow(sampler.window(a, b));
}

function checkSeconds(seconds: number): void {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InputError(`idle baseline duration must be a positive number of seconds, got ${seconds}`, {
      field: 'idle_baseline_s',
      fix: 'set idle_baseline_s to e.g. 30',
    });
  }
}

/** Attempts a baseline gets before it is given up as dirty (each lasts the campaign's idle_baseline_s). */
export const DEFAULT_IDLE_ATTEMPTS = 3;

export interface CleanIdleOptions extends MeasureIdleOptions {
  /** Attempts before giving up (default 3). */
  maxAttempts?: number;
  /** Other processes' CPU, in busy cores, above which an attempt is refused (default: the noisy-neighbour threshold, 0.25). */
  maxLoadCores?: number;
  /** Root of the measurer's own process tree, whose CPU is not "other" load (default this process). */
  ownPid?: number;
  procRoot?: string;
  sysfsRoot?: string;
  /** Package temperature now (default: read from the sysfs root). */
  readPackageTemperature?: () => ReturnType<typeof packageTemperature>;
  /** Told each refused attempt, e.g. for a log line. */
  onRefused?: (attempt: number, reason: string) => void;
}

/** A baseline and the record of how it was taken. */
export interface MeasuredIdle {
  baseline: IdleBaseline;
  info: IdleBaselineInfo;
}

/**
 * Measures a clean idle baseline: one window of `seconds`, refused and measured again (up to
 * maxAttempts) while other processes keep more than maxLoadCores busy or a total zone could
 * not be read. Records the other load and the package temperature of the attempt kept. When
 * no attempt is clean, the last one comes back with `clean: false`: its watts are for the
 * record only, never for a net figure.
 */
export async function measureCleanIdle(
  sampler: Sampler,
  seconds: number,
  opts: CleanIdleOptions = {},
): Promise<MeasuredIdle> {
  checkSeconds(seconds);
  const maxAttempts = opts.maxAttempts ?? DEFAULT_IDLE_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new InputError(`idle baseline attempts must be a whole number ≥ 1, got ${maxAttempts}`, {
      field: 'idle baseline attempts',
    });
  }
  const maxLoadCores = opts.maxLoadCores ?? NOISY_NEIGHBOUR_CORES;
  const readTemp =
    opts.readPackageTemperature ?? (() => packageTemperature(readPreflight({ sysfsRoot: opts.sysfsRoot })));
  const refusals: string[] = [];
  let last: MeasuredIdle | null = null;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const temp = readTemp();
    const own = new ProcTreeMonitor(opts.ownPid ?? process.pid, { procRoot: opts.procRoot });
    const startedAt = new Date();
    own.sample();
    const a = sampler.mark();
    await (opts.sleep ? opts.sleep(seconds * 1000) : defaultSleep(seconds * 1000, opts.signal));
    const b = sampler.mark();
    own.sample();
    const endedAt = new Date();
    const w = sampler.window(a, b);
    const baseline = idleFromWindow(w);
    const loadCores = own.usage().otherCpuSeconds / w.seconds;
    const problems: string[] = [];
    if (loadCores > maxLoadCores)
      problems.push(
        `other processes kept ${loadCores.toFixed(2)} CPU cores busy (noisy-neighbour threshold ${maxLoadCores})`,
      );
    const missing = (w.missing ?? []).filter((m) => m.role === 'total');
    if (missing.length > 0)
      problems.push(`zone missing: ${missing.map((m) => `${m.meter}/${m.zone} (${m.reason})`).join(', ')}`);
    const hasTotal = baseline.zones.some((z) => z.role === 'total');
    if (!hasTotal) problems.push('no total zone was read');
    const clean = problems.length === 0;
    if (!clean) {
      const reason = `attempt ${attempt}: ${problems.join('; ')}`;
      refusals.push(reason);
      opts.onRefused?.(attempt, reason);
    }
    last = {
      baseline,
      info: {
        watts: hasTotal ? baseline.totalW : null,
        seconds: w.seconds,
        loadCores,
        maxLoadCores,
        tempC: temp.celsius,
        tempSensor: temp.celsius === null ? null : temp.sensor,
        attempts: attempt,
        maxAttempts,
        clean,
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
        reused: false,
        refusals: [...refusals],
        notes: temp.celsius === null ? [temp.note] : [],
      },
    };
    if (clean) return last;
  }
  return last!;
}

/**
 * Why a run's net figure is unusable, in words for the record (`energy.netExplanation`), or
 * null when it is fine: a dirty baseline (no net figure at all), or a net figure ≤ 0.
 */
export function explainNet(
  energy: Pick<RunEnergy, 'netJ' | 'grossJ' | 'idleW' | 'windowS'>,
  baseline: IdleBaselineInfo | null,
): string | null {
  if (baseline && !baseline.clean) {
    return `no net figure: the idle baseline was not clean in ${baseline.attempts} attempt(s) of ${baseline.seconds.toFixed(1)} s (${baseline.refusals.join('; ')}); flagged idle-baseline-dirty, gross figures only`;
  }
  if (energy.netJ === null || energy.netJ > 0 || energy.idleW === null) return null;
  const idleJ = energy.idleW * energy.windowS;
  return (
    `net energy ${energy.netJ.toFixed(2)} J ≤ 0: the window drew ${energy.grossJ.toFixed(2)} J in ${energy.windowS.toFixed(2)} s, no more than the idle baseline ` +
    `(${energy.idleW.toFixed(2)} W × ${energy.windowS.toFixed(2)} s = ${idleJ.toFixed(2)} J). An encode costs more than nothing, so the baseline was taken at a higher draw ` +
    'than the encode ran at (other load or a power state during the baseline, a meter that under-reads, or an encode too light to rise above idle noise). ' +
    'The figure is kept for inspection, flagged net-energy-nonpositive, and never ranked'
  );
}
