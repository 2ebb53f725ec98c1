// scripts/monitor.sh start|status|stop against a real agent exporter, on free loopback ports.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics/index.ts';
import { fleetMeters, startedSampler } from './fixtures/fake-meters.ts';
import { ROOT, freePort, getJson, waitFor, workDir } from './helpers.ts';

const SCRIPT = join(ROOT, 'scripts/monitor.sh');
let env: Record<string, string>;
let server: Server;
let dir: string;

const monitor = (cmd: string, extra: Record<string, string> = {}) =>
  execa(SCRIPT, [cmd], { env: { ...env, ...extra }, reject: false, all: true, timeout: 120_000 });

beforeAll(async () => {
  dir = workDir('monitor-sh');
  const ports = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const m = fleetMeters(() => performance.now() / 1000);
  const agent = createAgentMetrics({ sampler: startedSampler([m.rapl]), nodeId: 'local' });
  server = createServer((_req, res) => {
    agent.metricsText().then((t) => res.writeHead(200, { 'content-type': 'text/plain' }).end(t));
  });
  await new Promise<void>((r) => server.listen(ports[0], '127.0.0.1', r));
  env = {
    FFWATT_MONITOR_DIR: dir,
    FFWATT_AGENT_ADDR: `127.0.0.1:${ports[0]}`,
    FFWATT_MASTER_ADDR: `127.0.0.1:${ports[1]}`, // nothing listens: that target is down, which is fine
    FFWATT_VM_ADDR: `127.0.0.1:${ports[2]}`,
    FFWATT_VMALERT_ADDR: `127.0.0.1:${ports[3]}`,
    FFWATT_AM_ADDR: `127.0.0.1:${ports[4]}`,
    FFWATT_NODE_EXPORTER_ADDR: `127.0.0.1:${ports[5]}`,
    FFWATT_SCRAPE_INTERVAL: '1s',
  };
});

afterAll(async () => {
  if (env) await monitor('stop');
  await new Promise((r) => server?.close(r));
});

describe('scripts/monitor.sh', () => {
  it('refuses a non-loopback address with exit 2 naming the variable', async () => {
    const r = await monitor('start', { FFWATT_VM_ADDR: '0.0.0.0:8428' });
    expect(r.exitCode).toBe(2);
    expect(r.all).toMatch(/FFWATT_VM_ADDR=0\.0\.0\.0:8428 is not a loopback/);
    expect((await monitor('bogus')).exitCode).toBe(2);
  });

  it('starts the stack, which scrapes the agent and loads the rules; status, then stop', async () => {
    const start = await monitor('start');
    expect(start.exitCode, start.all).toBe(0);
    const status = await monitor('status');
    expect(status.exitCode, status.all).toBe(0);
    expect(status.stdout).toMatch(/victoria-metrics: running/);

    const vm = `http://${env.FFWATT_VM_ADDR}`;
    await waitFor(
      'agent energy in VictoriaMetrics',
      async () => {
        const r = (await getJson(
          `${vm}/api/v1/query?query=${encodeURIComponent('ffwatt_energy_joules_total{job="ffwatt-agent",zone="package-0"}')}`,
        )) as { data: { result: unknown[] } };
        return r.data.result.length ? true : undefined;
      },
      30_000,
    );
    const rules = (await getJson(`http://${env.FFWATT_VMALERT_ADDR}/api/v1/rules`)) as {
      data: { groups: Array<{ name: string }> };
    };
    expect(rules.data.groups.map((g) => g.name).sort()).toEqual([
      'ffwatt-availability',
      'ffwatt-energy',
      'ffwatt-host',
      'ffwatt-queue',
      'ffwatt-records',
      'ffwatt-thresholds',
    ]);

    const again = await monitor('start');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/already running/);

    const pids = ['victoria-metrics', 'vmalert', 'alertmanager', 'node-exporter'].map((n) =>
      Number(readFileSync(join(dir, 'run', `${n}.pid`), 'utf8')),
    );
    const stop = await monitor('stop');
    expect(stop.exitCode, stop.all).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(join(dir, 'run', 'vmalert.pid'))).toBe(false);
    const after = await monitor('status');
    expect(after.exitCode).toBe(1);
    expect(after.stdout).toMatch(/vmalert: stopped/);
  });
});
