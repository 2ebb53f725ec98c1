// Starts VictoriaMetrics (shipped scrape config, 1 s interval, given targets), Alertmanager
// (shipped config), vmalert (shipped rules, every `for` cut to 0, plus extra rules) and
// node_exporter on free loopback ports. stop() kills them all.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { resolveVariables } from './dashboards.ts';
import { MONITORING, freePort, getJson, startDaemon, waitFor, type Daemon } from './helpers.ts';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface Stack {
  vmUrl: string;
  amUrl: string;
  vmalertUrl: string;
  daemons: Daemon[];
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  queryRange(
    expr: string,
    startS: number,
    endS: number,
  ): Promise<Array<{ metric: Record<string, string>; values: Array<[number, string]> }>>;
  stop(): Promise<void>;
}

export async function startStack(
  dir: string,
  o: { agents: TargetGroup[]; master: TargetGroup[]; nodeLabel: string; extraRules?: unknown },
): Promise<Stack> {
  const [vmPort, vmalertPort, amPort, nodePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const vmUrl = `http://127.0.0.1:${vmPort}`;
  const amUrl = `http://127.0.0.1:${amPort}`;
  const vmalertUrl = `http://127.0.0.1:${vmalertPort}`;
  const daemons: Daemon[] = [];
  const stop = async () => {
    for (const d of [...daemons].reverse()) await d.stop();
  };

  const scrape = YAML.parse(readFileSync(join(MONITORING, 'victoria-metrics/scrape.yml'), 'utf8'));
  scrape.global.scrape_interval = '1s';
  scrape.global.scrape_timeout = '1s';
  writeFileSync(join(dir, 'scrape.yml'), YAML.stringify(scrape));
  mkdirSync(join(dir, 'targets'), { recursive: true });
  const targets: Record<string, TargetGroup[]> = {
    'agents.json': o.agents,
    'master.json': o.master,
    'nodes.json': [{ targets: [`127.0.0.1:${nodePort}`], labels: { node: o.nodeLabel, group: 'hybrid' } }],
    'monitoring.json': [],
  };
  for (const [f, groups] of Object.entries(targets)) writeFileSync(join(dir, 'targets', f), JSON.stringify(groups));

  const alerts = readFileSync(join(MONITORING, 'vmalert/alerts.yml'), 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 0s');
  writeFileSync(join(dir, 'alerts.yml'), alerts);
  const ruleArgs = [`-rule=${join(MONITORING, 'vmalert/records.yml')}`, `-rule=${join(dir, 'alerts.yml')}`];
  if (o.extraRules) {
    writeFileSync(join(dir, 'extra-rules.yml'), YAML.stringify(o.extraRules));
    ruleArgs.push(`-rule=${join(dir, 'extra-rules.yml')}`);
  }

  try {
    daemons.push(
      startDaemon('victoria-metrics', 'victoria-metrics', [
        `-httpListenAddr=127.0.0.1:${vmPort}`,
        `-storageDataPath=${join(dir, 'vm')}`,
        '-retentionPeriod=1d',
        `-promscrape.config=${join(dir, 'scrape.yml')}`,
        '-search.latencyOffset=1s',
        '-search.disableCache',
        '-loggerLevel=WARN',
      ]),
      startDaemon('alertmanager', 'prometheus-alertmanager', [
        `--config.file=${join(MONITORING, 'alertmanager/alertmanager.yml')}`,
        `--storage.path=${join(dir, 'am')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ]),
      startDaemon('node_exporter', 'prometheus-node-exporter', [
        `--web.listen-address=127.0.0.1:${nodePort}`,
        '--collector.disable-defaults',
        '--collector.filesystem',
        '--log.level=warn',
      ]),
    );
    await waitFor(
      'VictoriaMetrics /health',
      async () => ((await fetch(`${vmUrl}/health`)).ok ? true : undefined),
      30_000,
      daemons,
    );
    await waitFor(
      'Alertmanager ready',
      async () => ((await fetch(`${amUrl}/-/ready`)).ok ? true : undefined),
      30_000,
      daemons,
    );
    daemons.push(
      startDaemon('vmalert', 'vmalert', [
        ...ruleArgs,
        `-datasource.url=${vmUrl}`,
        `-remoteWrite.url=${vmUrl}`,
        `-remoteRead.url=${vmUrl}`,
        `-notifier.url=${amUrl}`,
        `-httpListenAddr=127.0.0.1:${vmalertPort}`,
        '-evaluationInterval=2s',
        '-remoteWrite.flushInterval=1s',
        '-loggerLevel=INFO',
      ]),
    );
    await waitFor(
      'vmalert ready',
      async () => ((await fetch(`${vmalertUrl}/health`)).ok ? true : undefined),
      30_000,
      daemons,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    vmUrl,
    amUrl,
    vmalertUrl,
    daemons,
    stop,
    async query(expr) {
      const r = (await getJson(`${vmUrl}/api/v1/query?query=${encodeURIComponent(resolveVariables(expr))}`)) as {
        status: string;
        data: { result: never[] };
      };
      if (r.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(r)}`);
      return r.data.result;
    },
    async queryRange(expr, startS, endS) {
      const url = `${vmUrl}/api/v1/query_range?query=${encodeURIComponent(resolveVariables(expr))}&start=${startS}&end=${endS}&step=1`;
      const r = (await getJson(url)) as { status: string; data: { result: never[] } };
      if (r.status !== 'success') throw new Error(`query_range ${expr}: ${JSON.stringify(r)}`);
      return r.data.result;
    },
  };
}
