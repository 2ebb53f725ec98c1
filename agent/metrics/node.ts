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

/**
 * prom-client's default process metrics, less the three gauges named `*_total` that
 * `promtool check metrics` rejects; each is the sum of the same metric without `_total`.
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
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
