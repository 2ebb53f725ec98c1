import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from './index.ts';
import type { Meter } from '../../energy/meter.ts';
import { Sampler } from '../../energy/sampler.ts';
import { fleetMeters, manualClock, manualSampler } from '../../test/monitoring/fixtures/fake-meters.ts';
import { runRecord, runningJobEvents, scenario } from '../../test/monitoring/fixtures/fake-sources.ts';

const GOLDEN = join(import.meta.dirname, '../../test/monitoring/fixtures/agent-metrics.golden.prom');

/** The ffwatt_ part of an exposition (process metrics vary run to run). */
function ffwattPart(text: string): string {
  return text
    .split('\n\n')
    .filter((block) => block.includes('# HELP ffwatt_'))
    .join('\n\n');
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function setup() {
  const clock = manualClock();
  const meters = fleetMeters(clock.now);
  const sampler = manualSampler([meters.rapl, meters.nvml, meters.estimate], clock.now);
  const metrics = createAgentMetrics({
    sampler,
    nodeId: 'worker-1',
    gpuStats: () => [
      { gpu: 'gpu0', engine: 'encoder', ratio: 0.42 },
      { gpu: 'gpu0', engine: 'decoder', ratio: 0 },
      { gpu: 'gpu0', engine: 'sm', ratio: 0.17 },
    ],
  });
  return { clock, meters, sampler, metrics };
}

describe('agent metrics exporter', () => {
  it('produces an exposition that promtool accepts and that matches the golden file', async () => {
    const { clock, metrics } = setup();
    clock.advance(10);
    for (const ev of runningJobEvents('job-1')) metrics.onEvent(ev);
    metrics.setJobResources('job-1', {
      cpuSeconds: 3.5,
      peakRssBytes: 52_428_800,
      readBytes: 4096,
      writeBytes: 81_920,
    });
    const text = await metrics.metricsText();

    const lint = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
    expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);

    const part = ffwattPart(text) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, part);
    expect(part).toBe(readFileSync(GOLDEN, 'utf8'));
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_total_bytes /m);
  });

  it("serves the sampler's counters and power from its latest two reads", async () => {
    const { clock, sampler, metrics } = setup();
    // Only the sampler's first reading (taken at start) exists: counters, but no interval for power yet.
    let text = await metrics.metricsText();
    expect(
      value(text, 'ffwatt_energy_joules_total{meter="rapl",zone="package-0",source="rapl",role="total"}'),
    ).toBeCloseTo(123.456789, 6);
    expect(text).not.toMatch(/^ffwatt_power_watts\{/m);

    clock.advance(0.5);
    sampler.tick(); // the sampler's timer
    text = await metrics.metricsText();
    // 123.456789 J at start + 35 W x 0.5 s, exactly what the sampler read
    const snap = sampler.snapshot().zones.find((z) => z.zone === 'package-0')!;
    expect(value(text, 'ffwatt_energy_joules_total{meter="rapl",zone="package-0",source="rapl",role="total"}')).toBe(
      snap.joules,
    );
    expect(snap.joules).toBeCloseTo(140.956789, 6);
    expect(value(text, 'ffwatt_power_watts{meter="rapl",zone="package-0",source="rapl",role="total"}')).toBeCloseTo(
      35,
      9,
    );
    expect(value(text, 'ffwatt_power_watts{meter="nvml",zone="gpu0",source="nvml",role="total"}')).toBeCloseTo(70, 9);
    expect(value(text, 'ffwatt_power_watts{meter="estimate",zone="cpu",source="estimate",role="total"}')).toBeCloseTo(
      12,
      9,
    );
    expect(
      value(text, 'ffwatt_energy_joules_total{meter="estimate",zone="cpu",source="estimate",role="total"}'),
    ).toBeCloseTo(6, 9);
    expect(value(text, 'ffwatt_meter_up{meter="rapl",source="rapl"}')).toBe(1);
  });

  it('reads no meter while the sampler runs, and keeps counters monotonic across scrapes', async () => {
    const clock = manualClock();
    const meters = fleetMeters(clock.now);
    const sampler = new Sampler([meters.rapl], { now: () => BigInt(Math.round(clock.now() * 1e9)) });
    sampler.start();
    try {
      const metrics = createAgentMetrics({ sampler, nodeId: 'n', processMetrics: false });
      const before = meters.rapl.reads;
      clock.advance(5); // the scrapes come after many intervals; only the timer reads
      const first = value(
        await metrics.metricsText(),
        'ffwatt_energy_joules_total{meter="rapl",zone="package-0",source="rapl",role="total"}',
      )!;
      await metrics.metricsText();
      expect(meters.rapl.reads - before).toBe(0);
      sampler.tick();
      const second = value(
        await metrics.metricsText(),
        'ffwatt_energy_joules_total{meter="rapl",zone="package-0",source="rapl",role="total"}',
      )!;
      expect(second).toBeGreaterThan(first);
    } finally {
      sampler.stop();
    }
  });

  it('serves current counters with the sampler stopped, reading through it at most once per sampling interval', async () => {
    const { clock, meters, sampler, metrics } = setup();
    expect(sampler.running).toBe(false);
    const before = meters.rapl.reads;
    clock.advance(3);
    const text = await metrics.metricsText();
    expect(meters.rapl.reads - before).toBe(1);
    expect(value(text, 'ffwatt_energy_joules_total{meter="nvml",zone="gpu0",source="nvml",role="total"}')).toBeCloseTo(
      210,
      6,
    );
    expect(sampler.ticks).toBe(2);
    await metrics.metricsText(); // same instant: the last reading is current
    expect(meters.rapl.reads - before).toBe(1);
  });

  it('reports a failing meter as down with no energy series, never as zero joules', async () => {
    const { clock, meters, metrics } = setup();
    clock.advance(2);
    meters.nvml.failWith = 'NVML: nvmlDeviceGetTotalEnergyConsumption failed (GPU lost)';
    const text = await metrics.metricsText();
    expect(value(text, 'ffwatt_meter_up{meter="nvml",source="nvml"}')).toBe(0);
    expect(text).not.toContain('meter="nvml",zone=');
    expect(value(text, 'ffwatt_meter_up{meter="rapl",source="rapl"}')).toBe(1);
  });

  it('marks a failing GPU stats collector and drops its series', async () => {
    const clock = manualClock();
    const metrics = createAgentMetrics({
      sampler: manualSampler([], clock.now),
      nodeId: 'n',
      processMetrics: false,
      gpuStats: () => {
        throw new Error('nvml gone');
      },
    });
    const text = await metrics.metricsText();
    expect(value(text, 'ffwatt_collector_success{collector="gpu_stats"}')).toBe(0);
    expect(text).not.toMatch(/^ffwatt_gpu_utilization_ratio\{/m);
  });

  it("still serves a scrape when the sampler's snapshot cannot be taken, and says so", async () => {
    const clock = manualClock();
    const meters = fleetMeters(clock.now);
    const sampler = manualSampler([meters.rapl], clock.now);
    let fail = false;
    const failing = {
      meters: sampler.meters,
      currentSnapshot: () => {
        if (fail) throw new Error('sampler closed');
        return sampler.currentSnapshot();
      },
    };
    const metrics = createAgentMetrics({ sampler: failing, nodeId: 'n', processMetrics: false });
    expect(value(await metrics.metricsText(), 'ffwatt_collector_success{collector="meters"}')).toBe(1);
    fail = true;
    const text = await metrics.metricsText();
    expect(value(text, 'ffwatt_collector_success{collector="meters"}')).toBe(0);
    expect(text).not.toMatch(/^ffwatt_energy_joules_total\{/m);
    expect(value(text, 'ffwatt_agent_up{node_id="n"}')).toBe(1);
  });

  it('takes GPU utilization from a meter that reports readings, by default, leaving unreported engines out', async () => {
    const clock = manualClock();
    const { nvml } = fleetMeters(clock.now);
    const gpu = Object.assign(nvml, {
      readings: () => [
        { gpu: '0', zone: 'gpu0', utilization: { gpu: 0.3, memory: 0.1, encoder: 0.65, decoder: null } },
      ],
    }) as Meter;
    const text = await createAgentMetrics({
      sampler: manualSampler([gpu], clock.now),
      nodeId: 'n',
      processMetrics: false,
    }).metricsText();
    expect(value(text, 'ffwatt_gpu_utilization_ratio{gpu="gpu0",engine="encoder"}')).toBe(0.65);
    expect(value(text, 'ffwatt_gpu_utilization_ratio{gpu="gpu0",engine="sm"}')).toBe(0.3);
    expect(text).not.toContain('engine="decoder"');
  });

  it('keeps job labels only while the job runs and counts frames and drops once', async () => {
    const { metrics } = setup();
    for (const ev of runningJobEvents('job-1')) metrics.onEvent(ev);
    let text = await metrics.metricsText();
    expect(value(text, `ffwatt_job_running{job_id="job-1",scenario="${scenario.label}",phase="measure"}`)).toBe(1);
    expect(text).not.toContain('phase="warmup"');
    expect(value(text, 'ffwatt_ffmpeg_frames_total')).toBe(84);
    expect(value(text, 'ffwatt_ffmpeg_fps{stream="1"}')).toBe(48);
    expect(value(text, 'ffwatt_ffmpeg_speed_ratio{stream="0"}')).toBe(2);

    metrics.onEvent({ kind: 'result', jobId: 'job-1', record: runRecord('job-1', 3) });
    metrics.onEvent({ kind: 'result', jobId: 'job-1', record: runRecord('job-1', 3) }); // a resend
    metrics.onEvent({ kind: 'job', jobId: 'job-1', scenario, repetition: 1, phase: 'done' });
    text = await metrics.metricsText();
    expect(text).not.toMatch(/^ffwatt_job_running\{/m);
    expect(text).not.toMatch(/^ffwatt_ffmpeg_fps\{/m);
    expect(value(text, 'ffwatt_ffmpeg_dropped_frames_total')).toBe(3);
    expect(value(text, 'ffwatt_ffmpeg_frames_total')).toBe(84);
  });

  it('turns cumulative job resources into counters without double counting', async () => {
    const { metrics } = setup();
    metrics.setJobResources('a', { cpuSeconds: 2, peakRssBytes: 100, readBytes: 10, writeBytes: 20 });
    metrics.setJobResources('a', { cpuSeconds: 5, peakRssBytes: 300, readBytes: 10, writeBytes: 50 });
    metrics.setJobResources('a', { cpuSeconds: 4, peakRssBytes: 200, readBytes: 10, writeBytes: 50 }); // a child exited
    metrics.setJobResources('b', { cpuSeconds: 1, peakRssBytes: 50, readBytes: 0, writeBytes: 5 });
    metrics.setJobResources('a', { cpuSeconds: 5, peakRssBytes: 300, readBytes: 10, writeBytes: 50 }); // late final figures
    const text = await metrics.metricsText();
    expect(value(text, 'ffwatt_job_cpu_seconds_total')).toBe(6);
    expect(value(text, 'ffwatt_job_written_bytes_total')).toBe(55);
    expect(value(text, 'ffwatt_job_read_bytes_total')).toBe(10);
    expect(value(text, 'ffwatt_job_peak_memory_bytes')).toBe(300);
    expect(() =>
      metrics.setJobResources('a', { cpuSeconds: Number.NaN, peakRssBytes: 0, readBytes: 0, writeBytes: 0 }),
    ).toThrow(/cpuSeconds must be a finite number/);
  });
});
