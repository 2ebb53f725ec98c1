// A registry entry whose series are listed straight from a prebuilt snapshot at scrape time.
// prom-client's Counter/Gauge keep their own label-hashed store that a collector must reset
// and refill on every scrape; the energy series already sit in the sampler's snapshot, so
// the registry only has to format them.
import type { Metric, MetricValue, Registry } from 'prom-client';

export interface SnapshotSeries<L extends string> {
  labels: Record<L, string>;
  value: number;
}

export function registerSnapshotMetric<L extends string>(
  registry: Registry,
  def: {
    name: string;
    help: string;
    type: 'counter' | 'gauge';
    labelNames: readonly L[];
    series: () => Array<SnapshotSeries<L>>;
  },
): void {
  const { name, help, type } = def;
  const metric = {
    name,
    help,
    type,
    labelNames: def.labelNames,
    aggregator: 'sum' as const,
    get: async () => ({ name, help, type, aggregator: 'sum' as const, values: def.series() as Array<MetricValue<L>> }),
    reset: () => {},
  };
  // The registry reads only name, type and get() (prom-client lib/registry.js); it needs no other Metric member.
  registry.registerMetric(metric as unknown as Metric<L>);
}
