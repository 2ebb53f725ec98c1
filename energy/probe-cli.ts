import { EXIT_OK, EXIT_RUN_FAILED } from '../core/errors.ts';
import type { EnergySource } from '../core/types.ts';
import { EstimateMeter } from './estimate.ts';
import { combinedSource } from './idle.ts';
import { openMeters, samplingHz, type MeterRefusal } from './open.ts';
import type { Meter } from './meter.ts';
import { NvmlMeter } from './nvml.ts';
import { readPreflight, type Preflight } from './preflight.ts';
import { RaplMeter, TOPOLOGY_SUSPECT_FLAG, TOPOLOGY_SUSPECT_MARGIN } from './rapl.ts';
import { Sampler } from './sampler.ts';
import { joulesFromUj } from './units.ts';

/**
 * `ffwatt energy probe`: what this machine can measure, in plain words. Lists the meters
 * found and refused (with the fix), their zones, whether they read, their wrap range, and a
 * short reading; then the validity preflight.
 */

export interface EnergyProbeOptions {
  /** sysfs root (default: env FFWATT_SYSFS, else /sys). */
  sysfs?: string;
  json?: boolean;
  /** NVML library (default libnvidia-ml.so.1). */
  nvmlLibrary?: string;
  out?: (s: string) => void;
  /** Length of the reading (default 2 s). */
  seconds?: number;
  /** procfs root for the estimate (default /proc). */
  procRoot?: string;
  env?: NodeJS.ProcessEnv;
}

interface ProbeZone {
  zone: string;
  role: string;
  /** Why the zone has its role where that is not obvious (mirror, second interface, psys). */
  note?: string;
  source: EnergySource;
  readable: boolean;
  wrapRangeJ: number | null;
  joules: number | null;
  avgW: number | null;
}

export interface EnergyProbeReport {
  sysfs: string;
  meters: Array<{ meter: string; source: EnergySource; detail: string; zones: ProbeZone[]; notes: string[] }>;
  refused: MeterRefusal[];
  reading: {
    seconds: number;
    /** Machine total: the sum of the `total` zones (packages, their dram, GPUs, or the estimate). */
    totalW: number | null;
    source: EnergySource | 'mixed' | null;
    /** Sum of the RAPL platform zones (psys, psys-N); null without one. */
    platformW: number | null;
    /** RAPL part of the total (packages + dram), compared with platformW. */
    raplTotalW: number | null;
    /** `topology-suspect` when raplTotalW is above platformW by more than 5 %. */
    flags: string[];
    errors: Array<{ meter: string; last: string }>;
  };
  recommendedHz: number;
  preflight: Preflight;
}

function describeMeter(m: Meter): { detail: string; notes: string[] } {
  if (m instanceof EstimateMeter) {
    return {
      detail: `ESTIMATE, not a measurement: machine-wide busy CPU time from ${m.procRoot}/stat × ${m.wattsPerLogicalCpu} W per busy logical CPU (${m.wattsOrigin}); idle power is not modelled. Every figure from it is labelled source=estimate.`,
      notes: [],
    };
  }
  if (m instanceof RaplMeter) {
    const sockets = new Set(
      m
        .details()
        .filter((z) => z.role === 'total' && z.parentId === null)
        .map((z) => z.socket)
        .filter((s) => s !== null),
    );
    return {
      detail: `RAPL energy counters (powercap), ${sockets.size || 'no'} package socket(s); machine total = packages + their dram; core/uncore are components, never added; psys is reported apart.`,
      notes: m.topologyNotes,
    };
  }
  if (m instanceof NvmlMeter) {
    const d = m
      .devices()
      .map(
        (g) => `${g.zone} ${g.name} (${g.energyFrom === 'counter' ? 'energy counter' : 'integrated power readings'})`,
      );
    const restarts = Object.entries(m.restarts())
      .filter(([, n]) => n > 0)
      .map(([z, n]) => `${z}: energy counter restarted ${n}× (driver reload); the window was split there`);
    return { detail: `NVIDIA GPUs through NVML: ${d.join(', ')}`, notes: [...m.notes, ...restarts] };
  }
  return { detail: m.name, notes: [] };
}

export async function buildEnergyProbeReport(opts: EnergyProbeOptions = {}): Promise<EnergyProbeReport> {
  const env = opts.env ?? process.env;
  const sysfs = opts.sysfs ?? (env.FFWATT_SYSFS || '/sys');
  const { meters, refused } = openMeters({
    sysfsRoot: sysfs,
    nvmlLibrary: opts.nvmlLibrary,
    procRoot: opts.procRoot,
    env,
  });
  try {
    const seconds = opts.seconds ?? 2;
    const sampler = new Sampler(meters, { hz: 10 });
    sampler.start();
    const a = sampler.mark();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = sampler.mark();
    sampler.stop();
    const w = sampler.window(a, b);
    const ranges = new Map(
      meters.flatMap((m) => m.zones().map((z) => [`${z.meter}/${z.zone}`, z.maxRangeUj ?? null] as const)),
    );
    const report: EnergyProbeReport = {
      sysfs,
      meters: meters.map((m) => {
        const { detail, notes } = describeMeter(m);
        return {
          meter: m.name,
          source: m.source,
          detail,
          notes,
          zones: m.zones().map((z) => {
            const got = w.zones.find((x) => x.meter === z.meter && x.zone === z.zone);
            const range = ranges.get(`${z.meter}/${z.zone}`);
            return {
              zone: z.zone,
              role: z.role,
              ...(z.note ? { note: z.note } : {}),
              source: z.source,
              readable: got !== undefined,
              wrapRangeJ: range ? joulesFromUj(range) : null,
              joules: got ? got.joules : null,
              avgW: got ? got.avgW : null,
            };
          }),
        };
      }),
      refused,
      reading: {
        seconds: w.seconds,
        totalW: sumW(w.zones.filter((z) => z.role === 'total')),
        source: w.zones.some((z) => z.role === 'total')
          ? combinedSource(w.zones.map((z) => ({ source: z.source, role: z.role, weight: z.joules })))
          : null,
        platformW: sumW(w.zones.filter((z) => z.role === 'platform')),
        raplTotalW: sumW(w.zones.filter((z) => z.role === 'total' && z.source === 'rapl')),
        flags: [],
        errors: sampler.errors().map(({ meter, last }) => ({ meter, last })),
      },
      recommendedHz: samplingHz(meters),
      preflight: readPreflight({ sysfsRoot: sysfs }),
    };
    const { platformW, raplTotalW } = report.reading;
    if (platformW !== null && raplTotalW !== null && raplTotalW > platformW * (1 + TOPOLOGY_SUSPECT_MARGIN))
      report.reading.flags.push(TOPOLOGY_SUSPECT_FLAG);
    return report;
  } finally {
    for (const m of meters) m.close();
  }
}

const sumW = (zones: Array<{ avgW: number }>) => (zones.length > 0 ? zones.reduce((s, z) => s + z.avgW, 0) : null);

const KIND: Record<string, string> = {
  rapl: 'RAPL (CPU energy counters)',
  nvml: 'NVML (NVIDIA GPUs)',
  estimate: 'Estimate (CPU time model)',
};
const fmt = (n: number, digits = 2) => n.toFixed(digits);

export function renderEnergyProbe(r: EnergyProbeReport): string {
  const lines: string[] = [`Energy meters on this machine (sysfs root ${r.sysfs}):`, ''];
  for (const m of r.meters) {
    lines.push(`  ${KIND[m.meter] ?? m.meter}: IN USE. ${m.detail}`);
    for (const n of m.notes) lines.push(`    note: ${n}`);
  }
  for (const x of r.refused) {
    lines.push(
      `  ${KIND[x.meter] ?? x.meter}: ${x.state === 'absent' ? 'ABSENT (this machine does not have it)' : 'UNUSABLE (present, cannot be read)'}. ${x.reason}.`,
    );
    if (x.fix) lines.push(`    fix: ${x.fix}`);
  }
  const measured = r.meters.filter((m) => m.source !== 'estimate');
  lines.push('');
  if (r.meters.length === 0)
    lines.push('No meter can be used here: ffwatt cannot give energy figures on this machine.');
  else if (measured.length === 0)
    lines.push('No hardware energy counter here: energy figures will be ESTIMATES (labelled estimate everywhere).');
  else if (r.meters.some((m) => m.source === 'estimate'))
    lines.push('CPU energy is estimated, GPU energy is measured: totals are labelled mixed.');
  else lines.push('Energy is measured by hardware counters.');

  if (r.meters.length > 0) {
    lines.push('', `Zones, and a ${fmt(r.reading.seconds, 1)}-second reading:`);
    for (const m of r.meters) {
      for (const z of m.zones) {
        const reading = z.readable ? `${fmt(z.joules!, 3)} J, ${fmt(z.avgW!)} W average` : 'NOT READABLE';
        const wrap = z.wrapRangeJ !== null ? `wraps every ${fmt(z.wrapRangeJ, 0)} J` : 'does not wrap';
        lines.push(`  ${m.meter}/${z.zone}: ${z.role}, source ${z.source}, ${wrap}; ${reading}`);
        if (z.note) lines.push(`    (${z.note})`);
      }
    }
    if (r.reading.totalW !== null)
      lines.push(`  machine total (sum of total zones): ${fmt(r.reading.totalW)} W, source ${r.reading.source}`);
    if (r.reading.platformW !== null) {
      const vs =
        r.reading.raplTotalW === null || r.reading.platformW <= 0
          ? ''
          : `; RAPL total ${fmt(r.reading.raplTotalW)} W is ${fmt((r.reading.raplTotalW / r.reading.platformW) * 100, 1)} % of it`;
      lines.push(`  platform (psys): ${fmt(r.reading.platformW)} W${vs}`);
    }
    if (r.reading.flags.includes(TOPOLOGY_SUSPECT_FLAG)) {
      lines.push(
        `  ${TOPOLOGY_SUSPECT_FLAG}: the RAPL total is more than ${TOPOLOGY_SUSPECT_MARGIN * 100} % above the platform zone, which covers it: zones are likely counted wrong here (runs get this flag)`,
      );
    }
    for (const e of r.reading.errors) lines.push(`  read error from ${e.meter}: ${e.last}`);
    lines.push(`  sampling: ${fmt(r.recommendedHz, 1)} Hz is enough for at least 4 reads per counter wrap`);
  }

  const p = r.preflight;
  lines.push('', 'Machine state (validity preflight):');
  lines.push(
    `  CPU governor: ${
      p.governor === null
        ? 'unknown'
        : p.governor === 'mixed'
          ? `mixed (${Object.entries(p.governors)
              .map(([g, n]) => `${n}× ${g}`)
              .join(', ')})`
          : p.governor
    }`,
  );
  lines.push(`  turbo/boost: ${p.turbo ?? 'unknown'}${p.turboSource ? ` (${p.turboSource})` : ''}`);
  lines.push(
    `  temperatures: ${p.temperatures.length ? p.temperatures.map((t) => `${t.sensor} ${fmt(t.celsius, 1)} °C`).join(', ') : 'none readable'}`,
  );
  for (const n of p.notes) lines.push(`  note: ${n}`);
  return lines.join('\n') + '\n';
}

/** Runs the probe and prints it; exit code 0 when some meter works, 1 when none does. */
export async function energyProbeCommand(opts: EnergyProbeOptions = {}): Promise<number> {
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  const report = await buildEnergyProbeReport(opts);
  out(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderEnergyProbe(report));
  return report.meters.length > 0 ? EXIT_OK : EXIT_RUN_FAILED;
}
