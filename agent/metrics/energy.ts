// Energy collectors: the sampler's latest tick, formatted. The exporter reads no meter itself
// (energy/sampler.ts reads them, docs/metrics.md), so the counters are exactly what the
// sampler integrated and a scrape costs no meter read, however often it comes.
import type { Registry } from 'prom-client';
import type { SamplerSnapshot } from '../../energy/index.ts';
import { registerSnapshotMetric, type SnapshotSeries } from './snapshot-metric.ts';

/** The part of energy/sampler.ts Sampler the exporter uses. */
export interface EnergySnapshotSource {
  /** The latest tick's readings; a sampler whose timer is off ticks first when its latest tick is over one interval old. */
  currentSnapshot(): SamplerSnapshot;
}

export interface EnergyCollectors {
  /** Whether the last scrape could take the sampler's snapshot (`ffwatt_collector_success{collector="meters"}`). */
  snapshotOk(): boolean;
}

type ZoneLabel = 'meter' | 'zone' | 'source' | 'role';
type MeterLabel = 'meter' | 'source';

export function registerEnergyCollectors(registry: Registry, sampler: EnergySnapshotSource): EnergyCollectors {
  let ok = true;

  /** The sampler's snapshot (built once per tick, so every collector of a scrape shares it); null when it cannot be taken. */
  function current(): SamplerSnapshot | null {
    try {
      const snap = sampler.currentSnapshot();
      ok = true;
      return snap;
    } catch {
      ok = false;
      return null;
    }
  }

  const zoneSeries =
    (pick: (z: SamplerSnapshot['zones'][number]) => number | null) => (): Array<SnapshotSeries<ZoneLabel>> => {
      const out: Array<SnapshotSeries<ZoneLabel>> = [];
      const snap = current();
      if (!snap) return out;
      for (const z of snap.zones) {
        if (!z.fresh) continue; // its meter failed at the latest tick: absent, not an old figure
        const v = pick(z);
        if (v === null) continue;
        out.push({ labels: { meter: z.meter, zone: z.zone, source: z.source, role: z.role }, value: v });
      }
      return out;
    };

  const meterSeries =
    (pick: (m: SamplerSnapshot['meters'][number]) => number | null) => (): Array<SnapshotSeries<MeterLabel>> => {
      const out: Array<SnapshotSeries<MeterLabel>> = [];
      const snap = current();
      if (!snap) return out;
      for (const m of snap.meters) {
        if (m.up === null) continue; // not tried yet
        const v = pick(m);
        if (v !== null) out.push({ labels: { meter: m.meter, source: m.source }, value: v });
      }
      return out;
    };

  const zoneLabels = ['meter', 'zone', 'source', 'role'] as const;
  registerSnapshotMetric(registry, {
    name: 'ffwatt_energy_joules_total',
    help: 'Energy counted by a meter zone since the meter was opened, in joules (wrap-corrected, monotonic). role=total zones add up; component zones are inside a total zone; platform (psys) overlaps the packages.',
    type: 'counter',
    labelNames: zoneLabels,
    series: zoneSeries((z) => z.joules),
  });
  registerSnapshotMetric(registry, {
    name: 'ffwatt_power_watts',
    // The power window is the sampler's interval (docs/metrics.md); the HELP text, unchanged, still says so.
    help: 'Average power of a meter zone between the last two meter reads at least the power window apart, in watts.',
    type: 'gauge',
    labelNames: zoneLabels,
    // A counter that went back (meter reopened) has no valid interval: no value rather than a made-up one.
    series: zoneSeries((z) => (z.watts === null || z.watts < 0 ? null : z.watts)),
  });
  const meterLabels = ['meter', 'source'] as const;
  registerSnapshotMetric(registry, {
    name: 'ffwatt_meter_up',
    // "at this scrape": at the sampler's latest read, at most one interval before it (docs/metrics.md).
    help: '1 if the meter was read successfully at this scrape, 0 if the read failed (its energy series are then absent, not zero).',
    type: 'gauge',
    labelNames: meterLabels,
    series: meterSeries((m) => (m.up ? 1 : 0)),
  });
  registerSnapshotMetric(registry, {
    name: 'ffwatt_meter_read_duration_seconds',
    help: 'How long the last read of a meter took, in seconds.',
    type: 'gauge',
    labelNames: meterLabels,
    series: meterSeries((m) => m.durationS),
  });

  return { snapshotOk: () => ok };
}
