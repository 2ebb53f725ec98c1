import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X264_CELL, writeFixture, writeStandardFixture, type FixtureCell } from '../analyzers/fixture-db.ts';
import { recentRunsForMetrics } from '../store/metrics-source.ts';
import { Store } from '../store/store.ts';
import { masterMetricsFor } from './metrics-wiring.ts';

describe('recentRunsForMetrics (real SQLite)', () => {
  it('gives the latest run per scenario+node with an efficiency score relative to the best of its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-msrc-'));
    const path = join(dir, 'r.sqlite');
    writeStandardFixture(path);
    const store = Store.open(path);
    const runs = recentRunsForMetrics(store, 1000);
    expect(runs.length).toBeGreaterThan(0);
    const scored = runs.filter((r) => r.efficiency != null);
    expect(scored.length).toBeGreaterThan(0);
    for (const r of scored) {
      expect(r.efficiency!).toBeGreaterThan(0);
      expect(r.efficiency!).toBeLessThanOrEqual(1 + 1e-12);
    }
    // within one energy source, some configuration is the best one
    const bySource = new Map<string, number>();
    for (const r of scored)
      bySource.set(r.source as string, Math.max(bySource.get(r.source as string) ?? 0, r.efficiency!));
    expect([...bySource.values()].some((v) => Math.abs(v - 1) < 1e-9)).toBe(true);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('labels each run with its hardware class and scores efficiency within the class, never against another machine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-msrc-'));
    const path = join(dir, 'r.sqlite');
    const base = { ...X264_CELL, preset: 'ultrafast', speed: 9 } as const;
    const cells: FixtureCell[] = [
      { ...base, runs: ['ok', 'ok'], hardwareClass: 'xeon-2s', jPerMin: 600 },
      { ...base, runs: ['ok', 'ok'], hardwareClass: 'epyc-1s', jPerMin: 200 },
    ];
    writeFixture(path, { name: 'classes', campaignId: 'c-classes', cells, createdAt: Date.UTC(2026, 0, 20), seed: 2 });
    const store = Store.open(path);
    const runs = recentRunsForMetrics(store, 1000);
    expect(new Set(runs.map((r) => r.hardwareClass))).toEqual(new Set(['xeon-2s', 'epyc-1s']));
    // The Xeon's runs take 3× the EPYC's energy, yet they are scored against their own class: near 1
    // (the fixture's repetitions differ by a few %), not near 1/3 as against the EPYC's best.
    for (const r of runs) expect(r.efficiency!).toBeGreaterThan(0.9);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries each run's node labels and media seconds, so the exporter prices it at its node's figures per class", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-msrc-'));
    const path = join(dir, 'r.sqlite');
    const base = { ...X264_CELL, preset: 'ultrafast', speed: 9 } as const;
    const cells: FixtureCell[] = [
      { ...base, runs: ['ok'], hardwareClass: 'xeon-2s', jPerMin: 600 },
      { ...base, runs: ['ok'], hardwareClass: 'epyc-1s', jPerMin: 200 },
    ];
    writeFixture(path, { name: 'costs', campaignId: 'c-costs', cells, createdAt: Date.UTC(2026, 0, 20), seed: 2 });
    const store = Store.open(path);
    // runs of class xeon-2s come from node "node-xeon-2s" (analyzers/fixture-db.ts)
    store.upsertNode(
      {
        id: 'node-xeon-2s',
        hostname: 'x',
        hardware: {},
        encoders: {},
        meters: [],
        labels: ['cost.price_per_kwh=0.5', 'cost.carbon_g_per_kwh=20'],
      },
      0,
      null,
    );
    const runs = recentRunsForMetrics(store, 1000);
    const xeon = runs.find((r) => r.hardwareClass === 'xeon-2s')!;
    expect(xeon.nodeLabels).toEqual(['cost.price_per_kwh=0.5', 'cost.carbon_g_per_kwh=20']);
    expect(xeon.mediaSeconds).toBeGreaterThan(0);
    expect(runs.find((r) => r.hardwareClass === 'epyc-1s')!.nodeLabels).toEqual([]);
    const text = await masterMetricsFor(store).metricsText();
    const co2 = (cls: string) =>
      Number(
        new RegExp(
          `^ffwatt_class_co2_grams_per_encoded_minute\\{[^}]*hardware_class="${cls}"[^}]*\\} (\\S+)$`,
          'm',
        ).exec(text)![1],
      );
    const jPerMin = (cls: string) => runs.find((r) => r.hardwareClass === cls)!.jPerEncodedMinute!;
    expect(co2('xeon-2s')).toBeCloseTo((jPerMin('xeon-2s') / 3.6e6) * 20, 9);
    expect(co2('epyc-1s')).toBeCloseTo((jPerMin('epyc-1s') / 3.6e6) * 300, 9); // the master's default
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
