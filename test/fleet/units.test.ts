// The pure pieces of fleet mode: master config checks, token handling, inventory targeting.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { authenticate, bearer, hashToken, newNodeToken, tokensEqual } from '../../master/auth.ts';
import { loadMasterConfig } from '../../master/config.ts';
import { isLoopback } from '../../core/net.ts';
import { readToken } from '../../core/token-file.ts';
import { targetFromInventory } from '../../harness/fleet.ts';
import { REPO } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-fleet-units-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const base = { data: '/var/lib/ffwatt', tokenFile: '/etc/ffwatt/admin.token' };
const refusal = (fn: () => unknown): InputError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
};

describe('master config', () => {
  it('refuses plain HTTP off loopback unless explicitly allowed', () => {
    const e = refusal(() => loadMasterConfig({ ...base, listen: '0.0.0.0:8443' }));
    expect(e.message).toMatch(/refusing plain HTTP on 0\.0\.0\.0:8443/);
    expect(e.message).toMatch(/--allow-insecure-http/);
    expect(loadMasterConfig({ ...base, listen: '0.0.0.0:8443', allowInsecureHttp: true }).listen).toBe('0.0.0.0:8443');
    expect(loadMasterConfig({ ...base, listen: '127.0.0.1:8443' }).leaseS).toBe(60);
    expect(loadMasterConfig({ ...base, listen: '[::1]:8443' }).listen).toBe('[::1]:8443');
    expect(loadMasterConfig({ ...base, listen: '10.0.0.5:8443', tlsCert: 'c.pem', tlsKey: 'k.pem' }).tlsCert).toBe(
      'c.pem',
    );
  });

  it('wants cert and key together, and TLS under mTLS', () => {
    expect(refusal(() => loadMasterConfig({ ...base, listen: '127.0.0.1:1', tlsCert: 'c.pem' })).message).toMatch(
      /both --tls-cert and --tls-key/,
    );
    expect(refusal(() => loadMasterConfig({ ...base, listen: '127.0.0.1:1', clientCa: 'ca.pem' })).message).toMatch(
      /--client-ca .* needs --tls-cert/,
    );
  });

  it('reads snake_case keys from the file, lets flags override them and names unknown or bad keys', () => {
    const file = join(TMP, 'm.yml');
    writeFileSync(file, 'listen: 127.0.0.1:9000\ndata: /d\ntoken_file: /t\nlease_s: 7\nnode_timeout_s: 11\n');
    const cfg = loadMasterConfig({ listen: '127.0.0.1:9001' }, file);
    expect(cfg).toMatchObject({ listen: '127.0.0.1:9001', data: '/d', tokenFile: '/t', leaseS: 7, nodeTimeoutS: 11 });
    writeFileSync(file, 'listen: 127.0.0.1:9000\ndata: /d\ntoken_file: /t\nlease: 7\n');
    expect(refusal(() => loadMasterConfig({}, file)).message).toMatch(/Unrecognized key/);
    writeFileSync(file, 'listen: nowhere\ndata: /d\ntoken_file: /t\n');
    const e = refusal(() => loadMasterConfig({}, file));
    expect(e.message).toMatch(/listen: HOST:PORT/);
    expect(e.message).toContain(file);
    expect(refusal(() => loadMasterConfig({}, join(TMP, 'missing.yml'))).message).toMatch(/cannot read master config/);
  });

  it('refuses short or unreadable token files', () => {
    const f = join(TMP, 'short.token');
    writeFileSync(f, 'abc\n');
    expect(refusal(() => readToken(f, 'admin')).message).toMatch(/too short \(3 chars/);
    expect(refusal(() => readToken(join(TMP, 'nope'), 'admin')).message).toMatch(/cannot read admin token file/);
    writeFileSync(f, 'x'.repeat(32) + '\n');
    expect(readToken(f, 'admin')).toBe('x'.repeat(32));
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.9.9.9', '::1', 'localhost']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'master.example.net']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('tokens', () => {
  it('parses bearer headers and compares secrets of any length', () => {
    expect(bearer('Bearer abc')).toBe('abc');
    expect(bearer('bearer  abc ')).toBe('abc');
    expect(bearer('Basic abc')).toBeNull();
    expect(bearer(undefined)).toBeNull();
    expect(tokensEqual('same', 'same')).toBe(true);
    expect(tokensEqual('same', 'same-but-longer')).toBe(false);
  });

  it('tells admin, registration and node tokens apart, and finds nodes only by the hash of their token', () => {
    const secrets = { adminToken: 'a'.repeat(32), registrationToken: 'r'.repeat(32) };
    const nodeToken = newNodeToken();
    expect(nodeToken.length).toBeGreaterThanOrEqual(43);
    const nodes = new Map([[hashToken(nodeToken), { nodeId: 'w1', tokenHash: hashToken(nodeToken) }]]);
    const lookup = (h: string) => nodes.get(h) ?? null;
    expect(authenticate(secrets.adminToken, secrets, lookup)).toEqual({ kind: 'admin' });
    expect(authenticate(secrets.registrationToken, secrets, lookup)).toEqual({ kind: 'registration' });
    expect(authenticate(secrets.registrationToken, { adminToken: secrets.adminToken }, lookup)).toBeNull();
    expect(authenticate(nodeToken, secrets, lookup)).toEqual({ kind: 'node', nodeId: 'w1' });
    expect(authenticate('wrong', secrets, lookup)).toBeNull();
    expect(authenticate(null, secrets, lookup)).toBeNull();
    expect(authenticate(hashToken(nodeToken), secrets, lookup)).toBeNull(); // the stored hash is not a token
  });
});

describe('inventory targeting (ansible-inventory --list)', () => {
  const inv = JSON.parse(
    execFileSync('ansible-inventory', ['-i', join(REPO, 'inventory/prod'), '--list'], { encoding: 'utf8' }),
  );

  it('finds the master URL and the workers of the example fleet', () => {
    const t = targetFromInventory(inv);
    expect(t.masterUrl).toBe('https://192.0.2.10:8443');
    expect(t.workers.sort()).toEqual(['ffwatt-gpu1.example.net', 'ffwatt-w1.example.net', 'ffwatt-w2.example.net']);
  });

  it('narrows to a --limit host or group and refuses unknown ones', () => {
    expect(targetFromInventory(inv, 'ffwatt-w2.example.net').workers).toEqual(['ffwatt-w2.example.net']);
    expect(targetFromInventory(inv, 'workers').workers).toHaveLength(3);
    expect(refusal(() => targetFromInventory(inv, 'nosuch')).message).toMatch(/--limit nosuch: no such group or host/);
  });

  it('refuses an inventory without a master', () => {
    expect(
      refusal(() => targetFromInventory({ all: { children: ['workers'] }, workers: { hosts: ['w'] } })).message,
    ).toMatch(/no host in group "master"/);
  });
});
