// Reports price each run with its own node's cost figures (node labels cost.*), per class.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../store/store.ts';
import { InputError } from '../core/errors.ts';
import { nodeCostFigures } from '../core/node-cost.ts';
import { okRuns, X264_CELL, writeFixture, type FixtureCell } from './fixture-db.ts';
import { summarize } from './summarize.ts';
import { writeModelFiles } from './report.ts';
import type { ReportModel } from '../core/report-model.ts';

const base = X264_CELL;
// runs of class xeon-2s come from node "node-xeon-2s", of epyc-1s from "node-epyc-1s" (fixture-db.ts)
const CELLS: FixtureCell[] = [
  { ...base, preset: 'ultrafast', hardwareClass: 'xeon-2s', runs: okRuns(3), jPerMin: 420, speed: 9 },
  { ...base, preset: 'ultrafast', hardwareClass: 'epyc-1s', runs: okRuns(3), jPerMin: 300, speed: 12 },
];

let dir: string;
let db: string;
let model: ReportModel;
const row = (m: ReportModel, cls: string) => m.scenarios.find((s) => s.hardwareClass === cls)!;

function setLabels(id: string, labels: string[]) {
  const h = openDatabase(db);
  try {
    h.prepare(
      `INSERT INTO node (id, hostname, hardware, encoders, meters, labels, registered_at, last_heartbeat, state) VALUES (?, ?, '{}', '{}', '[]', ?, 0, 0, 'alive')
       ON CONFLICT(id) DO UPDATE SET labels = excluded.labels`,
    ).run(id, id, JSON.stringify(labels));
  } finally {
    h.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-node-cost-'));
  db = join(dir, 'ffwatt.sqlite');
  writeFixture(db, {
    name: 'node-cost',
    campaignId: 'c-cost',
    cells: CELLS,
    createdAt: Date.UTC(2026, 0, 20),
    seed: 7,
    idleW: 8,
  });
  // the xeon node carries all three figures from the inventory; the epyc node none
  setLabels('node-xeon-2s', [
    'rack=a',
    'cost.price_per_kwh=0.31',
    'cost.carbon_g_per_kwh=50',
    'cost.instance_per_hour=2',
  ]);
  setLabels('node-epyc-1s', ['rack=b']);
  model = summarize({ db, now: new Date('2026-02-01T00:00:00Z') });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('node cost labels', () => {
  it('parse the three figures and refuse an unknown name or a bad number, naming it', () => {
    expect(
      nodeCostFigures(['x=1', 'cost.price_per_kwh=0.31', 'cost.carbon_g_per_kwh=0', 'cost.instance_per_hour=1.2']),
    ).toEqual({ pricePerKwh: 0.31, carbonGramsPerKwh: 0, instanceCostPerHour: 1.2 });
    expect(() => nodeCostFigures(['cost.price=0.3'])).toThrow(/unknown cost label "cost\.price"/);
    expect(() => nodeCostFigures(['cost.price_per_kwh=abc'], 'node n1')).toThrow(InputError);
    expect(() => nodeCostFigures(['cost.price_per_kwh=-1'])).toThrow(
      /cost\.price_per_kwh must be a number >= 0, got "-1"/,
    );
    expect(() => nodeCostFigures(['cost.price_per_kwh='])).toThrow(/must be a number >= 0/);
  });
});

describe('a report over two classes whose nodes have different cost figures', () => {
  it("prices each class's runs with its own node's figures, and labels defaults", () => {
    const xeon = row(model, 'xeon-2s');
    const epyc = row(model, 'epyc-1s');
    expect(xeon.cost.figures).toEqual({
      pricePerKwh: [{ value: 0.31, from: 'node', runs: 3 }],
      carbonGramsPerKwh: [{ value: 50, from: 'node', runs: 3 }],
      instanceCostPerHour: [{ value: 2, from: 'node', runs: 3 }],
    });
    expect(epyc.cost.figures).toEqual({
      pricePerKwh: [{ value: 0.25, from: 'default', runs: 3 }],
      carbonGramsPerKwh: [{ value: 300, from: 'default', runs: 3 }],
      instanceCostPerHour: [],
    });
    for (const [r, price, carbon] of [
      [xeon, 0.31, 50],
      [epyc, 0.25, 300],
    ] as const) {
      const kwh = (r.metrics.jPerMin!.mean * 60) / 3.6e6;
      expect(r.cost.kwhPerEncodedHour).toBeCloseTo(kwh, 12);
      expect(r.cost.energyCostPerEncodedHour).toBeCloseTo(kwh * price, 12);
      expect(r.cost.co2GramsPerEncodedMinute).toBeCloseTo((kwh * carbon) / 60, 12);
    }
    expect(xeon.cost.instanceCostPerEncodedHour).toBeCloseTo(
      (xeon.metrics.windowS!.mean / xeon.metrics.mediaSeconds!.mean) * 2,
      9,
    );
    expect(epyc.cost.instanceCostPerEncodedHour).toBeNull();
  });

  it('carries the per-class figures into rankings and the machine comparison, and every format names their origin', () => {
    for (const k of model.ranking) {
      const r = model.scenarios.find((s) => s.id === k.rowId)!;
      expect(k.energyCostPerEncodedHour).toBe(r.cost.energyCostPerEncodedHour);
      expect(k.co2GramsPerEncodedMinute).toBe(r.cost.co2GramsPerEncodedMinute);
    }
    const mc = model.machineComparison.scenarios[0];
    expect(mc.rows.map((r) => [r.hardwareClass, r.costFigures.pricePerKwh[0].from])).toEqual([
      ['epyc-1s', 'default'],
      ['xeon-2s', 'node'],
    ]);
    const files = writeModelFiles(model, ['md', 'csv', 'html'], join(dir, 'out'));
    const md = readFileSync(files.md, 'utf8');
    expect(md).toContain('0.31 EUR/kWh (node) · 50 g CO2e/kWh (node) · 2 EUR/h (node)');
    expect(md).toContain('0.25 EUR/kWh (default) · 300 g CO2e/kWh (default) · instance not priced');
    expect(md).toContain('g CO2e / encoded min');
    expect(readFileSync(files.csv, 'utf8')).toContain('co2_grams_per_encoded_minute');
    expect(readFileSync(files.html, 'utf8')).toContain('0.31 EUR/kWh (node)');
  });

  it("uses the report's own figures, not the defaults, for nodes without labels; node figures still win", () => {
    const m = summarize({ db, cost: { pricePerKwh: 0.4 }, now: new Date('2026-02-01T00:00:00Z') });
    expect(row(m, 'epyc-1s').cost.figures.pricePerKwh).toEqual([{ value: 0.4, from: 'report', runs: 3 }]);
    expect(row(m, 'epyc-1s').cost.figures.carbonGramsPerKwh).toEqual([{ value: 300, from: 'default', runs: 3 }]);
    expect(row(m, 'xeon-2s').cost.figures.pricePerKwh).toEqual([{ value: 0.31, from: 'node', runs: 3 }]);
  });

  it('refuses a results database whose node carries a bad cost label, naming the node', () => {
    setLabels('node-epyc-1s', ['cost.price_per_kwh=cheap']);
    try {
      expect(() => summarize({ db })).toThrow(
        /node node-epyc-1s \(labels in the results database\): cost\.price_per_kwh must be a number >= 0, got "cheap"/,
      );
    } finally {
      setLabels('node-epyc-1s', []);
    }
  });
});
