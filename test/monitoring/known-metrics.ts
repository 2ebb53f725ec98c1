// The set of metric names that exist: what agent/metrics/ and master/metrics.ts
// actually register (read from live registries, not a hand list), the recording rules'
// names, and the `up` series every scrape adds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { createAgentMetrics } from '../../agent/metrics/index.ts';
import { createMasterMetrics } from '../../master/metrics.ts';
import { fleetMeters, manualClock, manualSampler } from './fixtures/fake-meters.ts';
import { cost, fakeMasterSource, runningJobEvents } from './fixtures/fake-sources.ts';
import { MONITORING } from './helpers.ts';

export function recordingRuleNames(): string[] {
  const doc = YAML.parse(readFileSync(join(MONITORING, 'vmalert/records.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ record?: string }> }>;
  };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => !!r));
}

export async function exporterMetricNames(): Promise<{ agent: string[]; master: string[] }> {
  const clock = manualClock();
  const m = fleetMeters(clock.now);
  const agent = createAgentMetrics({
    sampler: manualSampler([m.rapl, m.nvml, m.estimate], clock.now),
    nodeId: 'n',
    gpuStats: () => [],
  });
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

/** Label names each exporter's series carry (fed with fixture data so every labelled series exists). */
export async function exporterLabelNames(): Promise<{ agent: Set<string>; master: Set<string> }> {
  const clock = manualClock();
  const m = fleetMeters(clock.now);
  const agent = createAgentMetrics({
    sampler: manualSampler([m.rapl, m.nvml, m.estimate], clock.now),
    nodeId: 'n',
    gpuStats: () => [{ gpu: 'g', engine: 'sm', ratio: 1 }],
  });
  clock.advance(2);
  for (const ev of runningJobEvents('j')) agent.onEvent(ev);
  const master = createMasterMetrics(fakeMasterSource(), cost);
  const labels = async (reg: typeof agent.registry) =>
    new Set(
      (await reg.getMetricsAsJSON())
        .filter((metric) => metric.name.startsWith('ffwatt_'))
        .flatMap((metric) => metric.values.flatMap((v) => Object.keys(v.labels))),
    );
  return { agent: await labels(agent.registry), master: await labels(master.registry) };
}
