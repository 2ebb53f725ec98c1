/**
 * The physical cost of one durable SQLite commit on a given disk: a one-row transaction in WAL
 * mode with synchronous=FULL (an fsync of the WAL per commit) and with NORMAL (no fsync), wall
 * and CPU time each. The master benches report it next to their figures, measured in the same run.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface CommitCost {
  /** Wall milliseconds per one-row commit (median of the runs). */
  fullWallMs: number;
  fullCpuMs: number;
  normalWallMs: number;
  normalCpuMs: number;
  commits: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Commits `commits` one-row transactions under each setting in a scratch database inside `dir`. */
export function measureCommitCost(dir: string, commits = 200): CommitCost {
  const scratch = mkdtempSync(join(dir, 'commit-cost-'));
  const out: Record<string, { wall: number; cpu: number }> = {};
  try {
    for (const sync of ['FULL', 'NORMAL'] as const) {
      const db = new Database(join(scratch, `${sync}.sqlite`));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${sync}`);
      db.exec('CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)');
      const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
      const commit = db.transaction((b: string) => insert.run(b));
      const payload = 'x'.repeat(800);
      const t0 = performance.now();
      const c0 = cpuMs();
      for (let i = 0; i < commits; i++) commit.immediate(payload);
      out[sync] = { wall: (performance.now() - t0) / commits, cpu: (cpuMs() - c0) / commits };
      db.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return {
    fullWallMs: out.FULL.wall,
    fullCpuMs: out.FULL.cpu,
    normalWallMs: out.NORMAL.wall,
    normalCpuMs: out.NORMAL.cpu,
    commits,
  };
}
