// Node collectors: the agent's own health (ffwatt_agent_up, ffwatt_collector_success) and
// prom-client's process metrics.
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

export function registerAgentUp(registry: Registry, nodeId: string): void {
  const agentUp = new Gauge({
    name: 'ffwatt_agent_up',
    help: 'Always 1 while the agent serves metrics; node_id is the id the agent registers with (the scrape adds node from the inventory).',
    labelNames: ['node_id'],
    registers: [registry],
  });
  agentUp.set({ node_id: nodeId }, 1);
}

/** `*_total` gauges that `promtool check metrics` rejects; each is the sum of the same metric without `_total`. */
const NOT_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Event-loop lag: its collector schedules a setImmediate on every scrape and reads 7 histogram
 * figures, about half of the exporter's CPU per scrape (docs/PERFORMANCE.md); no dashboard or
 * alert uses it. The histogram prom-client enables stays on (it cannot be reached to stop it).
 */
const EVENT_LOOP_LAG = ['', '_min', '_max', '_mean', '_stddev', '_p50', '_p90', '_p99'].map(
  (s) => `nodejs_eventloop_lag${s}_seconds`,
);

/**
 * The GC-duration histogram (4 GC kinds × 12 buckets) and the per-space heap gauges (3 × 8
 * spaces): 76 of the exporter's ~100 runtime series, about a third of a scrape's CPU to collect
 * and format, read by no dashboard or alert. The heap totals (nodejs_heap_size_*) stay.
 */
const RUNTIME_DETAIL = [
  'nodejs_gc_duration_seconds',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
];

/** prom-client's default process metrics, less NOT_COUNTERS, EVENT_LOOP_LAG and RUNTIME_DETAIL. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of [...NOT_COUNTERS, ...EVENT_LOOP_LAG, ...RUNTIME_DETAIL]) registry.removeSingleMetric(name);
}

/** Must be registered after the collectors it reports on: they run earlier in the same scrape. */
export function registerCollectorSuccess(registry: Registry, collectors: Record<string, () => boolean>): void {
  new Gauge({
    name: 'ffwatt_collector_success',
    help: '1 if the named collector produced its values at the last scrape, 0 if it failed (its series are then absent).',
    labelNames: ['collector'],
    registers: [registry],
    collect() {
      for (const [collector, ok] of Object.entries(collectors)) this.set({ collector }, ok() ? 1 : 0);
    },
  });
}
