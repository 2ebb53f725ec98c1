import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { okRuns, X264_CELL, writeFixture, type FixtureCell } from './fixture-db.ts';
import { summarize } from './summarize.ts';
import { renderSummaryMarkdown, writeModelFiles } from './report.ts';
import { energyKindOf, exclusionReasons, hardwareClassOf } from '../core/strata.ts';
import type { ReportModel } from '../core/report-model.ts';

// A campaign run on two hardware classes, with measured, estimated and mixed (estimated CPU +
// measured GPU) energy, flagged runs and one run whose net energy came out negative.
const base = X264_CELL;
const CELLS: FixtureCell[] = [
  {
    ...base,
    preset: 'ultrafast',
    hardwareClass: 'xeon-2s',
    runs: okRuns(4),
    jPerMin: 420,
    speed: 9,
    flags: [[], ['noisy_neighbour'], [], []],
  },
  { ...base, preset: 'ultrafast', hardwareClass: 'epyc-1s', runs: okRuns(3), jPerMin: 300, speed: 12 },
  { ...base, preset: 'ultrafast', hardwareClass: 'epyc-1s', source: 'mixed', runs: okRuns(3), jPerMin: 150, speed: 12 },
  {
    ...base,
    preset: 'medium',
    hardwareClass: 'xeon-2s',
    runs: okRuns(4),
    jPerMin: 600,
    speed: 4,
    idleWPerRun: [8, 1e6, 8, 8],
  },
  {
    ...base,
    preset: 'medium',
    hardwareClass: 'xeon-2s',
    source: 'estimate',
    runs: okRuns(3),
    jPerMin: 200,
    speed: 4,
    flags: [['thermal_drift'], [], []],
  },
  { ...base, preset: 'medium', hardwareClass: 'epyc-1s', runs: okRuns(3), jPerMin: 450, speed: 5 },
];

let dir: string;
let db: string;
let model: ReportModel;
const NOW = new Date('2026-02-01T00:00:00Z');
const row = (m: ReportModel, preset: string, cls: string, kind: string) =>
  m.scenarios.find((s) => s.preset === preset && s.hardwareClass === cls && s.energyKind === kind)!;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-strata-'));
  db = join(dir, 'ffwatt.sqlite');
  writeFixture(db, {
    name: 'strata',
    campaignId: 'c-strata',
    cells: CELLS,
    createdAt: Date.UTC(2026, 0, 20),
    seed: 5,
    idleW: 8,
  });
  model = summarize({ db, now: NOW });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('strata rules', () => {
  it('name energy kinds, classes and exclusion reasons', () => {
    expect(['rapl', 'nvml', 'estimate', 'mixed', null].map(energyKindOf)).toEqual([
      'measured',
      'measured',
      'estimated',
      'estimated',
      'none',
    ]);
    expect([undefined, {}, { hardwareClass: '' }, { hardwareClass: 'xeon-2s' }].map(hardwareClassOf)).toEqual([
      'unclassified',
      'unclassified',
      'unclassified',
      'xeon-2s',
    ]);
    expect(exclusionReasons({ flags: ['noisy_neighbour', 'estimated'], netJ: 5 })).toEqual(['noisy_neighbour']);
    expect(exclusionReasons({ flags: ['noisy_neighbour'], netJ: 5 }, true)).toEqual([]);
    expect(exclusionReasons({ flags: [], netJ: -74.72 }, true)).toEqual(['net-energy-nonpositive']);
    expect(exclusionReasons({ flags: ['net-energy-nonpositive'], netJ: null })).toEqual(['net-energy-nonpositive']);
  });
});

describe('a campaign over two hardware classes with measured, estimated and mixed runs', () => {
  it('has one row per scenario, class and energy kind', () => {
    expect(model.totals.scenarios).toBe(2);
    expect(model.scenarios.map((s) => `${s.preset} ${s.stratum}`)).toEqual([
      'ultrafast epyc-1s · measured',
      'ultrafast epyc-1s · ESTIMATE',
      'ultrafast xeon-2s · measured',
      'medium epyc-1s · measured',
      'medium xeon-2s · measured',
      'medium xeon-2s · ESTIMATE',
    ]);
    expect(row(model, 'ultrafast', 'epyc-1s', 'estimated')).toMatchObject({
      estimate: true,
      sourceLabel: 'ESTIMATE (mixed)',
    });
    expect(model.strata.map((s) => s.stratum)).toEqual([
      'epyc-1s · measured',
      'xeon-2s · measured',
      'epyc-1s · ESTIMATE',
      'xeon-2s · ESTIMATE',
    ]);
  });

  it('ranks within each stratum only: the mixed run (lowest figure of all) is never ranked beside a measured one', () => {
    const strata = new Map<string, ReportModel['ranking']>();
    for (const r of model.ranking) strata.set(r.stratum, [...(strata.get(r.stratum) ?? []), r]);
    for (const [stratum, rows] of strata) {
      expect(
        rows.map((r) => r.rank),
        stratum,
      ).toEqual(rows.map((_, i) => i + 1));
      for (const r of rows) expect(model.scenarios.find((s) => s.id === r.rowId)!.stratum).toBe(stratum);
    }
    expect(strata.get('epyc-1s · measured')!.map((r) => r.label)).toEqual([
      'file h264/ultrafast crf23 240p30 x1',
      'file h264/medium crf23 240p30 x1',
    ]);
    expect(strata.get('epyc-1s · ESTIMATE')).toMatchObject([
      { rank: 1, estimate: true, sourceLabel: 'ESTIMATE (mixed)' },
    ]);
  });

  it('tests, fronts, curves and efficiency never cross a class or an energy kind', () => {
    const byId = new Map(model.scenarios.map((s) => [s.id, s]));
    expect(model.comparisons.tests.length).toBeGreaterThan(0);
    for (const t of model.comparisons.tests) expect(byId.get(t.a)!.stratum).toBe(byId.get(t.b)!.stratum);
    for (const p of model.pareto)
      for (const set of [p.quality, p.speed])
        for (const pt of set?.points ?? []) expect(byId.get(pt.rowId)!.stratum).toBe(p.stratum);
    for (const r of model.relative) expect(byId.get(r.rowId)!.stratum).toBe(byId.get(r.referenceId)!.stratum);
    // each stratum has its own best: a score of 1 in every stratum with a scored row
    const best = model.scenarios
      .filter((s) => s.efficiency === 1)
      .map((s) => s.stratum)
      .sort();
    expect(best).toEqual(
      [...new Set(model.scenarios.filter((s) => s.efficiency != null).map((s) => s.stratum))].sort(),
    );
  });

  it('leaves flagged and non-positive-net runs out, lists them with their reasons, and --include-flagged counts the flagged ones only', () => {
    const xeonUf = row(model, 'ultrafast', 'xeon-2s', 'measured');
    expect(xeonUf.runs.succeeded).toBe(4);
    expect(xeonUf.excluded).toEqual({ runs: 1, reasons: { noisy_neighbour: 1 } });
    expect(xeonUf.metrics.jPerMin!.n).toBe(3);
    const xeonMed = row(model, 'medium', 'xeon-2s', 'measured');
    expect(xeonMed.excluded).toEqual({ runs: 1, reasons: { 'net-energy-nonpositive': 1 } });
    expect(xeonMed.energy!.n).toBe(3);
    expect(xeonMed.energy!.mean).toBeGreaterThan(0);
    expect(row(model, 'medium', 'xeon-2s', 'estimated').excluded).toEqual({ runs: 1, reasons: { thermal_drift: 1 } });
    expect(model.excluded).toMatchObject({ runs: 3, includeFlagged: false });
    expect(model.excluded.note).toMatch(/^3 succeeded runs were left out/);

    const all = summarize({ db, now: NOW, includeFlagged: true });
    expect(row(all, 'ultrafast', 'xeon-2s', 'measured').metrics.jPerMin!.n).toBe(4);
    expect(row(all, 'medium', 'xeon-2s', 'estimated').excluded.runs).toBe(0);
    // a negative net figure is never counted, --include-flagged or not
    expect(row(all, 'medium', 'xeon-2s', 'measured').excluded).toEqual({
      runs: 1,
      reasons: { 'net-energy-nonpositive': 1 },
    });
    expect(all.excluded).toMatchObject({ runs: 1, includeFlagged: true });
    expect(all.ranking.every((r) => r.energy.mean > 0)).toBe(true);
  });

  it('compares the same scenario across machines, each figure naming its class', () => {
    const mc = model.machineComparison;
    expect(mc.scenarios.map((s) => s.label)).toEqual([
      'file h264/ultrafast crf23 240p30 x1',
      'file h264/medium crf23 240p30 x1',
    ]);
    const uf = mc.scenarios[0];
    expect(uf.rows.map((r) => `${r.hardwareClass} ${r.energyKind}`)).toEqual([
      'epyc-1s measured',
      'epyc-1s estimated',
      'xeon-2s measured',
    ]);
    for (const r of uf.rows) {
      expect(r.energy!.halfWidth).not.toBeNull();
      expect(r.quality!.mean).toBeGreaterThan(80);
      expect(r.speed!.mean).toBeGreaterThan(0);
      expect(r.energyCostPerEncodedHour).toBeGreaterThan(0);
    }
  });

  it('every format says which class each figure belongs to, why estimates stand apart and how many runs were left out', () => {
    const files = writeModelFiles(model, ['md', 'csv', 'html', 'json'], join(dir, 'out'));
    const md = readFileSync(files.md, 'utf8');
    expect(md).toContain('### epyc-1s · ESTIMATE');
    expect(md).toMatch(
      /they are not measurements, so they are ranked, tested and charted only against other estimates/,
    );
    expect(md).toContain('## Machine comparison');
    expect(md).toMatch(/\| file h264\/ultrafast crf23 240p30 x1 \| xeon-2s \| measured \| \d+(\.\d+)? ±/);
    expect(md).toContain('## Left out of the statistics');
    expect(md).toMatch(
      /\| file h264\/medium crf23 240p30 x1 \| xeon-2s · measured \| 1 \| net-energy-nonpositive×1 \|/,
    );
    const csv = readFileSync(files.csv, 'utf8').split('\r\n');
    const head = csv[0].split(',');
    const mixed = csv.find((l) => l.includes('epyc-1s,estimated'))!.split(',');
    expect(mixed[head.indexOf('energy_source')]).toBe('estimate (mixed)');
    expect(mixed[head.indexOf('rank')]).toBe('1');
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('<section id="machines">');
    expect(html.match(/<figure class="chart" id="machines-\d+"/g)).toHaveLength(2);
    expect(html).toMatch(/id="left-out-note">3 succeeded runs were left out/);
    expect(JSON.parse(readFileSync(files.json, 'utf8')).schema).toBe('ffwatt-report/2');
    expect(md).toMatch(
      /\| file h264\/ultrafast crf23 240p30 x1 \| file h264\/medium crf23 240p30 x1 \| xeon-2s · measured \| /,
    );
    // the end-of-run summary names the class of each row and the runs left out
    const summary = renderSummaryMarkdown(model);
    expect(summary).toContain('| file h264/ultrafast crf23 240p30 x1 on xeon-2s (1 left out) |');
    expect(summary).toMatch(/3 succeeded runs were left out/);
  });
});
