import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { allQueries, dashboardFiles, loadDashboard, metricNames } from './dashboards.ts';
import { MONITORING } from './helpers.ts';
import { knownMetricNames } from './known-metrics.ts';

describe('Grafana dashboards', () => {
  it('ship the six dashboards with unique uids', () => {
    const uids = dashboardFiles().map((f) => loadDashboard(f).uid);
    expect(uids.sort()).toEqual([
      'ffwatt-campaign',
      'ffwatt-cost',
      'ffwatt-efficiency',
      'ffwatt-fleet',
      'ffwatt-history',
      'ffwatt-power',
    ]);
  });

  it('extract metric names from PromQL the way the check below relies on', () => {
    expect(
      metricNames('sum by (node, source) (rate(ffwatt_energy_joules_total{role="total",zone=~"a|b"}[1m]))'),
    ).toEqual(['ffwatt_energy_joules_total']);
    expect(metricNames('a_total / 3.6e6 * on () group_left (currency) b:rec > bool 1')).toEqual(['a_total', 'b:rec']);
    expect(metricNames('label_values(ffwatt_run_energy_joules, campaign)')).toEqual(['ffwatt_run_energy_joules']);
  });

  it('use only metrics that the exporters, the recording rules or the scrape produce', async () => {
    const known = await knownMetricNames();
    const queries = allQueries();
    expect(queries.length).toBeGreaterThan(40);
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !known.has(n))
        .map((n) => `${q.dashboard} / ${q.panel}: ${n} in ${q.expr}`),
    );
    expect(unknown).toEqual([]);
    for (const q of queries) expect(metricNames(q.expr).length, `${q.dashboard} / ${q.panel}`).toBeGreaterThan(0);
  });

  it('history: every per-run query keeps scenario, hardware class and energy kind apart (never pooled)', () => {
    const history = allQueries().filter((q) => q.dashboard === 'ffwatt-history.json');
    const panels = history.filter((q) => !q.panel.startsWith('variable '));
    expect(panels.map((q) => q.panel)).toEqual([
      'J per encoded minute per scenario and class over time',
      'J per encoded minute per campaign, scenario and class',
      'Runs reported per hardware class and energy kind',
    ]);
    for (const q of panels) {
      const by =
        /\bby \(([^)]*)\)/
          .exec(q.expr)?.[1]
          .split(',')
          .map((s) => s.trim()) ?? [];
      expect(by, q.panel).toEqual(expect.arrayContaining(['hardware_class', 'energy_kind']));
      expect(q.expr, q.panel).toContain('ffwatt_run_joules_per_encoded_minute{');
    }
    expect(history.filter((q) => q.panel.startsWith('variable ')).map((q) => q.expr)).toEqual([
      'label_values(ffwatt_run_joules_per_encoded_minute, scenario_label)',
      'label_values(ffwatt_run_joules_per_encoded_minute, hardware_class)',
      'label_values(ffwatt_run_joules_per_encoded_minute, energy_kind)',
    ]);
  });

  it('point at the provisioned datasource, which the provider loads from one folder', () => {
    const ds = YAML.parse(readFileSync(join(MONITORING, 'grafana/provisioning/datasources/ffwatt.yml'), 'utf8'));
    const uid = ds.datasources[0].uid;
    for (const file of dashboardFiles()) {
      const text = readFileSync(join(MONITORING, 'grafana/dashboards', file), 'utf8');
      const uids = new Set([...text.matchAll(/"uid":\s*"([^"]+)"/g)].map((m) => m[1]));
      uids.delete(loadDashboard(file).uid);
      expect([...uids], file).toEqual([uid]);
    }
    const provider = YAML.parse(readFileSync(join(MONITORING, 'grafana/provisioning/dashboards/ffwatt.yml'), 'utf8'));
    expect(provider.providers[0].type).toBe('file');
    expect(provider.providers[0].options.path).toMatch(/^\//);
  });
});
