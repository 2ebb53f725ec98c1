// The set of metric names that exist: what agent/metrics.ts and master/metrics.ts
// actually register (read from live registries, not a hand list), the recording rules'
// names, and the `up` series every scrape adds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createMasterMetrics } from '../../master/metrics.ts';
import { fleetMeters, manualClock } from './fixtures/fake-meters.ts';
import { cost, fakeMasterSource } from './fixtures/fake-sources.ts';
import { MONITORING } from './helpers.ts';

export function recordingRuleNames(): string[] {
  const doc = YAML.parse(readFileSync(join(MONITORING, 'vmalert/records.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ record?: string }> }> };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => !!r));
}

export async function exporterMetricNames(): Promise<{ agent: string[]; master: string[] }> {
  const clock = manualClock();
  const m = fleetMeters(clock.now);
  const agent = createAgentMetrics({ meters: () => [m.rapl, m.nvml, m.estimate], nodeId: 'n', clock: clock.now, gpuStats: () => [] });
  const master = createMasterMetrics(fakeMasterSource(), cost);
  const names = async (reg: typeof agent.registry) =>
    (await reg.getMetricsAsJSON()).flatMap((metric) => {
      const type = String(metric.type);
      if (type === 'histogram') return [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`];
      if (type === 'summary') return [metric.name, `${metric.name}_sum`, `${metric.name}_count`];
      return [metric.name];
    });
  return { agent: await names(agent.registry), master: await names(master.registry) };
}

export async function knownMetricNames(): Promise<Set<string>> {
  const { agent, master } = await exporterMetricNames();
  return new Set([...agent, ...master, ...recordingRuleNames(), 'up']);
}
