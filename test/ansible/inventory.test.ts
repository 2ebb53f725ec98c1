// The example inventories as an operator uses them: login settings where hosts.yml's
// values are not silently overridden, credentials split (admin token on the master only),
// and `ffwatt run --inventory` on a vaulted inventory (a message naming the vault; the CA
// taken from the inventory).
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readInventory, targetFromInventory } from '../../harness/fleet.ts';
import { REPO, run } from './ansible.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-inventory-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const LOGIN_VARS =
  /^(ansible_(user|become\w*|port|host|connection|ssh_\w+|password|private_key_file|python_interpreter))$/;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

async function hostVars(
  inventory: string,
  host: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Record<string, unknown>> {
  const r = await run('ansible-inventory', ['-i', inventory, '--host', host], { env });
  expect(r.code, r.output).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('example inventories', () => {
  it('set no login variable in group_vars (it would override hosts.yml group values without a word)', () => {
    for (const inv of ['inventory/prod', 'inventory/local']) {
      for (const f of yamlFiles(join(REPO, inv, 'group_vars'))) {
        const keys = Object.keys((parseYaml(readFileSync(f, 'utf8')) ?? {}) as object);
        expect(
          keys.filter((k) => LOGIN_VARS.test(k)),
          f,
        ).toEqual([]);
      }
    }
  });

  it('a login setting changed in hosts.yml is what the hosts get', async () => {
    const copy = join(TMP, 'login');
    cpSync(join(REPO, 'inventory/prod'), copy, { recursive: true });
    const hosts = readFileSync(join(copy, 'hosts.yml'), 'utf8').replace(
      'ansible_user: deploy',
      'ansible_user: operator7',
    );
    writeFileSync(join(copy, 'hosts.yml'), hosts);
    for (const host of ['ffwatt-master.example.net', 'ffwatt-w1.example.net']) {
      expect((await hostVars(copy, host)).ansible_user, host).toBe('operator7');
    }
  });

  it('give the admin token to the master only, and the registration token to every host, from the vault', async () => {
    const master = await hostVars('inventory/prod', 'ffwatt-master.example.net');
    expect(master.ffwatt_api_token).toBe('{{ vault_ffwatt_api_token }}');
    expect(master.ffwatt_registration_token).toBe('{{ vault_ffwatt_registration_token }}');
    for (const w of ['ffwatt-w1.example.net', 'ffwatt-w2.example.net', 'ffwatt-gpu1.example.net']) {
      const vars = await hostVars('inventory/prod', w);
      expect(vars.ffwatt_api_token, w).toBeUndefined();
      expect(vars.ffwatt_registration_token, w).toBe('{{ vault_ffwatt_registration_token }}');
    }
    // per-host cost figures reach the host's variables
    expect((await hostVars('inventory/prod', 'ffwatt-gpu1.example.net')).ffwatt_instance_cost_per_hour).toBe(1.2);
  });
});

describe('ffwatt run --inventory on a vaulted inventory', () => {
  const inv = join(TMP, 'vaulted');
  const passFile = join(TMP, 'vault-pass');

  it('names the vault and the fix when no vault password is given', async () => {
    cpSync(join(REPO, 'inventory/prod'), inv, { recursive: true });
    writeFileSync(passFile, 'correct horse battery staple\n', { mode: 0o600 });
    const vault = join(inv, 'group_vars/all/vault.yml');
    cpSync(join(inv, 'group_vars/all/vault.yml.example'), vault);
    const enc = await run('ansible-vault', ['encrypt', '--vault-password-file', passFile, vault]);
    expect(enc.code, enc.output).toBe(0);
    expect(readFileSync(vault, 'utf8')).toMatch(/^\$ANSIBLE_VAULT;/);
    delete process.env.ANSIBLE_VAULT_PASSWORD_FILE;
    const err = await readInventory(inv).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/ansible-vault encrypted variables and no vault password was given/);
    expect(err?.message).toContain('ANSIBLE_VAULT_PASSWORD_FILE');
  });

  it('reads it with ANSIBLE_VAULT_PASSWORD_FILE, and takes the CA from the inventory (relative to it)', async () => {
    writeFileSync(
      join(inv, 'group_vars/master.yml'),
      readFileSync(join(inv, 'group_vars/master.yml'), 'utf8') + '\nffwatt_operator_ca_cert: ca.crt\n',
    );
    process.env.ANSIBLE_VAULT_PASSWORD_FILE = passFile;
    try {
      const t = targetFromInventory(await readInventory(inv), undefined, inv);
      expect(t.masterUrl).toBe('https://192.0.2.10:8443');
      expect(t.caCert).toBe(join(inv, 'ca.crt'));
    } finally {
      delete process.env.ANSIBLE_VAULT_PASSWORD_FILE;
    }
  });

  it('names a wrong vault password as such', async () => {
    const wrong = join(TMP, 'wrong-pass');
    writeFileSync(wrong, 'not it\n', { mode: 0o600 });
    process.env.ANSIBLE_VAULT_PASSWORD_FILE = wrong;
    try {
      const err = await readInventory(inv).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/the vault password does not open it/);
    } finally {
      delete process.env.ANSIBLE_VAULT_PASSWORD_FILE;
    }
  });
});
