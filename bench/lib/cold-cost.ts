/**
 * The price of waking up on this machine: one small indexed SQLite read (a claim's candidate
 * query over 5,000 queued jobs), timed back to back with warm caches and again right after the
 * thread slept 1 ms, as a server's event loop sleeps between requests. The master and sampler
 * benches report both, measured in the same run: the gap is what a request or a tick pays for
 * arriving on a cold core (caches and TLB hold other work), whatever its own code does.
 */
import Database from 'better-sqlite3';
import { median } from './stats.ts';

export interface ColdCost {
  /** Median µs of the read, back to back. */
  warmUs: number;
  /** Median µs of the same read right after a 1 ms sleep. */
  afterSleepUs: number;
  reads: number;
}

export function measureColdCost(reads = 300): ColdCost {
  const db = new Database(':memory:');
  try {
    db.exec(`CREATE TABLE job (id TEXT PRIMARY KEY, state TEXT NOT NULL, priority INTEGER NOT NULL, seq INTEGER NOT NULL);
             CREATE INDEX job_order ON job (state, priority DESC, seq);`);
    const insert = db.prepare('INSERT INTO job VALUES (?, ?, 0, ?)');
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`job-${i}`, 'queued', (i * 7919) % 5000);
    })();
    const read = db.prepare("SELECT id FROM job WHERE state = 'queued' ORDER BY priority DESC, seq LIMIT 2");
    const timeOne = () => {
      const t0 = process.hrtime.bigint();
      read.all();
      return Number(process.hrtime.bigint() - t0) / 1000;
    };
    for (let i = 0; i < 100; i++) read.all();
    const warm: number[] = [];
    for (let i = 0; i < reads; i++) warm.push(timeOne());
    const cold: number[] = [];
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < reads; i++) {
      Atomics.wait(cell, 0, 0, 1);
      cold.push(timeOne());
    }
    return { warmUs: median(warm), afterSleepUs: median(cold), reads };
  } finally {
    db.close();
  }
}
