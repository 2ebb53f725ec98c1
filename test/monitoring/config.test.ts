// The monitoring configs checked by the tools that will run them.
import { execa } from 'execa';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { MONITORING, workDir } from './helpers.ts';
import { exporterLabelNames } from './known-metrics.ts';

const VMALERT = join(MONITORING, 'vmalert');
const RULE_FILES = [join(VMALERT, 'records.yml'), join(VMALERT, 'alerts.yml')];
const TEST_FILES = readdirSync(join(VMALERT, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join(VMALERT, 'tests', f));
const AM_CONFIG = join(MONITORING, 'alertmanager/alertmanager.yml');
const SCRAPE = join(MONITORING, 'victoria-metrics/scrape.yml');

const run = (cmd: string, args: string[]) => execa(cmd, args, { reject: false, all: true, timeout: 60_000 });

interface AlertTest {
  alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
}

function alertNames(): string[] {
  const doc = YAML.parse(readFileSync(join(VMALERT, 'alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string }> }>;
  };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.alert).filter((a): a is string => !!a));
}

describe('vmalert rules', () => {
  it('pass promtool check rules', async () => {
    const r = await run('promtool', ['check', 'rules', ...RULE_FILES]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('load in vmalert -dryRun', async () => {
    const r = await run('vmalert', ['-dryRun', ...RULE_FILES.map((f) => `-rule=${f}`)]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('fail vmalert -dryRun when an expression is broken (the check is real)', async () => {
    const dir = workDir('vmalert-bad');
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      'groups:\n  - name: bad\n    rules:\n      - alert: Broken\n        expr: sum(rate(ffwatt_energy_joules_total[1m]\n',
    );
    const r = await run('vmalert', ['-dryRun', `-rule=${bad}`]);
    expect(r.exitCode).not.toBe(0);
  });

  it('pass their promtool unit tests', async () => {
    const r = await run('promtool', ['test', 'rules', ...TEST_FILES]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('have a unit test for every alert, firing and not firing', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const f of TEST_FILES) {
      const doc = YAML.parse(readFileSync(f, 'utf8')) as { tests: AlertTest[] };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) (a.exp_alerts?.length ? firing : silent).add(a.alertname);
      }
    }
    const alerts = alertNames();
    expect(alerts.length).toBeGreaterThanOrEqual(14);
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
    expect(alerts.filter((a) => !silent.has(a))).toEqual([]);
  });

  it('label every alert with a severity that Alertmanager routes', async () => {
    const doc = YAML.parse(readFileSync(join(VMALERT, 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; labels?: Record<string, string> }> }>;
    };
    for (const rule of doc.groups.flatMap((g) => g.rules)) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      const r = await run('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${AM_CONFIG}`,
        `severity=${rule.labels?.severity}`,
        `alertname=${rule.alert}`,
      ]);
      expect(r.stdout.trim()).toBe(`ffwatt-${rule.labels?.severity}`);
    }
  });
});

describe('Alertmanager config', () => {
  it('passes amtool check-config', async () => {
    const r = await run('amtool', ['check-config', AM_CONFIG]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('inhibits only alerts that exist', () => {
    const am = YAML.parse(readFileSync(AM_CONFIG, 'utf8')) as {
      inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[] }>;
    };
    const alerts = new Set(alertNames());
    const named = am.inhibit_rules
      .flatMap((r) => [...r.source_matchers, ...r.target_matchers])
      .flatMap((m) => /^alertname=~?"(.*)"$/.exec(m)?.[1].split('|') ?? []);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((n) => !alerts.has(n))).toEqual([]);
  });
});

describe('VictoriaMetrics scrape config', () => {
  it('passes victoria-metrics -dryRun', async () => {
    const r = await run('victoria-metrics', [`-promscrape.config=${SCRAPE}`, '-dryRun', '-loggerLevel=ERROR']);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('fails -dryRun on an unknown field (strict parsing is on)', async () => {
    const dir = workDir('vm-bad');
    cpSync(SCRAPE, join(dir, 'scrape.yml'));
    writeFileSync(
      join(dir, 'scrape.yml'),
      readFileSync(SCRAPE, 'utf8').replace('scrape_interval: 15s', 'scrape_intervall: 15s'),
    );
    const r = await run('victoria-metrics', [
      `-promscrape.config=${join(dir, 'scrape.yml')}`,
      '-dryRun',
      '-loggerLevel=ERROR',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/scrape_intervall/);
  });

  it('ships file_sd target files for every job, with the labels the rules match on', () => {
    const cfg = YAML.parse(readFileSync(SCRAPE, 'utf8')) as {
      scrape_configs: Array<{ job_name: string; file_sd_configs: Array<{ files: string[] }> }>;
    };
    const jobs = Object.fromEntries(cfg.scrape_configs.map((s) => [s.job_name, s.file_sd_configs[0].files[0]]));
    expect(Object.keys(jobs).sort()).toEqual(['ffwatt-agent', 'ffwatt-master', 'monitoring', 'node']);
    for (const [job, file] of Object.entries(jobs)) {
      const groups = JSON.parse(readFileSync(join(MONITORING, 'victoria-metrics', file), 'utf8')) as Array<{
        targets: string[];
        labels: Record<string, string>;
      }>;
      expect(groups.length, file).toBeGreaterThan(0);
      for (const g of groups) {
        for (const t of g.targets) expect(t, file).toMatch(/^[\w.-]+:\d+$/);
        if (job === 'ffwatt-agent' || job === 'node') expect(g.labels.node, file).toBeTruthy();
        if (job === 'ffwatt-master')
          expect(g.labels.node, `${file}: the master's run series carry their own node label`).toBeUndefined();
        if (job !== 'monitoring') expect(['master', 'worker', 'hybrid']).toContain(g.labels.group);
        expect(g.labels.role, `${file}: role would clash with the energy series' role label`).toBeUndefined();
      }
    }
  });
});

describe('exporter labels against target labels', () => {
  it('never reuse a label the scrape adds (it would arrive renamed exported_<name>)', async () => {
    const { agent, master } = await exporterLabelNames();
    expect(agent.has('meter') && agent.has('job_id') && master.has('scenario')).toBe(true);
    expect([...agent].filter((l) => ['job', 'instance', 'node', 'group', 'host'].includes(l))).toEqual([]);
    // the master target carries host, not node: its per-run series own the node label
    expect([...master].filter((l) => ['job', 'instance', 'group', 'host'].includes(l))).toEqual([]);
  });
});
