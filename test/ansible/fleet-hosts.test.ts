// The roles on real machines: 1 master + 2 workers booted with systemd (systemd-nspawn
// test hosts from test/hosts/hosts.sh), converged with site.yml, then checked from the box.
// The hosts are torn down after the suite, also when a test fails, and the teardown
// itself is checked (no mounts, processes, bridge or cgroups left).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MEASURING_NODE_FLAGS } from '../../agent/node-flags.ts';
import type { ReportModel } from '../../core/report-model.ts';
import { fakeNvmlLibrary } from '../fixtures/fake-nvml/fake-nvml.ts';
import {
  HOSTS_SH,
  HOSTS_WORK,
  MASTER,
  REPO,
  WORKERS,
  changedTasks,
  playbook,
  recap,
  run,
  ssh,
  waitFor,
} from './ansible.ts';

const MIN = 60_000;
const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-ansible-'));
const ALL = [MASTER, ...WORKERS];

function httpsGet(
  url: string,
  ca?: string,
  auth?: { cert: string; key: string; token: string },
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const opts = auth
      ? { ca, cert: auth.cert, key: auth.key, headers: { authorization: `Bearer ${auth.token}` } }
      : { ca };
    const req = request(url, { ...opts, timeout: 10_000 }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', rej);
    req.end();
  });
}

async function httpGetJson(url: string): Promise<any> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return r.json();
}

function expectRecapOk(stdout: string, output: string): ReturnType<typeof recap> {
  const r = recap(stdout);
  for (const h of ALL) {
    expect(r[h.name], `${h.name} in PLAY RECAP\n${output.slice(-4000)}`).toBeDefined();
    expect(r[h.name].failed, `${h.name} failed\n${output.slice(-6000)}`).toBe(0);
    expect(r[h.name].unreachable, `${h.name} unreachable`).toBe(0);
  }
  return r;
}

/** The [Service] settings of a unit that make its identity and sandbox, as systemd-run -p arguments. */
function sandboxProperties(unitText: string): string[] {
  const service = unitText.split(/^\[Service\]$/m)[1]?.split(/^\[/m)[0] ?? '';
  const skip =
    /^(Type|ExecStart|ExecReload|Restart|RestartSec|TimeoutStopSec|EnvironmentFile|StateDirectory|StateDirectoryMode|WorkingDirectory)=/;
  return service
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Z]\w*=/.test(l) && !skip.test(l));
}

async function masterCa(): Promise<string> {
  const r = await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/ca.crt');
  expect(r.code, r.output).toBe(0);
  return r.stdout;
}

/** Everything test/hosts/hosts.sh may leave behind, listed; empty when clean. */
async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  const bridge = await run('ip', ['link', 'show', 'nspbr0']);
  if (bridge.code === 0) found.push('bridge nspbr0');
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' /var/lib/ffwatt-test-hosts/'));
  found.push(...mounts.map((m) => `mount ${m}`));
  const procs = await run('pgrep', ['-af', 'systemd-nspawn -D /var/lib/ffwatt-test-hosts']);
  if (procs.stdout.trim()) found.push(`processes ${procs.stdout.trim()}`);
  const cgroups = await run('bash', ['-c', "compgen -G '/sys/fs/cgroup/*/nsp-*' || true"]);
  if (cgroups.stdout.trim()) found.push(`cgroups ${cgroups.stdout.trim()}`);
  return found;
}

describe('test/hosts/hosts.sh', () => {
  it(
    'tears down what it started when `up` fails (here: a host that cannot answer in time)',
    async () => {
      const r = await run(HOSTS_SH, ['up', '1'], { env: { FFWATT_HOSTS_BOOT_TIMEOUT_S: '0' }, timeoutMs: 25 * MIN });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain('up failed; tearing down');
      expect(r.output).toContain('down: clean');
      expect(await leftovers()).toEqual([]);
    },
    30 * MIN,
  );
});

describe('site.yml on systemd test hosts (1 master, 2 workers)', () => {
  beforeAll(async () => {
    // FFWATT_TEST_REUSE_BUNDLE=1 deploys the dist/ffwatt-bundle.tar.gz already built (a rebuild
    // takes minutes); by default the bundle is built from this tree.
    if (process.env.FFWATT_TEST_REUSE_BUNDLE !== '1' || !existsSync(join(REPO, 'dist/ffwatt-bundle.tar.gz'))) {
      const bundle = await run(join(REPO, 'scripts/build-bundle.sh'), [], { timeoutMs: 20 * MIN });
      expect(bundle.code, bundle.output).toBe(0);
    }
    const up = await run(HOSTS_SH, ['up', '3'], { timeoutMs: 25 * MIN });
    expect(up.code, up.output).toBe(0);
  }, 35 * MIN);

  afterAll(async () => {
    rmSync(TMP, { recursive: true, force: true });
    const down = await run(HOSTS_SH, ['down'], { timeoutMs: 5 * MIN });
    expect(down.code, `teardown must leave no mounts, processes, bridge or cgroups:\n${down.output}`).toBe(0);
    expect(await leftovers()).toEqual([]);
  }, 6 * MIN);

  it(
    'converges',
    async () => {
      const r = await playbook(['site.yml']);
      expect(r.code, r.output.slice(-8000)).toBe(0);
      expectRecapOk(r.stdout, r.output);
    },
    30 * MIN,
  );

  it(
    'converges again with changed=0',
    async () => {
      const r = await playbook(['site.yml']);
      expect(r.code, r.output.slice(-8000)).toBe(0);
      const rc = expectRecapOk(r.stdout, r.output);
      for (const h of ALL)
        expect(rc[h.name].changed, `changed on the second run:\n${changedTasks(r.stdout).join('\n')}`).toBe(0);
    },
    30 * MIN,
  );

  it(
    'passes --check --diff after converge, with nothing to change',
    async () => {
      const r = await playbook(['site.yml', '--check', '--diff']);
      expect(r.code, r.output.slice(-8000)).toBe(0);
      const rc = expectRecapOk(r.stdout, r.output);
      for (const h of ALL)
        expect(rc[h.name].changed, `check mode would change:\n${changedTasks(r.stdout).join('\n')}`).toBe(0);
    },
    30 * MIN,
  );

  it(
    'runs the master services on the master',
    async () => {
      const units = ['ffwatt-master', 'victoria-metrics', 'prometheus-alertmanager', 'ffwatt-vmalert'];
      await waitFor(
        'master units active',
        async () => {
          const r = await ssh(MASTER.addr, `systemctl is-active ${units.join(' ')}`);
          return (
            r.stdout
              .trim()
              .split('\n')
              .every((s) => s === 'active') || undefined
          );
        },
        60_000,
      ).catch(async (err) => {
        const r = await ssh(
          MASTER.addr,
          `systemctl is-active ${units.join(' ')}; journalctl -n 40 --no-pager -u ffwatt-master`,
        );
        throw new Error(`${String(err)}\n${r.output}`);
      });
    },
    2 * MIN,
  );

  it(
    'runs the worker services on each worker',
    async () => {
      const units = ['ffwatt-agent', 'nginx', 'prometheus-node-exporter'];
      for (const w of WORKERS) {
        await waitFor(
          `${w.name} units active`,
          async () => {
            const r = await ssh(w.addr, `systemctl is-active ${units.join(' ')}`);
            return (
              r.stdout
                .trim()
                .split('\n')
                .every((s) => s === 'active') || undefined
            );
          },
          60_000,
        ).catch(async (err) => {
          const r = await ssh(
            w.addr,
            `systemctl is-active ${units.join(' ')}; journalctl -n 40 --no-pager -u ffwatt-agent`,
          );
          throw new Error(`${String(err)}\n${r.output}`);
        });
      }
    },
    3 * MIN,
  );

  it(
    'runs master and agent as the unprivileged ffwatt user with systemd hardening',
    async () => {
      const props =
        'User,NoNewPrivileges,ProtectSystem,ProtectHome,PrivateTmp,Restart,StateDirectory,RestrictNamespaces,SystemCallFilter,SystemCallArchitectures';
      const m = await ssh(MASTER.addr, `systemctl show -p ${props} ffwatt-master`);
      expect(m.stdout).toContain('User=ffwatt');
      expect(m.stdout).toContain('NoNewPrivileges=yes');
      expect(m.stdout).toContain('ProtectSystem=strict');
      expect(m.stdout).toContain('ProtectHome=yes');
      expect(m.stdout).toContain('PrivateTmp=yes');
      expect(m.stdout).toContain('Restart=on-failure');
      expect(m.stdout).toContain('StateDirectory=ffwatt');
      expect(m.stdout).toContain('RestrictNamespaces=yes');
      expect(m.stdout).toContain('SystemCallArchitectures=native');
      expect(m.stdout).toMatch(/^SystemCallFilter=\S/m);
      for (const w of WORKERS) {
        const a = await ssh(
          w.addr,
          `systemctl show -p ${props},SupplementaryGroups ffwatt-agent; id -nG ffwatt; id -nG ffwatt-ffmpeg; stat -c '%n %a %U:%G' /etc/ffwatt/registration-token /etc/ffwatt/client.key /var/lib/ffwatt-agent /var/lib/ffwatt-work; ls /etc/ffwatt`,
        );
        expect(a.stdout).toContain('User=ffwatt');
        expect(a.stdout).toContain('NoNewPrivileges=yes');
        expect(a.stdout).toContain('ProtectSystem=strict');
        expect(a.stdout).toContain('RestrictNamespaces=yes');
        expect(a.stdout).toMatch(/^SystemCallFilter=\S/m);
        expect(a.stdout).toContain('SupplementaryGroups=ffwatt-ffmpeg ffwatt-rapl');
        expect(a.stdout).toMatch(/^ffwatt .*ffwatt-rapl/m);
        // FFmpeg's user is in its own group only: not the agent's, not the RAPL readers'
        expect(a.stdout).toMatch(/^ffwatt-ffmpeg$/m);
        expect(a.stdout).toContain('/etc/ffwatt/registration-token 640 root:ffwatt');
        expect(a.stdout).toContain('/etc/ffwatt/client.key 640 root:ffwatt');
        expect(a.stdout).toContain('/var/lib/ffwatt-agent 700 ffwatt:ffwatt');
        expect(a.stdout).toContain('/var/lib/ffwatt-work 2770 ffwatt:ffwatt-ffmpeg');
        // the worker never holds the master's admin token
        expect(a.stdout).not.toMatch(/^token$/m);
      }
    },
    2 * MIN,
  );

  it(
    'every unit the roles write has a systemd-analyze security exposure of 2.0 or less',
    async () => {
      const units: Array<[typeof MASTER, string]> = [
        [MASTER, 'ffwatt-master.service'],
        [MASTER, 'ffwatt-vmalert.service'],
        ...WORKERS.map((w): [typeof MASTER, string] => [w, 'ffwatt-agent.service']),
      ];
      const measured: string[] = [];
      for (const [host, unit] of units) {
        const r = await ssh(host.addr, `systemd-analyze security --no-pager ${unit}`);
        const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
        expect(m, `${host.name} ${unit}:\n${r.output}`).not.toBeNull();
        measured.push(`${host.name} ${unit} ${m![1]}`);
        expect(Number(m![1]), `${host.name} ${unit}:\n${r.stdout}`).toBeLessThanOrEqual(2.0);
      }
      console.log(`systemd-analyze security exposure:\n${measured.join('\n')}`);
    },
    3 * MIN,
  );

  it(
    "every unit's Documentation= file is on the host",
    async () => {
      for (const [host, unit] of [
        [MASTER, 'ffwatt-master'],
        [MASTER, 'ffwatt-vmalert'],
        [WORKERS[0], 'ffwatt-agent'],
      ] as const) {
        const r = await ssh(host.addr, `systemctl show -p Documentation --value ${unit}`);
        const files = r.stdout
          .trim()
          .split(/\s+/)
          .filter((d) => d.startsWith('file://'))
          .map((d) => d.slice('file://'.length));
        expect(files.length, `${unit}: ${r.stdout}`).toBeGreaterThan(0);
        for (const f of files)
          expect((await ssh(host.addr, `test -f ${f}`)).code, `${unit}: ${f} missing on ${host.name}`).toBe(0);
      }
    },
    2 * MIN,
  );

  it(
    'the deployed agent runs as node with the measuring flags of agent/node-flags.ts',
    async () => {
      for (const w of WORKERS) {
        // the running process (between restarts MainPID is 0)
        const r = await waitFor(
          `${w.name}: ffwatt-agent running`,
          async () => {
            const c = await ssh(
              w.addr,
              "pid=$(systemctl show -p MainPID --value ffwatt-agent) && test \"$pid\" -gt 0 && tr '\\0' ' ' < /proc/$pid/cmdline",
            );
            return c.code === 0 && c;
          },
          60_000,
        );
        const argv = r.stdout.trim().split(' ');
        expect(argv[0], `${w.name}: ${r.stdout}`).toBe('/opt/ffwatt/current/node');
        expect(argv.slice(1, 1 + MEASURING_NODE_FLAGS.length), `${w.name}: ${r.stdout}`).toEqual(MEASURING_NODE_FLAGS);
        expect(argv.slice(1 + MEASURING_NODE_FLAGS.length, 3 + MEASURING_NODE_FLAGS.length)).toEqual([
          '/opt/ffwatt/current/bin/ffwatt.mjs',
          'agent',
        ]);
      }
    },
    2 * MIN,
  );

  it(
    'FFmpeg, started as the deployed agent starts it, runs as its own uid with no capability and reads neither credential nor spool',
    async () => {
      const w = WORKERS[0];
      // The agent unit's own sandbox and identity, for a transient unit that runs the wrapper.
      const unit = (await ssh(w.addr, 'systemctl cat ffwatt-agent')).stdout;
      const sandbox = sandboxProperties(unit);
      expect(sandbox).toContain('AmbientCapabilities=CAP_SETUID CAP_SETGID');
      // the node credential the agent got at registration (0600, the agent's, in its state directory)
      await waitFor(
        'node credential written by the agent',
        async () => (await ssh(w.addr, 'test -s /var/lib/ffwatt-agent/state/node-token')).code === 0,
        90_000,
      );
      const cred = await ssh(
        w.addr,
        "stat -c '%a %U:%G' /var/lib/ffwatt-agent/state/node-token /var/lib/ffwatt-agent/state",
      );
      expect(cred.stdout).toMatch(/^600 ffwatt:ffwatt$/m);
      // and a result file in the spool, as the agent writes them
      const prep = await ssh(
        w.addr,
        'install -d -o ffwatt -g ffwatt -m 0700 /var/lib/ffwatt-agent/spool && install -o ffwatt -g ffwatt -m 0640 /dev/null /var/lib/ffwatt-agent/spool/probe-result.json',
      );
      expect(prep.code, prep.output).toBe(0);
      const asAgent = (cmd: string) =>
        ssh(
          w.addr,
          `systemd-run --wait --pipe --quiet --collect ${sandbox.map((p) => `-p '${p}'`).join(' ')} ${cmd} 2>&1`,
        );
      // FFmpeg reads its own /proc/self/status: uid, groups and capability sets of the FFmpeg process
      const status = await asAgent(
        '/usr/local/libexec/ffwatt-ffmpeg -v error -f data -i /proc/self/status -map 0 -c copy -f data -',
      );
      expect(status.stdout, status.output).toMatch(/^Uid:\s+(\d+)\s+\1\s+\1\s+\1$/m);
      const uid = (await ssh(w.addr, 'id -u ffwatt-ffmpeg')).stdout.trim();
      expect(status.stdout).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      expect(status.stdout).toMatch(/^Groups:\s*$/m);
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'])
        expect(status.stdout).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
      const token = (await ssh(w.addr, 'cat /var/lib/ffwatt-agent/state/node-token')).stdout.trim();
      expect(token.length).toBeGreaterThan(20);
      for (const secret of [
        '/var/lib/ffwatt-agent/state/node-token',
        '/var/lib/ffwatt-agent/spool/probe-result.json',
        '/etc/ffwatt/client.key',
        '/etc/ffwatt/registration-token',
      ]) {
        const r = await asAgent(
          `/usr/local/libexec/ffwatt-ffmpeg -v error -f data -i ${secret} -map 0 -c copy -f data -`,
        );
        expect(r.stdout, `${secret} readable by FFmpeg's uid`).toMatch(/Permission denied/);
        expect(r.stdout).not.toContain(token);
      }
      // the same read as the agent's own uid works: the check above is not vacuous
      const own = await asAgent(
        '/usr/bin/ffmpeg -v error -f data -i /var/lib/ffwatt-agent/state/node-token -map 0 -c copy -f data -',
      );
      expect(own.stdout, own.output).toContain(token);
      await ssh(w.addr, 'rm -f /var/lib/ffwatt-agent/spool/probe-result.json');
    },
    3 * MIN,
  );

  it(
    'a run in the agent unit sandbox encodes through the FFmpeg wrapper (syscall filter, scratch folder shared with FFmpeg)',
    async () => {
      const w = WORKERS[0];
      const unit = (await ssh(w.addr, 'systemctl cat ffwatt-agent')).stdout;
      const sandbox = sandboxProperties(unit);
      const matrix = [
        'name: sandbox-probe',
        'input: {source: testsrc2, resolution: 320x240, fps: 30}',
        'repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}',
        'cooldown_s: 0',
        'idle_baseline_s: 1',
        'scenarios:',
        '  - {mode: file, codec: [h264], preset: ultrafast, rate: {crf: 30}, streams: 1, warmup_s: 0.5, duration_s: 2}',
        '',
      ].join('\n');
      const put = await ssh(
        w.addr,
        `rm -rf /var/lib/ffwatt-work/probe && printf '%s' '${matrix}' > /var/lib/ffwatt-work/probe.yml && chmod 0644 /var/lib/ffwatt-work/probe.yml`,
      );
      expect(put.code, put.output).toBe(0);
      const r = await ssh(
        w.addr,
        `systemd-run --wait --pipe --quiet --collect ${sandbox.map((p) => `-p '${p}'`).join(' ')} -p EnvironmentFile=/etc/ffwatt/agent.env ` +
          '-p WorkingDirectory=/var/lib/ffwatt-work /opt/ffwatt/current/node /opt/ffwatt/current/bin/ffwatt.mjs run /var/lib/ffwatt-work/probe.yml --out /var/lib/ffwatt-work/probe --json --no-report',
        5 * MIN,
      );
      expect(r.code, r.output.slice(-4000)).toBe(0);
      const summary = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
        status: string;
        counts: Record<string, number>;
      };
      expect(summary.status).toBe('done');
      expect(summary.counts.succeeded).toBe(1);
      // the agent's environment points every FFmpeg use at the wrapper
      const env = await ssh(w.addr, 'cat /etc/ffwatt/agent.env');
      expect(env.stdout).toMatch(/^FFWATT_FFMPEG=\/usr\/local\/libexec\/ffwatt-ffmpeg$/m);
      expect(env.stdout).toMatch(/^FFWATT_QUALITY_FFMPEG=\/usr\/local\/libexec\/ffwatt-ffmpeg$/m);
      await ssh(w.addr, 'rm -rf /var/lib/ffwatt-work/probe /var/lib/ffwatt-work/probe.yml');
    },
    6 * MIN,
  );

  it(
    'grants RAPL read access by rule, guarded where the host has no powercap, and records NVML absent',
    async () => {
      for (const w of WORKERS) {
        const r = await ssh(
          w.addr,
          'cat /etc/tmpfiles.d/ffwatt-rapl.conf /etc/udev/rules.d/70-ffwatt-rapl.rules; ls /sys/class/powercap 2>&1 | head -1; systemctl cat ffwatt-agent',
        );
        expect(r.code, r.output).toBe(0);
        expect(r.stdout).toMatch(/^z \/sys\/class\/powercap\/\*\/energy_uj 0440 root ffwatt-rapl -$/m);
        expect(r.stdout).toContain('SUBSYSTEM=="powercap"');
        // no NVIDIA library on the test hosts: the agent is not pointed at one
        expect(r.stdout).not.toContain('--nvml-library');
        expect(r.stdout).toContain(`--node-id ${w.name}`);
      }
    },
    2 * MIN,
  );

  it(
    'serves the master API over TLS with the generated CA, and only to a client certificate from it',
    async () => {
      const ca = await masterCa();
      const auth = {
        cert: (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.crt')).stdout,
        key: (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.key')).stdout,
        token: (
          parseYaml(readFileSync(join(HOSTS_WORK, 'group_vars/master.yml'), 'utf8')) as { ffwatt_api_token: string }
        ).ffwatt_api_token,
      };
      const ok = await waitFor(
        'master /healthz',
        async () => {
          const r = await httpsGet(`https://${MASTER.addr}:8443/healthz`, ca, auth);
          return r.status === 200 ? r : undefined;
        },
        60_000,
      );
      expect(JSON.parse(ok.body)).toEqual({ ok: true });
      await expect(httpsGet(`https://${MASTER.addr}:8443/healthz`)).rejects.toThrow(/certificate|self.signed|issuer/i);
      // client certificates are checked (client_ca): without one the handshake is refused
      await expect(httpsGet(`https://${MASTER.addr}:8443/healthz`, ca)).rejects.toThrow(/certificate required|alert/i);
    },
    2 * MIN,
  );

  it(
    'the master stores each worker with its inventory cost figures as node labels, registered over its own client certificate',
    async () => {
      const ca = await masterCa();
      const auth = {
        cert: (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.crt')).stdout,
        key: (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.key')).stdout,
        token: (
          parseYaml(readFileSync(join(HOSTS_WORK, 'group_vars/master.yml'), 'utf8')) as { ffwatt_api_token: string }
        ).ffwatt_api_token,
      };
      const nodes = await waitFor(
        'both workers registered',
        async () => {
          const r = await httpsGet(`https://${MASTER.addr}:8443/api/v1/nodes`, ca, auth);
          if (r.status !== 200) throw new Error(`HTTP ${r.status} ${r.body}`);
          const list = (JSON.parse(r.body) as { nodes: Array<{ id: string; labels: string[] }> }).nodes;
          return WORKERS.every((w) => list.some((n) => n.id === w.name)) ? list : undefined;
        },
        120_000,
        3000,
      );
      const labels = (id: string) => nodes.find((n) => n.id === id)!.labels;
      expect(labels('ffw-worker1')).toEqual(
        expect.arrayContaining(['cost.price_per_kwh=0.31', 'cost.instance_per_hour=0.5']),
      );
      expect(labels('ffw-worker1').some((l) => l.startsWith('cost.carbon_g_per_kwh='))).toBe(false);
      expect(labels('ffw-worker2').filter((l) => l.startsWith('cost.'))).toEqual([]);
      // each worker's client certificate names it (CN and SAN = node id), signed by the fleet CA
      for (const w of WORKERS) {
        const c = await ssh(
          w.addr,
          'openssl x509 -in /etc/ffwatt/client.crt -noout -subject -ext subjectAltName,extendedKeyUsage && openssl verify -CAfile /etc/ffwatt/ca.crt /etc/ffwatt/client.crt',
        );
        expect(c.stdout, c.output).toContain(`CN = ${w.name}`);
        expect(c.stdout).toContain(`DNS:${w.name}`);
        expect(c.stdout).toContain('TLS Web Client Authentication');
        expect(c.stdout).toContain('/etc/ffwatt/client.crt: OK');
      }
    },
    3 * MIN,
  );

  it(
    "VictoriaMetrics on the master scrapes every worker's agent and the master, all up",
    async () => {
      const targets = await waitFor(
        'all ffwatt targets up',
        async () => {
          const d = await httpGetJson(`http://${MASTER.addr}:8428/api/v1/targets`);
          const active = d.data.activeTargets as Array<{
            labels: Record<string, string>;
            health: string;
            lastError?: string;
            scrapeUrl: string;
          }>;
          const agents = active.filter((t) => t.labels.job === 'ffwatt-agent');
          const master = active.filter((t) => t.labels.job === 'ffwatt-master');
          const allUp =
            WORKERS.every((w) => agents.some((t) => t.labels.node === w.name && t.health === 'up')) &&
            master.some((t) => t.health === 'up');
          if (!allUp) throw new Error(JSON.stringify(active.map((t) => [t.scrapeUrl, t.health, t.lastError])));
          return active;
        },
        3 * MIN,
        3000,
      );
      const agentUrls = targets
        .filter((t) => t.labels.job === 'ffwatt-agent')
        .map((t) => t.scrapeUrl)
        .sort();
      expect(agentUrls).toEqual(WORKERS.map((w) => `http://${w.addr}:9464/metrics`).sort());
      expect(targets.find((t) => t.labels.job === 'ffwatt-master')?.scrapeUrl).toBe(
        `https://${MASTER.addr}:8443/metrics`,
      );
    },
    4 * MIN,
  );

  it(
    'refuses a wrong variable type through argument_specs, naming the variable',
    async () => {
      const r = await playbook(
        ['site.yml', '--limit', MASTER.name, '-e', JSON.stringify({ ffwatt_master_port: 'not-a-port' })],
        10 * MIN,
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/Validating arguments against arg spec/);
      expect(r.output).toMatch(/ffwatt_master_port.*(int|convert)/);
    },
    10 * MIN,
  );

  it(
    'refuses the admin token as registration token in preflight, before touching the hosts',
    async () => {
      const admin = (
        parseYaml(readFileSync(join(HOSTS_WORK, 'group_vars/master.yml'), 'utf8')) as { ffwatt_api_token: string }
      ).ffwatt_api_token;
      const r = await playbook(['site.yml', '-e', JSON.stringify({ ffwatt_registration_token: admin })], 10 * MIN);
      expect(r.code).not.toBe(0);
      expect(r.output).toContain(
        'ffwatt_registration_token must be a string of at least 32 characters, different from',
      );
      const rc = recap(r.stdout);
      for (const h of ALL) expect(rc[h.name]?.changed ?? 0, `${h.name} changed before the refusal`).toBe(0);
    },
    10 * MIN,
  );

  it(
    "stops before any change on any host when Grafana's apt repository is unreachable, naming it",
    async () => {
      const r = await playbook(
        [
          'site.yml',
          '-e',
          JSON.stringify({ ffwatt_grafana_enabled: true, ffwatt_grafana_admin_password: 'a-long-enough-password' }),
        ],
        10 * MIN,
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(
        /ffwatt_grafana_enabled is true, but ffw-master cannot fetch from Grafana's apt\s+repository: https:\/\/apt\.grafana\.com\/gpg\.key -> /,
      );
      expect(r.output).toContain('Nothing was changed.');
      const rc = recap(r.stdout);
      for (const h of ALL) {
        expect(rc[h.name], `${h.name} in PLAY RECAP`).toBeDefined();
        expect(rc[h.name].changed, `${h.name} changed before the refusal`).toBe(0);
      }
      expect(r.stdout).not.toMatch(/TASK \[(master|worker|runtime) : (Install|Configure)/);
    },
    10 * MIN,
  );

  it(
    'refuses a short API token in preflight, before touching the hosts',
    async () => {
      const r = await playbook(
        ['site.yml', '--limit', MASTER.name, '-e', JSON.stringify({ ffwatt_api_token: 'short' })],
        10 * MIN,
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toContain('ffwatt_api_token must be a string of at least 32 characters');
    },
    10 * MIN,
  );

  it(
    'smoke: a tiny matrix submitted from the box runs on the deployed workers and its results come back',
    async () => {
      const vars = parseYaml(readFileSync(join(HOSTS_WORK, 'group_vars/master.yml'), 'utf8')) as {
        ffwatt_api_token: string;
      };
      const tokenFile = join(TMP, 'token');
      const caFile = join(TMP, 'ca.crt');
      writeFileSync(tokenFile, vars.ffwatt_api_token + '\n', { mode: 0o600 });
      writeFileSync(caFile, await masterCa());
      // the operator's client certificate, made by the master role (the master checks client certificates)
      const certFile = join(TMP, 'operator.crt');
      const keyFile = join(TMP, 'operator.key');
      writeFileSync(certFile, (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.crt')).stdout);
      writeFileSync(keyFile, (await ssh(MASTER.addr, 'cat /etc/ffwatt/tls/operator.key')).stdout, { mode: 0o600 });
      const matrixFile = join(TMP, 'smoke.yml');
      writeFileSync(
        matrixFile,
        [
          'name: ansible-smoke',
          'input: {source: testsrc2, resolution: 320x240, fps: 30}',
          'repetitions: {min: 2, max: 2, ci_halfwidth_pct: 50}',
          'cooldown_s: 0',
          'idle_baseline_s: 1',
          'scenarios:',
          '  - mode: file',
          '    codec: [h264]',
          '    preset: ultrafast',
          '    rate: {crf: 30}',
          '    streams: 1',
          '    warmup_s: 0.5',
          '    duration_s: 2',
          '',
        ].join('\n'),
      );
      const r = await run(
        process.execPath,
        [
          join(REPO, 'bin/ffwatt.mjs'),
          'run',
          matrixFile,
          '--master',
          `https://${MASTER.addr}:8443`,
          '--token-file',
          tokenFile,
          '--ca-cert',
          caFile,
          '--out',
          join(TMP, 'results'),
          '--json',
          '--no-report',
        ],
        { timeoutMs: 8 * MIN, env: { FFWATT_CLIENT_CERT: certFile, FFWATT_CLIENT_KEY: keyFile } },
      );
      expect(r.code, r.output.slice(-4000)).toBe(0);
      const summary = JSON.parse(r.stdout) as { status: string; counts: Record<string, number> };
      expect(summary.status).toBe('done');
      expect(summary.counts).toEqual({ succeeded: 2 });
    },
    10 * MIN,
  );

  it(
    'placement each-class: a worker with an NVIDIA GPU (fake NVML) is a second hardware class; both run every cell, the report keeps the classes apart and prices each run with its own node figures',
    async () => {
      const started = Date.now();
      const w2 = WORKERS[1];
      // The GPU: the fake libnvidia-ml.so.1 put where the role looks for NVML, answering for an
      // NVIDIA A10 (23028 MiB framebuffer as nvidia-smi shows it; no energy or power readings).
      const lib = fakeNvmlLibrary('with-energy');
      const scp = await run('scp', [
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        `UserKnownHostsFile=${join(HOSTS_WORK, 'known_hosts')}`,
        '-i',
        join(HOSTS_WORK, 'id_ed25519'),
        lib,
        `root@${w2.addr}:/tmp/libnvidia-ml.so.1`,
      ]);
      expect(scp.code, scp.output).toBe(0);
      const put = await ssh(
        w2.addr,
        [
          'install -D -m 0644 /tmp/libnvidia-ml.so.1 /usr/local/nvidia/lib64/libnvidia-ml.so.1',
          "printf 'NVIDIA A10|GPU-3c5b1a2e-0000-0000-0000-000000000001|-|-|-|-|-|-|-|-|24146608128\\n' > /etc/ffwatt/fake-nvml.state",
          'chmod 0644 /etc/ffwatt/fake-nvml.state',
          'mkdir -p /etc/systemd/system/ffwatt-agent.service.d',
          "printf '[Service]\\nEnvironment=FAKE_NVML_STATE=/etc/ffwatt/fake-nvml.state\\n' > /etc/systemd/system/ffwatt-agent.service.d/fake-nvml.conf",
        ].join(' && '),
      );
      expect(put.code, put.output).toBe(0);
      // the role finds the library and points the agent at it (--nvml-library)
      const converge = await playbook(['site.yml']);
      expect(converge.code, converge.output.slice(-8000)).toBe(0);
      await ssh(w2.addr, 'systemctl daemon-reload && systemctl restart ffwatt-agent');
      expect((await ssh(w2.addr, 'systemctl cat ffwatt-agent')).stdout).toContain(
        '--nvml-library /usr/local/nvidia/lib64/libnvidia-ml.so.1',
      );

      const vars = parseYaml(readFileSync(join(HOSTS_WORK, 'group_vars/master.yml'), 'utf8')) as {
        ffwatt_api_token: string;
      };
      const ca = await masterCa();
      const auth = {
        cert: readFileSync(join(TMP, 'operator.crt'), 'utf8'),
        key: readFileSync(join(TMP, 'operator.key'), 'utf8'),
        token: vars.ffwatt_api_token,
      };
      const classes = await waitFor(
        'worker2 registered with its GPU class',
        async () => {
          const r = await httpsGet(`https://${MASTER.addr}:8443/api/v1/nodes`, ca, auth);
          const list = (
            JSON.parse(r.body) as { nodes: Array<{ id: string; state: string; hardwareClass?: string | null }> }
          ).nodes;
          const c1 = list.find((n) => n.id === WORKERS[0].name);
          const c2 = list.find((n) => n.id === w2.name);
          return c2?.hardwareClass?.includes('nvidia-a10') && c2.state === 'alive' && c1?.state === 'alive'
            ? { c1: c1.hardwareClass!, c2: c2.hardwareClass }
            : undefined;
        },
        120_000,
        2000,
      );
      expect(classes.c1).not.toBe(classes.c2);

      const matrixFile = join(TMP, 'classes.yml');
      writeFileSync(
        matrixFile,
        [
          'name: ansible-each-class',
          'input: {source: testsrc2, resolution: 320x240, fps: 30}',
          'placement: each-class',
          'repetitions: {min: 2, max: 2, ci_halfwidth_pct: 50}',
          'cooldown_s: 0',
          'idle_baseline_s: 1',
          'scenarios:',
          // hevc at 320x240 encodes ~5-10x real time: 10 s of media keeps FFmpeg busy past the
          // 0.5 s warm-up, so every run's window opens while its stream runs (a 2 s h264 clip ends
          // before it on a quiet box: window-opened-after-stream-end, no energy per encoded minute).
          '  - {mode: file, codec: [hevc], preset: ultrafast, rate: [{crf: 28}, {crf: 36}], streams: 1, warmup_s: 0.5, duration_s: 10}',
          '',
        ].join('\n'),
      );
      const out = join(TMP, 'classes');
      const r = await run(
        process.execPath,
        [
          join(REPO, 'bin/ffwatt.mjs'),
          'run',
          matrixFile,
          '--master',
          `https://${MASTER.addr}:8443`,
          '--token-file',
          join(TMP, 'token'),
          '--ca-cert',
          join(TMP, 'ca.crt'),
          '--out',
          out,
          '--json',
          '--no-report',
        ],
        {
          timeoutMs: 8 * MIN,
          env: { FFWATT_CLIENT_CERT: join(TMP, 'operator.crt'), FFWATT_CLIENT_KEY: join(TMP, 'operator.key') },
        },
      );
      expect(r.code, r.output.slice(-4000)).toBe(0);
      const summary = JSON.parse(r.stdout) as { status: string; counts: Record<string, number> };
      expect(summary.status).toBe('done');
      // 2 cells x 2 classes x 2 repetitions
      expect(summary.counts).toEqual({ succeeded: 8 });
      // kept for reading after the hosts are gone
      rmSync(join(HOSTS_WORK, '..', 'fleet-classes'), { recursive: true, force: true });
      cpSync(out, join(HOSTS_WORK, '..', 'fleet-classes'), { recursive: true });

      // --include-flagged: the test hosts share one busy box, so their runs are mostly flagged
      // noisy_neighbour / idle-baseline-dirty and, by default, left out of the statistics.
      const rep = await run(process.execPath, [
        join(REPO, 'bin/ffwatt.mjs'),
        'report',
        out,
        '--include-flagged',
        '--format',
        'json,md',
        '--out',
        join(out, 'report'),
      ]);
      expect(rep.code, rep.output.slice(-4000)).toBe(0);
      const model = JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8')) as ReportModel;
      const md = readFileSync(join(out, 'report', 'report.md'), 'utf8');
      // one row per scenario and class, each holding only that class's 2 runs: nothing pooled
      expect(new Set(model.scenarios.map((s) => s.hardwareClass))).toEqual(new Set([classes.c1, classes.c2]));
      expect(model.scenarios).toHaveLength(4);
      for (const s of model.scenarios) {
        expect(s.runs.succeeded, s.stratum).toBe(2);
        expect(s.energy?.n, s.stratum).toBe(2);
      }
      // the machine comparison lists both classes for each scenario
      expect(model.machineComparison.scenarios).toHaveLength(2);
      for (const m of model.machineComparison.scenarios)
        expect(new Set(m.rows.map((x) => x.hardwareClass))).toEqual(new Set([classes.c1, classes.c2]));
      // rankings, tests and Pareto fronts stay inside one class
      const classOf = new Map(model.scenarios.map((s) => [s.id, s.hardwareClass]));
      for (const k of model.ranking) expect(classOf.get(k.rowId)).toBe(k.hardwareClass);
      for (const t of model.comparisons.tests)
        expect([classOf.get(t.a), classOf.get(t.b)]).toEqual([t.hardwareClass, t.hardwareClass]);
      for (const p of model.pareto)
        for (const pt of [...(p.quality?.points ?? []), ...(p.speed?.points ?? [])])
          expect(classOf.get(pt.rowId)).toBe(p.hardwareClass);
      expect(model.provenance.gpus.map((g) => g.value).join()).toContain('NVIDIA A10');
      // each run priced with its own node's figures: worker1's inventory price and instance cost,
      // worker2 has none and gets the defaults, labelled as such
      for (const s of model.scenarios) {
        const figures = s.cost.figures;
        if (s.hardwareClass === classes.c1) {
          expect(figures.pricePerKwh).toEqual([{ value: 0.31, from: 'node', runs: 2 }]);
          expect(figures.instanceCostPerHour).toEqual([{ value: 0.5, from: 'node', runs: 2 }]);
          expect(figures.carbonGramsPerKwh).toEqual([{ value: 300, from: 'default', runs: 2 }]);
          expect(s.cost.instanceCostPerEncodedHour).toBeGreaterThan(0);
        } else {
          expect(figures.pricePerKwh).toEqual([{ value: 0.25, from: 'default', runs: 2 }]);
          expect(figures.instanceCostPerHour).toEqual([]);
          expect(s.cost.instanceCostPerEncodedHour).toBeNull();
        }
        const kwh = s.cost.kwhPerEncodedHour!;
        expect(s.cost.energyCostPerEncodedHour).toBeCloseTo(kwh * figures.pricePerKwh[0].value!, 9);
        expect(s.cost.co2GramsPerEncodedMinute).toBeCloseTo((kwh / 60) * 300, 9);
      }
      expect(md).toContain('## Machine comparison');
      expect(md).toMatch(/0\.31 EUR\/kWh \(node\)/);
      expect(md).toMatch(/0\.25 EUR\/kWh \(default\)/);
      console.log(
        `each-class campaign on the test hosts: ${((Date.now() - started) / 1000).toFixed(0)} s (converge with the GPU, 8 runs, report)`,
      );
    },
    15 * MIN,
  );
});
