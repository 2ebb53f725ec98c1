import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { okRuns, X264_CELL, writeFixture, type FixtureCell } from '../analyzers/fixture-db.ts';
import { loadRuns, toTrainingRows } from './dataset.ts';
import { chooseTargets } from './targets.ts';
import { measureContent } from './content.ts';

// Training rows from a real results database (written through the store) with measured,
// estimated and mixed runs, flagged runs and a negative net figure.
const base = { ...X264_CELL, speed: 5 } as const;
const CELLS: FixtureCell[] = [
  {
    ...base,
    preset: 'ultrafast',
    hardwareClass: 'xeon-2s',
    runs: okRuns(3),
    jPerMin: 400,
    flags: [['noisy_neighbour'], [], ['idle-baseline-dirty']],
  },
  { ...base, preset: 'medium', hardwareClass: 'epyc-1s', runs: okRuns(3), jPerMin: 600, idleWPerRun: [8, 1e6, 8] },
  { ...base, preset: 'fast', runs: okRuns(2), jPerMin: 300, source: 'estimate' },
  { ...base, preset: 'slow', runs: okRuns(2), jPerMin: 300, source: 'mixed' },
];
// A loaded estimate-metered machine: the machine-wide estimate is ~6× the encode's own share
// (the median measured in the shipped advisor campaign, models/MODEL_CARD.md), every run noisy.
const LOADED: FixtureCell[] = [
  {
    ...base,
    preset: 'veryfast',
    runs: okRuns(3),
    jPerMin: 600,
    source: 'estimate',
    idleW: null,
    jobShare: 1 / 6,
    flags: [['noisy_neighbour'], ['noisy_neighbour', 'idle-baseline-dirty'], ['noisy_neighbour', 'thermal_drift']],
  },
];

let dir: string;
let db: Database.Database;
const content = (cacheFile: string) => (input: Parameters<typeof measureContent>[0]) =>
  measureContent(input, { seconds: 1, cacheFile });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-dataset-'));
  const path = join(dir, 'ffwatt.sqlite');
  writeFixture(path, {
    name: 'train',
    campaignId: 'c-train',
    cells: CELLS,
    createdAt: Date.UTC(2026, 0, 5),
    seed: 9,
    idleW: 8,
  });
  writeFixture(path, {
    name: 'loaded',
    campaignId: 'c-loaded',
    cells: LOADED,
    createdAt: Date.UTC(2026, 0, 6),
    seed: 3,
  });
  db = new Database(path, { readonly: true });
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('advisor training set', () => {
  it('holds one energy kind, leaves flagged and non-positive-net runs out with the reason, and names each row’s class', async () => {
    const runs = loadRuns(db, ['c-train']);
    expect(runs).toHaveLength(10);
    const { rows, dropped } = await toTrainingRows(runs, content(join(dir, 'siti.json')));
    expect(rows.map((r) => `${r.features.preset} ${r.hardwareClass} ${r.energyKind}`)).toEqual([
      'ultrafast xeon-2s measured',
      'medium epyc-1s measured',
      'medium epyc-1s measured',
    ]);
    expect(dropped.map((d) => d.reason).sort()).toEqual([
      'estimated energy: this training set holds measured runs only',
      'estimated energy: this training set holds measured runs only',
      'estimated energy: this training set holds measured runs only',
      'estimated energy: this training set holds measured runs only',
      'left out: idle-baseline-dirty',
      'left out: net-energy-nonpositive',
      'left out: noisy_neighbour',
    ]);
  });

  it('trains on estimates (estimate and mixed together) only when asked, and keeps flagged runs with includeFlagged', async () => {
    const runs = loadRuns(db, ['c-train']);
    const est = await toTrainingRows(runs, content(join(dir, 'siti.json')), { energyKind: 'estimated' });
    expect(est.rows.map((r) => `${r.features.preset} ${r.energySource} ${r.hardwareClass}`)).toEqual([
      'fast estimate unclassified',
      'fast estimate unclassified',
      'slow mixed unclassified',
      'slow mixed unclassified',
    ]);
    const all = await toTrainingRows(runs, content(join(dir, 'siti.json')), { includeFlagged: true });
    expect(all.rows).toHaveLength(5);
    expect(all.dropped.filter((d) => d.reason.startsWith('left out'))).toEqual([
      expect.objectContaining({ reason: 'left out: net-energy-nonpositive' }),
    ]);
  });

  it("on the estimate meter keeps the encode's own figure: other processes' load (noisy_neighbour, a dirty idle baseline) does not leave a run out, thermal drift does", async () => {
    const runs = loadRuns(db, ['c-loaded']);
    const { rows, dropped } = await toTrainingRows(runs, content(join(dir, 'siti.json')));
    expect(rows).toHaveLength(2);
    expect(dropped.map((d) => d.reason)).toEqual(['left out: thermal_drift']);
    for (const r of rows) {
      expect(r.energyKind).toBe('estimated');
      // the job-process-tree zone over the run's media minutes: one sixth of the machine-wide figure
      expect(r.jobJPerEncodedMinute! / r.jPerEncodedMinute!).toBeCloseTo(1 / 6, 6);
    }
    const { targets } = chooseTargets(rows);
    expect(targets.find((t) => t.name === 'energy')?.basis).toBe('job');
  });
});
