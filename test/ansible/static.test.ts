// Checks of the Ansible code that need no hosts: argument specs against defaults,
// syntax, and ansible-lint's production profile.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO, ROLES, defaultsOf, run, specOf } from './ansible.ts';

describe('roles: meta/argument_specs.yml documents defaults/main.yml exactly', () => {
  for (const role of ROLES) {
    it(`${role}: same keys; required options (secrets) have no default`, () => {
      const defaults = defaultsOf(role);
      const spec = specOf(role);
      const required = Object.keys(spec).filter((k) => spec[k].required);
      const optional = Object.keys(spec).filter((k) => !spec[k].required);
      expect(optional.sort()).toEqual(Object.keys(defaults).sort());
      for (const k of required) expect(Object.keys(defaults), `${k} is required: it must not have a default`).not.toContain(k);
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
      for (const k of Object.keys(parseYaml(readFileSync(varsFile, 'utf8')) ?? {})) expect(k).toMatch(/^_ffwatt_[a-z0-9_]+$/);
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
    const r = await run('ansible-lint', ['--profile', 'production', '--offline', '--nocolor', '-p', 'site.yml', 'playbooks', 'roles', 'inventory', 'ansible.cfg'], {
      timeoutMs: 10 * 60_000,
    });
    expect(r.code, r.output).toBe(0);
  }, 600_000);

  it('the example fleet inventory has master and workers groups, and takes its secrets from a vault', async () => {
    const r = await run('ansible-inventory', ['-i', 'inventory/prod', '--list']);
    expect(r.code, r.output).toBe(0);
    const inv = JSON.parse(r.stdout) as Record<string, { hosts?: string[] }>;
    expect(inv.master.hosts?.length).toBe(1);
    expect(inv.workers.hosts?.length).toBeGreaterThanOrEqual(2);
    for (const host of [...inv.master.hosts!, ...inv.workers.hosts!]) {
      const h = await run('ansible-inventory', ['-i', 'inventory/prod', '--host', host]);
      expect(h.code, h.output).toBe(0);
      const vars = JSON.parse(h.stdout) as Record<string, unknown>;
      // group_vars/all/main.yml is loaded, and the token is a reference to the vault, never a value
      expect(vars.ffwatt_api_token, host).toBe('{{ vault_ffwatt_api_token }}');
      expect(vars.ffwatt_user, host).toBe('ffwatt');
    }
  });
});
