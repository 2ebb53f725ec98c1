// End to end with the real thing: a small matrix run in local mode (real FFmpeg, real
// SQLite, the agent and master exporters served by the harness), scraped by a real
// VictoriaMetrics with vmalert's recording rules. Checks that what the dashboards would
// show is what the runs recorded, and that every panel query runs against real data.
// Then promtool checks the exporters' output over the real store and real meters.
import { execa } from 'execa';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/types.ts';
import { silentLogger } from '../../core/log.ts';
import { createAgentMetrics } from '../../agent/metrics/index.ts';
import { openMeters, Sampler } from '../../energy/index.ts';
import { masterMetricsFor } from '../../master/metrics-wiring.ts';
import { Store } from '../../store/store.ts';
import { fakeNvmlLibrary, fakeNvmlState } from '../fixtures/fake-nvml/fake-nvml.ts';
import { loadMatrix } from '../../matrix/index.ts';
import { localNodeId, runLocalCampaign, type LocalRunResult } from '../../harness/local.ts';
import { allQueries } from './dashboards.ts';
import { ROOT, freePort, waitFor, workDir } from './helpers.ts';
import { startStack, type Stack } from './stack.ts';

// Long enough that 1-second scrapes see every job while it runs (cooldown counts as running)
// and its FFmpeg gauges while it encodes, also on a fast, quiet machine.
const MATRIX = `name: monitoring-e2e
input: {source: testsrc2, resolution: 640x360, fps: 30}
repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}
cooldown_s: 2.5
idle_baseline_s: 1
scenarios:
  - mode: file
    codec: h264
    preset: [ultrafast, veryfast]
    rate: {crf: 30}
    warmup_s: 0.5
    duration_s: 20
`;

const node = localNodeId(hostname());
let stack: Stack;
let result: LocalRunResult;
let startS: number;
const records: RunRecord[] = [];
const scenarioOfJob = new Map<string, string>();

beforeAll(async () => {
  const dir = workDir('matrix-stack');
  const [agentPort, masterPort] = [await freePort(), await freePort()];
  stack = await startStack(dir, {
    agents: [{ targets: [`127.0.0.1:${agentPort}`], labels: { node, group: 'hybrid' } }],
    master: [{ targets: [`127.0.0.1:${masterPort}`], labels: { host: hostname(), group: 'master' } }],
    nodeLabel: node,
  });
  writeFileSync(join(dir, 'matrix.yml'), MATRIX);
  startS = Math.floor(Date.now() / 1000);
  result = await runLocalCampaign({
    plan: await loadMatrix(join(dir, 'matrix.yml'), { seed: 3 }),
    outDir: join(dir, 'out'),
    log: silentLogger,
    progress: false,
    metricsListen: { agent: `127.0.0.1:${agentPort}`, master: `127.0.0.1:${masterPort}` },
    metricsLingerS: 10, // scrapes and rule evaluations of the final state, also on a loaded box
    onEvent: (ev) => {
      if (ev.kind === 'job') scenarioOfJob.set(ev.jobId, ev.scenario.key);
      if (ev.kind === 'result') records.push(ev.record);
    },
  });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

/**
 * Last value of each series over the run window, polled until `enough` holds: a new series
 * on a fresh VictoriaMetrics can take ~10 s to become queryable (docs: tool-notes).
 */
async function lastValues(
  expr: string,
  enough: (n: number) => boolean = (n) => n > 0,
): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  return waitFor(
    `series of ${expr}`,
    async () => {
      const r = await stack.queryRange(expr, startS, Math.ceil(Date.now() / 1000));
      return enough(r.length)
        ? r.map((s) => ({ metric: s.metric, value: Number(s.values[s.values.length - 1][1]) }))
        : undefined;
    },
    40_000,
    stack.daemons,
  );
}

describe('a real local campaign seen through VictoriaMetrics', () => {
  it('ran the matrix', () => {
    expect(result.status).toBe('done');
    expect(records.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('shows the job running on the node while it ran, and the frames encoded', async () => {
    const running = await lastValues(`ffwatt_job_running{node="${node}"}`, (n) => n >= 2);
    expect(new Set(running.map((s) => s.metric.job_id))).toEqual(new Set(records.map((r) => r.jobId)));
    const frames = await lastValues(`ffwatt_ffmpeg_frames_total{node="${node}"}`);
    expect(frames[0].value).toBeGreaterThan(0);
    const cpu = await lastValues(`ffwatt_job_cpu_seconds_total{node="${node}"}`);
    expect(cpu[0].value).toBeGreaterThan(0);
  });

  it('has the meters up and their energy counting', async () => {
    const up = await lastValues(`ffwatt_meter_up{node="${node}"}`);
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((s) => s.value === 1)).toBe(true);
    await lastValues(`ffwatt_energy_joules_total{node="${node}",role="total"}`);
    const energy = await stack.queryRange(
      `ffwatt_energy_joules_total{node="${node}",role="total"}`,
      startS,
      Math.ceil(Date.now() / 1000),
    );
    for (const s of energy)
      expect(Number(s.values[s.values.length - 1][1])).toBeGreaterThanOrEqual(Number(s.values[0][1]));
  });

  it('exports each run with the energy per encoded minute the run recorded', async () => {
    const exported = await lastValues(`ffwatt_run_joules_per_encoded_minute{node="${node}"}`, (n) => n >= 2);
    expect(exported).toHaveLength(2);
    for (const r of records) {
      const series = exported.find((s) => s.metric.scenario === scenarioOfJob.get(r.jobId));
      expect(series, r.jobId).toBeDefined();
      expect(series!.metric).toMatchObject({ codec: 'h264', source: r.energy!.source });
      expect(series!.value).toBeCloseTo(r.energy!.jPerEncodedMinute!, 6);
    }
    const jobs = await lastValues('ffwatt_jobs{state="succeeded"}');
    expect(jobs[0].value).toBe(2);
    // the power a dashboard shows comes from the same counters as the runs' energy source
    const power = await lastValues(`ffwatt:node_power_watts:rate1m{node="${node}"}`);
    expect(power.map((p) => p.metric.source)).toEqual([records[0].energy!.source]);
  });

  it('runs every dashboard query without an error, the core panels with data', async () => {
    const core = [
      'ffwatt-fleet.json / Agents up',
      'ffwatt-fleet.json / Node power',
      'ffwatt-power.json / Total zones (add up)',
      'ffwatt-campaign.json / Jobs by state',
      'ffwatt-campaign.json / Running jobs',
      'ffwatt-campaign.json / FFmpeg fps per stream',
      'ffwatt-efficiency.json / J per encoded minute by codec/preset',
      'ffwatt-cost.json / CO2 per run',
      'ffwatt-cost.json / Fleet energy cost per hour',
      'ffwatt-cost.json / Energy cost per encoded hour, per class',
      'ffwatt-cost.json / CO2 per encoded minute, per class',
      // Not 'Instance cost per encoded hour, per class': a local run prices no instance by
      // default (core/cost.ts), so that series is absent, never 0. stack.test.ts feeds it.
    ];
    let missing: string[] = [];
    await waitFor(
      'core panels with data',
      async () => {
        const withData = new Set<string>();
        for (const q of allQueries()) {
          if (q.expr.startsWith('label_values(')) continue;
          const r = await stack.queryRange(q.expr, startS, Math.ceil(Date.now() / 1000)); // throws on a query error
          if (r.length) withData.add(`${q.dashboard} / ${q.panel}`);
        }
        missing = core.filter((c) => !withData.has(c));
        return missing.length === 0 ? true : undefined;
      },
      40_000,
      stack.daemons,
    ).catch((err) => {
      throw new Error(`core panels without data: ${missing.join(', ')}\n${String(err).slice(0, 1500)}`);
    });
  });
});

describe('exporters over real components pass promtool check metrics', () => {
  it('the master exporter over the campaign results store', async () => {
    const store = Store.open(result.dbPath);
    try {
      const text = await masterMetricsFor(store).metricsText();
      expect(text).toMatch(/^ffwatt_run_energy_joules\{.*basis="gross"/m);
      const lint = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
      expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
    } finally {
      store.close();
    }
  });

  it('the agent exporter over the real RAPL meter (sysfs fixture) and NVML (fake library)', async () => {
    const nvml = fakeNvmlState();
    nvml.set([
      {
        name: 'NVIDIA L4',
        uuid: 'GPU-fake-0',
        energyMj: 5_000_000n,
        powerMw: 72_000,
        gpuUtil: 40,
        memUtil: 12,
        encUtil: 65,
        decUtil: 5,
      },
    ]);
    Object.assign(process.env, nvml.env); // the fake library reads its state file from the environment
    const { meters, refused } = openMeters({
      sysfsRoot: join(ROOT, 'test/fixtures/powercap/intel-2socket/sys'),
      nvmlLibrary: fakeNvmlLibrary('with-energy'),
    });
    try {
      expect(meters.map((m) => m.source).sort(), JSON.stringify(refused)).toEqual(['nvml', 'rapl']);
      const agent = createAgentMetrics({ sampler: new Sampler(meters), nodeId: 'promtool' }); // timer off: the scrape reads once through it
      const text = await agent.metricsText();
      expect(text).toMatch(/^ffwatt_energy_joules_total\{meter="[^"]+",zone="[^"]+",source="rapl",role="total"\}/m);
      expect(text).toMatch(/^ffwatt_energy_joules_total\{.*source="nvml"/m);
      expect(text).toMatch(/^ffwatt_gpu_utilization_ratio\{gpu="gpu0",engine="encoder"\} 0.65$/m);
      const lint = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
      expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
    } finally {
      for (const m of meters) m.close();
      for (const k of Object.keys(nvml.env)) delete process.env[k];
      nvml.cleanup();
    }
  });
});
