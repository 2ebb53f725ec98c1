// Checks of the Ansible code that need no hosts: argument specs against defaults,
// syntax, and ansible-lint's production profile.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MEASURING_NODE_FLAGS } from '../../agent/node-flags.ts';
import { REPO, ROLES, defaultsOf, run, specOf } from './ansible.ts';

describe('roles: meta/argument_specs.yml documents defaults/main.yml exactly', () => {
  for (const role of ROLES) {
    it(`${role}: same keys; required options (secrets) have no default`, () => {
      const defaults = defaultsOf(role);
      const spec = specOf(role);
      const required = Object.keys(spec).filter((k) => spec[k].required);
      const optional = Object.keys(spec).filter((k) => !spec[k].required);
      expect(optional.sort()).toEqual(Object.keys(defaults).sort());
      for (const k of required)
        expect(Object.keys(defaults), `${k} is required: it must not have a default`).not.toContain(k);
    });

    it(`${role}: every option has a type, a description and the default of defaults/main.yml`, () => {
      const defaults = defaultsOf(role);
      for (const [k, o] of Object.entries(specOf(role))) {
        expect(o.type, `${k}: type`).toBeTruthy();
        expect(o.description, `${k}: description`).toBeTruthy();
        if (!o.required) expect(o.default, `${k}: default in argument_specs`).toEqual(defaults[k]);
      }
    });

    it(`${role}: public variables are ffwatt_*, private ones live in vars/ as _ffwatt_*`, () => {
      for (const k of Object.keys(specOf(role))) expect(k).toMatch(/^ffwatt_[a-z0-9_]+$/);
      const varsFile = join(REPO, 'roles', role, 'vars/main.yml');
      expect(existsSync(varsFile)).toBe(true);
      for (const k of Object.keys(parseYaml(readFileSync(varsFile, 'utf8')) ?? {}))
        expect(k).toMatch(/^_ffwatt_[a-z0-9_]+$/);
    });
  }
});

describe('playbooks', () => {
  it('site.yml passes ansible-playbook --syntax-check with the example fleet inventory', async () => {
    const r = await run('ansible-playbook', ['--syntax-check', '-i', 'inventory/prod', 'site.yml']);
    expect(r.code, r.output).toBe(0);
  });

  it('site.yml passes ansible-playbook --syntax-check with the one-box inventory', async () => {
    const r = await run('ansible-playbook', ['--syntax-check', '-i', 'inventory/local', 'site.yml']);
    expect(r.code, r.output).toBe(0);
  });

  it('ansible-lint passes with the production profile', async () => {
    const r = await run(
      'ansible-lint',
      [
        '--profile',
        'production',
        '--offline',
        '--nocolor',
        '-p',
        'site.yml',
        'playbooks',
        'roles',
        'inventory',
        'ansible.cfg',
      ],
      {
        timeoutMs: 10 * 60_000,
      },
    );
    expect(r.code, r.output).toBe(0);
  }, 600_000);

  it('the example fleet inventory has master and workers groups, and takes its secrets from a vault (admin token: master only)', async () => {
    const r = await run('ansible-inventory', ['-i', 'inventory/prod', '--list']);
    expect(r.code, r.output).toBe(0);
    const inv = JSON.parse(r.stdout) as Record<string, { hosts?: string[] }>;
    expect(inv.master.hosts?.length).toBe(1);
    expect(inv.workers.hosts?.length).toBeGreaterThanOrEqual(2);
    for (const host of [...inv.master.hosts!, ...inv.workers.hosts!]) {
      const h = await run('ansible-inventory', ['-i', 'inventory/prod', '--host', host]);
      expect(h.code, h.output).toBe(0);
      const vars = JSON.parse(h.stdout) as Record<string, unknown>;
      // group_vars/all/main.yml is loaded, and the tokens are references to the vault, never values
      expect(vars.ffwatt_registration_token, host).toBe('{{ vault_ffwatt_registration_token }}');
      expect(vars.ffwatt_api_token, host).toBe(
        inv.master.hosts!.includes(host) ? '{{ vault_ffwatt_api_token }}' : undefined,
      );
      expect(vars.ffwatt_user, host).toBe('ffwatt');
    }
  });
});

describe('alert rules templated from the master role', () => {
  const rendered = join(REPO, 'test/.work/rules-render');

  async function render(extra: Record<string, unknown>): Promise<Record<string, string>> {
    rmSync(rendered, { recursive: true, force: true });
    mkdirSync(join(rendered, 'tests'), { recursive: true });
    const r = await run('ansible-playbook', [
      '-i',
      'localhost,',
      '-c',
      'local',
      'test/ansible/render-rules.yml',
      '-e',
      JSON.stringify({ out: rendered, ...extra }),
    ]);
    expect(r.code, r.output).toBe(0);
    for (const t of readdirSync(join(REPO, 'monitoring/vmalert/tests')))
      cpSync(join(REPO, 'monitoring/vmalert/tests', t), join(rendered, 'tests', t));
    return Object.fromEntries(
      readdirSync(rendered)
        .filter((f) => f.endsWith('.yml'))
        .map((f) => [f, readFileSync(join(rendered, f), 'utf8')]),
    );
  }

  function thresholds(records: string): Record<string, string> {
    const doc = parseYaml(records) as {
      groups: Array<{ name: string; rules: Array<{ record?: string; expr: string }> }>;
    };
    const g = doc.groups.find((x) => x.name === 'ffwatt-thresholds')!;
    return Object.fromEntries(g.rules.map((r) => [r.record!, r.expr]));
  }

  it("with the defaults, the rendered rules are the repository's: promtool test rules passes on them", async () => {
    const files = await render({});
    expect(Object.keys(files).sort()).toEqual(['alerts.yml', 'records.yml']);
    expect(thresholds(files['records.yml'])).toEqual({
      'ffwatt:package_power_threshold_watts': 'vector(150)',
      'ffwatt:gpu_power_threshold_watts': 'vector(250)',
      'ffwatt:queue_backlog_threshold_jobs': 'vector(100)',
      'ffwatt:store_disk_free_ratio_threshold': 'vector(0.1)',
    });
    // annotations keep their {{ $labels }} templates untouched
    expect(files['alerts.yml']).toContain('{{ $labels.node }}');
    const r = await run('promtool', [
      'test',
      'rules',
      ...readdirSync(join(rendered, 'tests')).map((t) => join(rendered, 'tests', t)),
    ]);
    expect(r.code, r.output).toBe(0);
  }, 120_000);

  it('role variables change the thresholds, and the rules still check', async () => {
    const files = await render({
      ffwatt_alert_package_power_watts: 95,
      ffwatt_alert_gpu_power_watts: 300,
      ffwatt_alert_queue_backlog_jobs: 500,
      ffwatt_alert_disk_free_ratio: 0.2,
    });
    expect(thresholds(files['records.yml'])).toEqual({
      'ffwatt:package_power_threshold_watts': 'vector(95)',
      'ffwatt:gpu_power_threshold_watts': 'vector(300)',
      'ffwatt:queue_backlog_threshold_jobs': 'vector(500)',
      'ffwatt:store_disk_free_ratio_threshold': 'vector(0.2)',
    });
    for (const f of Object.keys(files)) {
      const r = await run('promtool', ['check', 'rules', join(rendered, f)]);
      expect(r.code, r.output).toBe(0);
    }
    // the unit tests pin the default thresholds: with others, the package power test must notice
    const t = await run('promtool', ['test', 'rules', join(rendered, 'tests/alerts.test.yml')]);
    expect(t.code).not.toBe(0);
  }, 120_000);
});

describe('every measuring process is started with the node flags of agent/node-flags.ts', () => {
  /** The node flags of a command line: the words between `node` (or a path ending in /node) and the script. */
  function nodeFlagsOf(commandLine: string, script: string): string[] {
    const words = commandLine.trim().split(/\s+/);
    const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
    const file = words.findIndex((w) => w === script || w.endsWith(`/${script}`));
    expect(node, `no node in: ${commandLine}`).toBeGreaterThanOrEqual(0);
    expect(file, `no ${script} after node in: ${commandLine}`).toBeGreaterThan(node);
    return words.slice(node + 1, file);
  }

  it("the worker role's agent unit, rendered with the role's defaults, runs node with them", async () => {
    const out = join(REPO, 'test/.work/agent-unit-render');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const r = await run('ansible-playbook', [
      '-i',
      'localhost,',
      '-c',
      'local',
      'test/ansible/render-agent-unit.yml',
      '-e',
      JSON.stringify({ out }),
    ]);
    expect(r.code, r.output).toBe(0);
    const unit = readFileSync(join(out, 'ffwatt-agent.service'), 'utf8').replace(/\\\n/g, ' ');
    const execStart = unit.split('\n').find((l) => l.startsWith('ExecStart='));
    expect(execStart, unit).toBeDefined();
    const line = execStart!.slice('ExecStart='.length);
    expect(line.split(/\s+/)[0]).toBe('/opt/ffwatt/current/node');
    expect(nodeFlagsOf(line, 'bin/ffwatt.mjs')).toEqual(MEASURING_NODE_FLAGS);
    expect(line).toMatch(/\/opt\/ffwatt\/current\/bin\/ffwatt\.mjs agent /);
    // and this node takes them (a flag V8 does not know stops node with "bad option", exit 9)
    const started = await run(process.execPath, [...MEASURING_NODE_FLAGS, 'bin/ffwatt.mjs', '--help']);
    expect(started.code, started.output).toBe(0);
  }, 120_000);

  it("bin/ffwatt.mjs's shebang carries them, and the file starts through it", async () => {
    const first = readFileSync(join(REPO, 'bin/ffwatt.mjs'), 'utf8').split('\n')[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${MEASURING_NODE_FLAGS.join(' ')}`);
    const r = await run(join(REPO, 'bin/ffwatt.mjs'), ['--help']);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain('Usage: ffwatt');
  }, 60_000);

  it('the Makefile and scripts/hw-check.sh run the measuring commands with them', () => {
    const make = readFileSync(join(REPO, 'Makefile'), 'utf8')
      .split('\n')
      .filter((l) => /ffwatt\.mjs run /.test(l));
    expect(make.length).toBeGreaterThan(0);
    for (const l of make) expect(nodeFlagsOf(l, 'bin/ffwatt.mjs'), l).toEqual(MEASURING_NODE_FLAGS);
    const hw = readFileSync(join(REPO, 'scripts/hw-check.sh'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('FFWATT='));
    expect(hw).toBeDefined();
    expect(nodeFlagsOf(hw!.replace(/^FFWATT="|"$/g, ''), 'bin/ffwatt.mjs')).toEqual(MEASURING_NODE_FLAGS);
  });
});
