// End to end: the exporters served over real HTTP, scraped by a real VictoriaMetrics,
// rules evaluated by a real vmalert (recording rules written back to VictoriaMetrics),
// alerts delivered to a real Alertmanager; every Grafana panel query asked of
// VictoriaMetrics must return data. All daemons on free loopback ports, killed afterwards.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics/index.ts';
import { createMasterMetrics } from '../../master/metrics.ts';
import { FakeMeter, startedSampler } from './fixtures/fake-meters.ts';
import { cost, fakeMasterSource, runningJobEvents } from './fixtures/fake-sources.ts';
import { allQueries } from './dashboards.ts';
import { freePort, getJson, waitFor, workDir } from './helpers.ts';
import { startStack, type Stack } from './stack.ts';

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

const PACKAGE_WATTS = 160; // above the shipped 150 W threshold: FfwattPackagePowerHigh must fire
const NODE = 'e2e-worker';

let stack: Stack;
const servers: Server[] = [];

function serve(text: () => Promise<string>, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    text().then(
      (body) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
      (err) => res.writeHead(500).end(String(err)),
    );
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const query = (expr: string) => stack.query(expr);

beforeAll(async () => {
  const dir = workDir('stack');
  const [agentPort, masterPort] = [await freePort(), await freePort()];

  // exporters, with meters counting on the real clock
  const clock = () => performance.now() / 1000;
  const meters = [
    new FakeMeter(
      'rapl',
      'rapl',
      [
        { zone: 'package-0', role: 'total', watts: PACKAGE_WATTS, startUj: 5_000_000n },
        { zone: 'package-0/core', role: 'component', watts: 120 },
        { zone: 'psys', role: 'platform', watts: 190 },
      ],
      clock,
    ),
    new FakeMeter('nvml', 'nvml', [{ zone: 'gpu0', role: 'total', watts: 70 }], clock),
    new FakeMeter('estimate', 'estimate', [{ zone: 'cpu', role: 'total', watts: 12 }], clock),
  ];
  const agent = createAgentMetrics({
    sampler: startedSampler(meters),
    nodeId: NODE,
    gpuStats: () => [{ gpu: 'gpu0', engine: 'encoder', ratio: 0.4 }],
  });
  for (const ev of runningJobEvents('e2e-job')) agent.onEvent(ev);
  agent.setJobResources('e2e-job', { cpuSeconds: 1, peakRssBytes: 40e6, readBytes: 1e6, writeBytes: 2e6 });
  const grow = setInterval(() => {
    // the running job keeps encoding
    const t = performance.now() / 1000;
    agent.onEvent({
      kind: 'progress',
      jobId: 'e2e-job',
      stream: 0,
      frame: 60 + Math.round(t * 30),
      fps: 30,
      speed: 1,
      outTimeS: t,
      bitrateBps: 1e5,
    });
    agent.setJobResources('e2e-job', {
      cpuSeconds: 1 + t,
      peakRssBytes: 40e6,
      readBytes: 1e6 + t * 1e4,
      writeBytes: 2e6 + t * 1e4,
    });
  }, 500);
  grow.unref();
  const master = createMasterMetrics(fakeMasterSource(), cost);
  servers.push(await serve(agent.metricsText, agentPort), await serve(master.metricsText, masterPort));

  stack = await startStack(dir, {
    agents: [{ targets: [`127.0.0.1:${agentPort}`], labels: { node: NODE, group: 'worker' } }],
    master: [{ targets: [`127.0.0.1:${masterPort}`], labels: { host: 'e2e-master', group: 'master' } }],
    nodeLabel: NODE,
    extraRules: {
      groups: [
        {
          name: 'ffwatt-e2e',
          rules: [{ alert: 'FfwattE2EAlwaysFiring', expr: 'vector(1)', labels: { severity: 'info' } }],
        },
      ],
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  for (const s of servers) await new Promise((r) => s.close(r));
});

describe('monitoring stack on loopback', () => {
  it('scrapes the agent and the master: targets up, energy queryable with the true power', async () => {
    const up = await waitFor(
      'both targets up',
      async () => {
        const r = await query('up == 1');
        return r.length >= 3 ? r : undefined;
      },
      30_000,
      stack.daemons,
    );
    expect(up.map((s) => s.metric.job).sort()).toEqual(['ffwatt-agent', 'ffwatt-master', 'node']);

    const energy = await waitFor(
      'ffwatt_energy_joules_total queryable',
      async () => {
        const r = await query(`ffwatt_energy_joules_total{node="${NODE}",zone="package-0"}`);
        return r.length ? r : undefined;
      },
      30_000,
      stack.daemons,
    );
    expect(energy[0].metric).toMatchObject({ meter: 'rapl', source: 'rapl', role: 'total', job: 'ffwatt-agent' });
    expect(Number(energy[0].value[1])).toBeGreaterThan(5);

    const power = await waitFor(
      'package power',
      async () => {
        const r = await query(`ffwatt_power_watts{node="${NODE}",zone="package-0"}`);
        return r.length ? r : undefined;
      },
      30_000,
      stack.daemons,
    );
    expect(Number(power[0].value[1])).toBeCloseTo(PACKAGE_WATTS, 0);
  });

  it('answers every Grafana panel and variable query with data', async () => {
    const queries = allQueries();
    let empty: string[] = [];
    await waitFor(
      'every panel query to return data',
      async () => {
        empty = [];
        for (const q of queries) {
          const lv = /^label_values\(\s*([\w:]+)\s*,\s*(\w+)\s*\)$/.exec(q.expr);
          if (lv) {
            const r = (await getJson(
              `${stack.vmUrl}/api/v1/label/${lv[2]}/values?match[]=${encodeURIComponent(lv[1])}`,
            )) as { data: string[] };
            if (!r.data.length) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
            continue;
          }
          if (!(await query(q.expr)).length) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
        }
        return empty.length === 0 ? true : undefined;
      },
      90_000,
      stack.daemons,
    ).catch((err) => {
      throw new Error(`panels without data:\n${empty.join('\n')}\n${String(err).slice(0, 2000)}`);
    });
    // and the recorded power is the meters' power
    const nodePower = await query(`ffwatt:node_power_watts:rate1m{node="${NODE}",source="rapl"}`);
    expect(Number(nodePower[0].value[1])).toBeGreaterThan(PACKAGE_WATTS * 0.9);
    expect(Number(nodePower[0].value[1])).toBeLessThan(PACKAGE_WATTS * 1.1);
  });

  it('evaluates every rule in vmalert without an error', async () => {
    const rules = await waitFor(
      'every rule evaluated',
      async () => {
        const r = (await getJson(`${stack.vmalertUrl}/api/v1/rules`)) as {
          data: {
            groups: Array<{ name: string; rules: Array<{ name: string; lastError: string; lastEvaluation: string }> }>;
          };
        };
        const all = r.data.groups.flatMap((g) => g.rules.map((rule) => ({ group: g.name, ...rule })));
        return all.length && all.every((rule) => !rule.lastEvaluation.startsWith('0001-')) ? all : undefined;
      },
      30_000,
      stack.daemons,
    );
    expect(rules.length).toBeGreaterThanOrEqual(28);
    expect(rules.filter((r) => r.lastError).map((r) => `${r.group}/${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('gets the node_exporter filesystem series the store-disk rule selects, with its labels', async () => {
    const fs = await waitFor(
      'node_filesystem_avail_bytes',
      async () => {
        const r = await query(
          `node_filesystem_avail_bytes{job="node",node="${NODE}",group="hybrid"} / node_filesystem_size_bytes`,
        );
        return r.length ? r : undefined;
      },
      30_000,
      stack.daemons,
    );
    for (const s of fs)
      expect(Object.keys(s.metric)).toEqual(expect.arrayContaining(['mountpoint', 'fstype', 'device']));
  });

  it('fires alerts from vmalert into Alertmanager: the test rule and real rules driven by the data', async () => {
    const names = await waitFor(
      'alerts in Alertmanager',
      async () => {
        const alerts = (await getJson(`${stack.amUrl}/api/v2/alerts`)) as AmAlert[];
        const got = new Set(alerts.map((a) => `${a.labels.alertname}${a.labels.node ? `@${a.labels.node}` : ''}`));
        const want = [
          'FfwattE2EAlwaysFiring',
          `FfwattEnergyEstimated@${NODE}`,
          `FfwattPackagePowerHigh@${NODE}`,
          'FfwattNodesMarkedDead',
        ];
        return want.every((w) => got.has(w)) ? got : undefined;
      },
      60_000,
      stack.daemons,
    );
    // healthy things stay quiet
    expect(names.has(`FfwattAgentDown@${NODE}`)).toBe(false);
    expect(names.has(`FfwattMeterMissing@${NODE}`)).toBe(false);
    expect(names.has(`FfwattGpuPowerHigh@${NODE}`)).toBe(false);
  });

  it('inhibits an agent-down alert on a dead node, not on a live one', async () => {
    const now = new Date();
    const ends = new Date(now.getTime() + 10 * 60_000).toISOString();
    const alert = (alertname: string, node: string) => ({
      labels: { alertname, node, severity: 'critical' },
      startsAt: now.toISOString(),
      endsAt: ends,
    });
    const res = await fetch(`${stack.amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert('FfwattNodeDead', 'w9'),
        alert('FfwattAgentDown', 'w9'),
        alert('FfwattAgentDown', 'w8'),
      ]),
    });
    expect(res.ok).toBe(true);
    const states = await waitFor(
      'inhibition',
      async () => {
        const alerts = (await getJson(
          `${stack.amUrl}/api/v2/alerts?filter=${encodeURIComponent('alertname="FfwattAgentDown"')}`,
        )) as AmAlert[];
        const byNode = Object.fromEntries(alerts.map((a) => [a.labels.node, a.status.state]));
        return byNode.w9 === 'suppressed' && byNode.w8 ? byNode : undefined;
      },
      20_000,
      stack.daemons,
    );
    expect(states).toMatchObject({ w9: 'suppressed', w8: 'active' });
  });
});
