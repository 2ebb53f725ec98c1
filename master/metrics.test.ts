import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { createMasterMetrics } from './metrics.ts';
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

const RUN1 = 'campaign="c-1",scenario="sc-4f2a",scenario_label="file h264/medium crf23 320x240p30 x2",codec="h264",encoder="libx264",preset="medium",node="worker-1",source="rapl",energy_kind="measured",hardware_class="unclassified"';

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
    expect(text).toMatch(/^ffwatt_run_psnr_db\{.*scenario="sc-77b1".*source="estimate",energy_kind="estimated",hardware_class="unclassified"\} 39.9$/m);
    // estimate and mixed (estimated CPU + measured GPU) runs are labelled estimated, never measured
    expect(text).toMatch(/^ffwatt_run_joules_per_encoded_minute\{.*scenario="sc-77b1".*source="estimate",energy_kind="estimated",hardware_class="unclassified"\} 10800$/m);
    expect(text).toMatch(/^ffwatt_run_joules_per_encoded_minute\{.*node="worker-2",source="mixed",energy_kind="estimated",hardware_class="unclassified"\} 1350$/m);
    // no wall seconds: no instance cost for that run
    expect(text).not.toMatch(/^ffwatt_run_cost_currency\{.*node="worker-2".*kind="instance"/m);
  });

  it('computes cost and CO2 from the configured prices', async () => {
    const text = await createMasterMetrics(fakeMasterSource(), cost, { processMetrics: false }).metricsText();
    // 180 J = 0.00005 kWh
    expect(value(text, `ffwatt_run_cost_currency{${RUN1},kind="energy",currency="EUR"}`)).toBeCloseTo(0.00005 * 0.3, 12);
    expect(value(text, `ffwatt_run_cost_currency{${RUN1},kind="instance",currency="EUR"}`)).toBeCloseTo((3 / 3600) * 0.12, 12);
    expect(value(text, `ffwatt_run_co2_grams{${RUN1}}`)).toBeCloseTo(0.00005 * 400, 12);
    expect(value(text, 'ffwatt_config_price_per_kwh{currency="EUR"}')).toBe(0.3);
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
