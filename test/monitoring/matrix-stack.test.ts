// End to end with the real thing: a small matrix run in local mode (real FFmpeg, real
// SQLite, the agent and master exporters served by the harness), scraped by a real
// VictoriaMetrics with vmalert's recording rules. Checks that what the dashboards would
// show is what the runs recorded, and that every panel query runs against real data.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/types.ts';
import { silentLogger } from '../../core/log.ts';
import { loadMatrix } from '../../harness/matrix/index.ts';
import { localNodeId, runLocalCampaign, type LocalRunResult } from '../../harness/local.ts';
import { allQueries } from './dashboards.ts';
import { freePort, workDir } from './helpers.ts';
import { startStack, type Stack } from './stack.ts';

const MATRIX = `name: monitoring-e2e
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 1
scenarios:
  - mode: file
    codec: h264
    preset: [ultrafast, veryfast]
    rate: {crf: 30}
    warmup_s: 0.5
    duration_s: 2
`;

const node = localNodeId(hostname());
let stack: Stack;
let result: LocalRunResult;
let startS: number;
let endS: number;
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
    metricsLingerS: 4, // a few scrapes of the final state
    onEvent: (ev) => {
      if (ev.kind === 'job') scenarioOfJob.set(ev.jobId, ev.scenario.key);
      if (ev.kind === 'result') records.push(ev.record);
    },
  });
  endS = Math.ceil(Date.now() / 1000);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

/** Last value of each series over the run window. */
async function lastValues(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const r = await stack.queryRange(expr, startS, endS + 30);
  return r.map((s) => ({ metric: s.metric, value: Number(s.values[s.values.length - 1][1]) }));
}

describe('a real local campaign seen through VictoriaMetrics', () => {
  it('ran the matrix', () => {
    expect(result.status).toBe('done');
    expect(records.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('shows the job running on the node while it ran, and the frames encoded', async () => {
    const running = await stack.queryRange(`ffwatt_job_running{node="${node}"}`, startS, endS);
    expect(new Set(running.map((s) => s.metric.job))).toEqual(new Set(records.map((r) => r.jobId)));
    const frames = await lastValues(`ffwatt_ffmpeg_frames_total{node="${node}"}`);
    expect(frames[0].value).toBeGreaterThan(0);
    const cpu = await lastValues(`ffwatt_job_cpu_seconds_total{node="${node}"}`);
    expect(cpu[0].value).toBeGreaterThan(0);
  });

  it('has the meters up and their energy counting', async () => {
    const up = await lastValues(`ffwatt_meter_up{node="${node}"}`);
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((s) => s.value === 1)).toBe(true);
    const energy = await stack.queryRange(`ffwatt_energy_joules_total{node="${node}",role="total"}`, startS, endS + 30);
    for (const s of energy) expect(Number(s.values[s.values.length - 1][1])).toBeGreaterThanOrEqual(Number(s.values[0][1]));
  });

  it('exports each run with the energy per encoded minute the run recorded', async () => {
    const exported = await lastValues(`ffwatt_run_joules_per_encoded_minute{node="${node}"}`);
    expect(exported).toHaveLength(2);
    for (const r of records) {
      const series = exported.find((s) => s.metric.scenario === scenarioOfJob.get(r.jobId));
      expect(series, r.jobId).toBeDefined();
      expect(series!.metric).toMatchObject({ codec: 'h264', source: r.energy!.source });
      expect(series!.value).toBeCloseTo(r.energy!.jPerEncodedMinute!, 6);
    }
    const jobs = await lastValues('ffwatt_jobs{state="succeeded"}');
    expect(jobs[0].value).toBe(2);
  });

  it('runs every dashboard query without an error, the core panels with data', async () => {
    const withData: string[] = [];
    for (const q of allQueries()) {
      if (q.expr.startsWith('label_values(')) continue;
      const r = await stack.queryRange(q.expr, startS, endS + 30); // throws on a query error
      if (r.length) withData.push(`${q.dashboard} / ${q.panel}`);
    }
    expect(withData).toEqual(
      expect.arrayContaining([
        'ffwatt-fleet.json / Agents up',
        'ffwatt-fleet.json / Node power',
        'ffwatt-power.json / Total zones (add up)',
        'ffwatt-campaign.json / Jobs by state',
        'ffwatt-campaign.json / Running jobs',
        'ffwatt-campaign.json / FFmpeg fps per stream',
        'ffwatt-efficiency.json / J per encoded minute by codec/preset',
        'ffwatt-cost.json / CO2 per run',
        'ffwatt-cost.json / Fleet energy cost per hour',
      ]),
    );
  });
});
