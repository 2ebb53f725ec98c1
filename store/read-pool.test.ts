// The report's reads on two connections (store/read-pool.ts, store/read-thread.mjs): the same
// answers, in the same order, as on one; the thread takes part; an error surfaces on the caller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DB } from './store.ts';
import { ReadPool } from './read-pool.ts';
import { readCampaignRuns } from './read-db.ts';
import { okRuns, X264_CELL, writeFixture, type FixtureCell } from '../analyzers/fixture-db.ts';

const base = X264_CELL;
// Two classes on one scenario, an estimated cell and a mixed one, excluding flags, a non-positive
// net figure, failed attempts: every path of the per-cell reads.
const CELLS: FixtureCell[] = [
  ...['ultrafast', 'fast', 'medium', 'slow'].flatMap((preset, p): FixtureCell[] => [
    {
      ...base,
      preset,
      rate: { kind: 'crf', value: 23 },
      hardwareClass: 'xeon-2s',
      runs: [...okRuns(6), 'fail', ...okRuns(5)],
      jPerMin: 400 + 60 * p,
      speed: 9 - p,
      flags: [[], ['noisy_neighbour'], [], ['thermal-throttle'], [], [], [], ['thermal_drift', 'x'], [], [], [], []],
    },
    {
      ...base,
      preset,
      rate: { kind: 'crf', value: 23 },
      hardwareClass: 'epyc-1s',
      runs: okRuns(8),
      jPerMin: 300 + 50 * p,
      speed: 12 - p,
    },
  ]),
  {
    ...base,
    codec: 'av1',
    encoder: 'libsvtav1',
    preset: '8',
    rate: { kind: 'crf', value: 30 },
    source: 'estimate',
    runs: okRuns(5),
    jPerMin: 900,
    speed: 2,
  },
  {
    ...base,
    codec: 'hevc',
    encoder: 'libx265',
    preset: 'medium',
    rate: { kind: 'crf', value: 28 },
    source: 'mixed',
    runs: okRuns(5),
    jPerMin: 700,
    speed: 3,
    idleWPerRun: [null, 1e6, null, null, null],
  },
];

let dir: string;
let path: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-read-pool-'));
  path = join(dir, 'ffwatt.sqlite');
  writeFixture(path, {
    name: 'read-pool',
    campaignId: 'c-pool',
    cells: CELLS,
    createdAt: Date.UTC(2026, 1, 1),
    idleW: 8,
  });
  // Two machines of one class: every third xeon run came from a second node, so those cells are counted by node.
  const db = openDatabase(path);
  db.prepare(`UPDATE run SET node_id = 'node-xeon-2s-b' WHERE hardware_class = 'xeon-2s' AND id % 3 = 0`).run();
  db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('read pool', () => {
  // ~2-5 ms of SQLite work each, so both readers get some of a batch of 40.
  const SQL = [
    'WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < @n) SELECT SUM(i) s FROM k',
    "SELECT json_extract(@x, '$') v",
  ];
  const tasks = Array.from({ length: 40 }, (_, i) => ({ statement: 0, params: { n: 20_000 + i } }));
  const expected = tasks.map((t) => ({ s: (t.params.n * (t.params.n + 1)) / 2 }));

  it('answers a batch in its order on the caller alone (in-memory database: no thread)', () => {
    const db = openDatabase(':memory:');
    const pool = new ReadPool(db, SQL);
    expect(pool.startThread()).toBe(false);
    expect(pool.run(tasks)).toEqual(expected);
    pool.close();
    db.close();
  });

  it('shares a batch with its thread and answers in the same order; an error surfaces on the caller', () => {
    const db: DB = openDatabase(path);
    const pool = new ReadPool(db, SQL);
    try {
      expect(pool.startThread()).toBe(true);
      expect(pool.waitForThread(20_000)).toBe(true);
      expect(pool.run(tasks)).toEqual(expected);
      expect(pool.answeredByThread).toBeGreaterThan(0);
      expect(pool.answeredByThread).toBeLessThan(tasks.length);
      // Whichever reader takes the bad statement, the caller throws SQLite's own error.
      const bad = [...tasks.slice(0, 10), { statement: 1, params: { x: '{not json' } }, ...tasks.slice(10, 20)];
      expect(() => pool.run(bad)).toThrow(/malformed JSON/);
      // and the pool goes on after it
      expect(pool.run(tasks.slice(0, 4))).toEqual(expected.slice(0, 4));
    } finally {
      pool.close();
      db.close();
    }
  });

  it('readCampaignRuns gives the same cells, node runs and provenance with the thread as without', () => {
    const db = openDatabase(path);
    try {
      for (const includeFlagged of [false, true]) {
        const alone = readCampaignRuns(db, 'c-pool', { includeFlagged, threadFromRuns: Number.POSITIVE_INFINITY });
        const shared = readCampaignRuns(db, 'c-pool', { includeFlagged, threadFromRuns: 0, awaitThreadMs: 20_000 });
        expect(shared).toEqual(alone);
        // the fixture reaches the paths it is meant to
        const cells = [...alone.cells.values()];
        expect(cells.some((a) => a.excluded.reasons['net-energy-nonpositive'])).toBe(true);
        expect(cells.some((a) => a.excluded.reasons.noisy_neighbour)).toBe(!includeFlagged);
        expect([...alone.nodeRuns.values()].some((nodes) => nodes.length === 2)).toBe(true);
        expect(cells.map((a) => a.energyKind)).toContain('estimated');
      }
    } finally {
      db.close();
    }
  });
});
