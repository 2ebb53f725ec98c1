import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';
import { openDatabase, type DB } from './store.ts';

// Real SQLite files in WAL mode with synchronous=FULL, as the master opens them.
const dirs: string[] = [];
function fresh(): { db: DB; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-gc-'));
  dirs.push(dir);
  const path = join(dir, 'ffwatt.sqlite');
  const db = openDatabase(path);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  return { db, path };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('GroupCommit', () => {
  it('commits the writes of one event-loop turn once; each answer comes after the commit, visible to another connection', async () => {
    const { db, path } = fresh();
    const gc = new GroupCommit(db);
    const reader = new Database(path, { readonly: true });
    const seen: number[] = [];
    const writes = Array.from({ length: 20 }, (_, i) =>
      gc
        .run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(`k${i}`, i))
        .then(() => {
          seen.push((reader.prepare('SELECT COUNT(*) n FROM t').get() as { n: number }).n);
        }),
    );
    await Promise.all(writes);
    expect(gc.stats).toEqual({ batches: 1, writes: 20, durableBatches: 1 });
    // Every caller heard back only once all 20 rows were committed.
    expect(new Set(seen)).toEqual(new Set([20]));
    reader.close();
    db.close();
  });

  it('a write that throws is rolled back alone and its caller gets the error; the others commit', async () => {
    const { db } = fresh();
    const gc = new GroupCommit(db);
    const a = gc.run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('a', 1));
    const bad = gc.run(() => {
      db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('half', 2); // written, then undone with its savepoint
      db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('a', 3); // duplicate key
    });
    const c = gc.run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('c', 4));
    await expect(bad).rejects.toThrow(/UNIQUE constraint failed/);
    await a;
    await c;
    expect(db.prepare('SELECT k, v FROM t ORDER BY k').all()).toEqual([
      { k: 'a', v: 1 },
      { k: 'c', v: 4 },
    ]);
    db.close();
  });

  it('a batch of only non-durable writes commits without synchronous=FULL and leaves FULL set for every other transaction', async () => {
    const { db } = fresh();
    const gc = new GroupCommit(db);
    let during: unknown;
    await gc.run(
      () => {
        during = db.pragma('synchronous', { simple: true });
        db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('hb', 1);
      },
      { durable: false },
    );
    expect(during).toBe(1); // NORMAL
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL again
    // One durable write in the batch makes the whole commit durable.
    await Promise.all([
      gc.run(() => (during = db.pragma('synchronous', { simple: true })), { durable: false }),
      gc.run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('result', 2)),
    ]);
    expect(during).toBe(2);
    expect(gc.stats).toEqual({ batches: 2, writes: 3, durableBatches: 1 });
    db.close();
  });
});
