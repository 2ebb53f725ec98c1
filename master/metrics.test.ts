import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { createMasterMetrics, type RecentRun } from './metrics.ts';
import { cost, fakeMasterSource } from '../test/monitoring/fixtures/fake-sources.ts';

const GOLDEN = join(import.meta.dirname, '../test/monitoring/fixtures/master-metrics.golden.prom');

const ffwattPart = (text: string) =>
  text
    .split('\n\n')
    .filter((block) => block.includes('# HELP ffwatt_'))
    .join('\n\n') + '\n';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const RUN1 =
  'campaign="c-1",scenario="sc-4f2a",scenario_label="file h264/medium crf23 320x240p30 x2",codec="h264",encoder="libx264",preset="medium",node="worker-1",source="rapl",energy_kind="measured",hardware_class="unclassified"';

describe('master metrics exporter', () => {
  it('produces an exposition that promtool accepts and that matches the golden file', async () => {
    const metrics = createMasterMetrics(fakeMasterSource(), cost);
    const text = await metrics.metricsText();
    const lint = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
    expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
    const part = ffwattPart(text);
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, part);
    expect(part).toBe(readFileSync(GOLDEN, 'utf8'));
    expect(text).toMatch(/^process_resident_memory_bytes /m);
  });

  it('exports every state and class, missing ones as the count zero they are', async () => {
    const text = await createMasterMetrics(fakeMasterSource(), cost, { processMetrics: false }).metricsText();
    expect(value(text, 'ffwatt_jobs{state="canceled"}')).toBe(0);
    expect(value(text, 'ffwatt_jobs{state="queued"}')).toBe(7);
    expect(value(text, 'ffwatt_queue_length{class="live"}')).toBe(0);
    expect(value(text, 'ffwatt_nodes{state="dead"}')).toBe(1);
  });

  it('keeps only the latest run per scenario+node and omits missing figures', async () => {
    const source = fakeMasterSource();
    const text = await createMasterMetrics(source, cost, { processMetrics: false, runLimit: 50 }).metricsText();
    expect(source.runLimits).toEqual([50]); // one store query per scrape
    expect(value(text, `ffwatt_run_energy_joules{${RUN1},basis="gross"}`)).toBe(180);
    expect(value(text, `ffwatt_run_vmaf_score{${RUN1}}`)).toBe(93.5);
    expect(text).not.toContain(' 99999'); // the older run of the same scenario+node
    expect(text.match(/^ffwatt_run_joules_per_encoded_minute\{/gm)).toHaveLength(3);
    // estimate run: no net energy, no VMAF, no quality per joule: absent, not zero
    expect(text).not.toMatch(/scenario="sc-77b1".*basis="net"/);
    expect(text).not.toMatch(/^ffwatt_run_vmaf_score\{.*scenario="sc-77b1"/m);
    expect(text).toMatch(
      /^ffwatt_run_psnr_db\{.*scenario="sc-77b1".*source="estimate",energy_kind="estimated",hardware_class="unclassified"\} 39.9$/m,
    );
    // estimate and mixed (estimated CPU + measured GPU) runs are labelled estimated, never measured
    expect(text).toMatch(
      /^ffwatt_run_joules_per_encoded_minute\{.*scenario="sc-77b1".*source="estimate",energy_kind="estimated",hardware_class="unclassified"\} 10800$/m,
    );
    expect(text).toMatch(
      /^ffwatt_run_joules_per_encoded_minute\{.*node="worker-2",source="mixed",energy_kind="estimated",hardware_class="unclassified"\} 1350$/m,
    );
    // no wall seconds: no instance cost for that run
    expect(text).not.toMatch(/^ffwatt_run_cost_currency\{.*node="worker-2".*kind="instance"/m);
  });

  it('computes cost and CO2 from the configured prices', async () => {
    const text = await createMasterMetrics(fakeMasterSource(), cost, { processMetrics: false }).metricsText();
    // 180 J = 0.00005 kWh
    expect(value(text, `ffwatt_run_cost_currency{${RUN1},kind="energy",currency="EUR"}`)).toBeCloseTo(
      0.00005 * 0.3,
      12,
    );
    expect(value(text, `ffwatt_run_cost_currency{${RUN1},kind="instance",currency="EUR"}`)).toBeCloseTo(
      (3 / 3600) * 0.12,
      12,
    );
    expect(value(text, `ffwatt_run_co2_grams{${RUN1}}`)).toBeCloseTo(0.00005 * 400, 12);
    expect(value(text, 'ffwatt_config_price_per_kwh{currency="EUR"}')).toBe(0.3);
  });

  it("prices each run at its node's cost.* labels and exports cost and CO2 per class, never across classes", async () => {
    const run = (
      nodeId: string,
      hardwareClass: string,
      jPerEncodedMinute: number,
      nodeLabels: string[],
    ): RecentRun => ({
      jobId: `j-${nodeId}`,
      campaignId: 'c-2',
      scenarioKey: 'sc-1',
      scenarioLabel: 'file h264/ultrafast crf28 320x240p30 x1',
      codec: 'h264',
      encoder: 'libx264',
      preset: 'ultrafast',
      nodeId,
      source: 'rapl',
      grossJ: (jPerEncodedMinute * 2) / 60,
      netJ: null,
      jPerEncodedMinute,
      vmaf: null,
      psnr: null,
      ssim: null,
      qualityPerJoule: null,
      wallS: 3,
      windowS: 2.5,
      mediaSeconds: 2,
      hardwareClass,
      nodeLabels,
    });
    const runs = [
      run('a1', 'epyc', 600, ['cost.price_per_kwh=0.5', 'cost.carbon_g_per_kwh=100', 'cost.instance_per_hour=2']),
      run('a2', 'epyc', 900, ['rack=2']), // no figures: the configured ones (0.3 EUR/kWh, 400 g/kWh, 0.12 EUR/h)
      run('b1', 'xeon-nvidia-a10', 1200, ['cost.carbon_g_per_kwh=20']),
      run('bad', 'arm', 300, ['cost.price_per_kwh=cheap']),
    ];
    const text = await createMasterMetrics(fakeMasterSource({ recentRuns: () => runs }), cost, {
      processMetrics: false,
    }).metricsText();
    const kwh = (j: number) => (j * 60) / 3.6e6;
    const cls = (c: string) =>
      `scenario="sc-1",scenario_label="file h264/ultrafast crf28 320x240p30 x1",hardware_class="${c}",energy_kind="measured"`;
    expect(value(text, `ffwatt_class_cost_per_encoded_hour{${cls('epyc')},kind="energy",currency="EUR"}`)).toBeCloseTo(
      (kwh(600) * 0.5 + kwh(900) * 0.3) / 2,
      12,
    );
    expect(
      value(text, `ffwatt_class_cost_per_encoded_hour{${cls('epyc')},kind="instance",currency="EUR"}`),
    ).toBeCloseTo(((2.5 / 2) * 2 + (2.5 / 2) * 0.12) / 2, 12);
    expect(value(text, `ffwatt_class_co2_grams_per_encoded_minute{${cls('epyc')}}`)).toBeCloseTo(
      (kwh(600) * 100 + kwh(900) * 400) / 2 / 60,
      12,
    );
    expect(value(text, `ffwatt_class_co2_grams_per_encoded_minute{${cls('xeon-nvidia-a10')}}`)).toBeCloseTo(
      (kwh(1200) * 20) / 60,
      12,
    );
    expect(
      value(text, `ffwatt_class_cost_per_encoded_hour{${cls('xeon-nvidia-a10')},kind="energy",currency="EUR"}`),
    ).toBeCloseTo(kwh(1200) * 0.3, 12);
    // per run: the node's own price
    expect(text).toMatch(
      new RegExp(
        `^ffwatt_run_cost_currency\\{.*node="a1".*kind="energy",currency="EUR"\\} ${String((1200 / 60 / 3.6e6) * 0.5).slice(0, 8)}`,
        'm',
      ),
    );
    // a node whose cost label is unreadable gets no cost series (not the configured price in disguise)
    expect(text).not.toMatch(/^ffwatt_(run_cost_currency|run_co2_grams|class_\w+)\{.*hardware_class="arm"/m);
    expect(text).toMatch(/^ffwatt_run_joules_per_encoded_minute\{.*node="bad".*\} 300$/m);
    expect(text.match(/^ffwatt_class_co2_grams_per_encoded_minute\{/gm)).toHaveLength(2);
  });

  it('marks a failing store query and leaves its series absent', async () => {
    const source = fakeMasterSource({
      queueLengthByClass: () => {
        throw new Error('database is locked');
      },
      recentRuns: () => {
        throw new Error('database is locked');
      },
    });
    const text = await createMasterMetrics(source, cost, { processMetrics: false }).metricsText();
    expect(value(text, 'ffwatt_collector_success{collector="queue"}')).toBe(0);
    expect(value(text, 'ffwatt_collector_success{collector="runs"}')).toBe(0);
    expect(value(text, 'ffwatt_collector_success{collector="jobs"}')).toBe(1);
    expect(text).not.toMatch(/^ffwatt_queue_length\{/m);
    expect(text).not.toMatch(/^ffwatt_run_/m);
  });

  it('refuses a bad cost configuration naming the field', () => {
    expect(() => createMasterMetrics(fakeMasterSource(), { ...cost, pricePerKwh: -1 })).toThrow(InputError);
    expect(() => createMasterMetrics(fakeMasterSource(), { ...cost, pricePerKwh: -1 })).toThrow(/cost\.pricePerKwh/);
    expect(() => createMasterMetrics(fakeMasterSource(), { ...cost, currency: 'euro' })).toThrow(/cost\.currency/);
  });
});
