import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from './migrations.ts';
import { openDatabase, setupKey } from './store.ts';
import { okRuns, X264_CELL, writeFixture, type FixtureCell } from '../analyzers/fixture-db.ts';
import { summarize } from '../analyzers/summarize.ts';
import { renderJson } from '../analyzers/write-json.ts';
import { renderMarkdown } from '../analyzers/write-md.ts';

// Migration 6 (run strata columns): a database written before it gets the columns back-filled
// from the provenance and energy source, and reports on it exactly as on one written after it.
const base = X264_CELL;
const CELLS: FixtureCell[] = [
  {
    ...base,
    preset: 'ultrafast',
    hardwareClass: 'xeon-2s',
    runs: ['fail', 'ok', 'ok', 'ok', 'ok'],
    jPerMin: 420,
    speed: 9,
    flags: [[], [], ['noisy_neighbour'], [], ['thermal-throttle']],
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
  { ...base, preset: 'medium', runs: ['ok', 'ok', 'ok', 'fail'], source: 'nvml', jPerMin: 450, speed: 5 },
  { ...base, preset: 'slow', runs: ['fail'], jPerMin: 900, speed: 1 },
];
const NOW = new Date('2026-02-01T00:00:00Z');
const STRATA_COLUMNS = ['hardware_class', 'energy_kind', 'setup_id'];

let dir: string;
let fresh: string;
let old: string;

/** A copy of `from` with the schema of migrations 1–5: the same rows, without the columns migration 6 adds. */
function copyWithPreviousSchema(from: string, to: string): void {
  const db = new Database(to);
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((x) => x.version < 6)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  db.exec(`ATTACH DATABASE '${from.replace(/'/g, "''")}' AS src`);
  for (const { name } of db
    .prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name <> 'schema_migrations'")
    .all() as Array<{ name: string }>) {
    const cols = (db.prepare(`PRAGMA main.table_info(${name})`).all() as Array<{ name: string }>).map((c) => c.name);
    if (name === 'run') expect(cols.filter((c) => STRATA_COLUMNS.includes(c))).toEqual([]);
    db.exec(`INSERT INTO main.${name} (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM src.${name} ORDER BY rowid`);
  }
  db.exec('DETACH DATABASE src');
  db.close();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-migration6-'));
  fresh = join(dir, 'fresh.sqlite');
  old = join(dir, 'old.sqlite');
  writeFixture(fresh, {
    name: 'm6',
    campaignId: 'c-m6',
    cells: CELLS,
    createdAt: Date.UTC(2026, 0, 20),
    seed: 7,
    idleW: 8,
  });
  copyWithPreviousSchema(fresh, old);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 6: strata columns of the run', () => {
  it('back-fills hardware class, energy kind and provenance set of every run as the store fills them', () => {
    const before = new Database(old, { readonly: true });
    expect((before.prepare('SELECT MAX(version) v FROM schema_migrations').get() as { v: number }).v).toBe(5);
    before.close();
    const migrated = openDatabase(old);
    const stored = openDatabase(fresh);
    const q = `SELECT run.id, hardware_class, energy_kind, s.key setup FROM run JOIN run_setup s ON s.id = run.setup_id ORDER BY run.id`;
    const got = migrated.prepare(q).all();
    const want = stored.prepare(q).all();
    expect(got).toHaveLength(CELLS.reduce((n, c) => n + c.runs.length, 0));
    expect(got).toEqual(want);
    expect(new Set(got.map((r) => (r as { hardware_class: string }).hardware_class))).toEqual(
      new Set(['xeon-2s', 'epyc-1s', 'unclassified']),
    );
    expect(new Set(got.map((r) => (r as { energy_kind: string }).energy_kind))).toEqual(
      new Set(['measured', 'estimated', 'none']),
    );
    // The store's key and SQLite's json_extract over the same paths agree, so old and new runs share a set.
    const p = JSON.parse(
      (stored.prepare('SELECT provenance FROM run LIMIT 1').get() as { provenance: string }).provenance,
    );
    expect(stored.prepare('SELECT COUNT(*) n FROM run_setup WHERE key = ?').get(setupKey(p))).toEqual({ n: 1 });
    expect(
      (
        migrated
          .prepare('SELECT COUNT(*) n FROM run WHERE hardware_class IS NULL OR energy_kind IS NULL OR setup_id IS NULL')
          .get() as { n: number }
      ).n,
    ).toBe(0);
    expect(
      migrated
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('run_stratum', 'run_attention', 'run_campaign') ORDER BY name",
        )
        .all(),
    ).toEqual([{ name: 'run_attention' }, { name: 'run_stratum' }]);
    migrated.close();
    stored.close();
  });

  it('a report of the migrated database is the report of one written with the new schema', () => {
    const a = summarize({ db: old, now: NOW });
    const b = summarize({ db: fresh, now: NOW });
    expect(renderJson(a)).toBe(renderJson(b));
    expect(renderMarkdown(a)).toBe(renderMarkdown(b));
    // The strata, exclusions and provenance tallies came through the columns.
    expect(a.strata.map((s) => s.stratum).sort()).toEqual([
      'epyc-1s · ESTIMATE',
      'epyc-1s · measured',
      'unclassified · measured',
      'unclassified · no energy',
      'xeon-2s · ESTIMATE',
      'xeon-2s · measured',
    ]);
    expect(a.excluded.runs).toBe(3);
    expect(a.provenance.hardwareClasses).toEqual([
      { value: 'xeon-2s', runs: 11 },
      { value: 'epyc-1s', runs: 6 },
      { value: 'unclassified', runs: 3 },
    ]);
  });

  it('runs once: reopening leaves the back-filled values alone', () => {
    const db = openDatabase(old);
    expect((db.prepare('SELECT COUNT(*) n FROM schema_migrations WHERE version = 6').get() as { n: number }).n).toBe(1);
    db.close();
  });
});
