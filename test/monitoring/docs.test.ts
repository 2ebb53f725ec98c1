import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { MONITORING, ROOT } from './helpers.ts';
import { exporterMetricNames, recordingRuleNames } from './known-metrics.ts';

const doc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');

describe('docs/metrics.md', () => {
  it('lists every ffwatt metric the exporters register', async () => {
    const { agent, master } = await exporterMetricNames();
    const names = [...new Set([...agent, ...master])].filter((n) => n.startsWith('ffwatt_'));
    expect(names.length).toBeGreaterThan(30);
    expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });

  it('lists every recording rule and every alert', () => {
    expect(recordingRuleNames().filter((n) => !doc.includes(`\`${n}`))).toEqual([]);
    const alerts = YAML.parse(readFileSync(join(MONITORING, 'vmalert/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string }> }>;
    };
    const names = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(names.filter((n) => !doc.includes(`| ${n} |`))).toEqual([]);
  });
});
