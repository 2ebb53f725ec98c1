/**
 * CPU time spent inside SQLite's prepared statements (run, get, all on better-sqlite3's shared
 * Statement prototype), measured with this process' CPU clock around every call, as a range:
 *
 * - `us()`, the estimate: each call reads the clock three times; two reads back to back give what
 *   one read costs at that moment, which is subtracted from the interval around the statement.
 *   The clock's system calls can cool the caches the statement runs on, so this may overstate
 *   SQLite a little; checkClock below compares it with the statement's cost without any clock.
 * - `lowerUs()`, the lower bound: the same intervals less a pair of reads timed right after a
 *   1 ms sleep, where a read is at its dearest. It understates SQLite (by about half on the
 *   checked SELECT), so a floor argued from it holds.
 *
 * The first version subtracted only that cold pair, and so reported the lower bound as the figure.
 *
 * `db.transaction()` runs its BEGIN, SAVEPOINT, RELEASE and COMMIT as prepared statements too, so
 * they count; only `db.exec` and `db.pragma` calls would not, and the queue's paths make none.
 */
import type { Store } from '../../store/store.ts';
import { selfCpuSeconds } from './cpu.ts';

const cpuUs = () => selfCpuSeconds() * 1e6;

/** Mean µs of two back-to-back reads of the CPU clock right after a 1 ms sleep. */
function coldPairUs(samples = 200): number {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    Atomics.wait(cell, 0, 0, 1);
    const a = cpuUs();
    sum += cpuUs() - a;
  }
  return sum / samples;
}

export interface StatementClock {
  /** CPU µs inside statements since the clock was installed, less each call's own read of the clock (the estimate). */
  us(): number;
  /** The same less a cold pair of reads per call: a lower bound. */
  lowerUs(): number;
  calls(): number;
  /** CPU µs the clock's reads themselves took in this process (subtract it from the process' CPU). */
  overheadUs(): number;
}

/** A clock around calls: three reads each (see the top of this file). */
function newClock(): StatementClock & { time<T>(f: () => T): T } {
  const pairUs = coldPairUs();
  let us = 0;
  let readUs = 0;
  let calls = 0;
  return {
    time<T>(f: () => T): T {
      const c0 = cpuUs();
      const c1 = cpuUs();
      try {
        return f();
      } finally {
        const read = c1 - c0;
        us += cpuUs() - c1 - read;
        readUs += read;
        calls++;
      }
    },
    us: () => Math.max(0, us),
    // The interval around a call holds one read (us takes it out), less a cold pair.
    lowerUs: () => Math.max(0, us + readUs - calls * pairUs),
    calls: () => calls,
    overheadUs: () => 3 * readUs,
  };
}

/** Installs the timing on every statement of this database's connection class (once per process). */
export function timeStatements(db: Store['db']): StatementClock {
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>;
  const clock = newClock();
  for (const name of ['run', 'get', 'all'] as const) {
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...a: unknown[]) {
      return clock.time(() => orig.apply(this, a));
    };
  }
  return clock;
}

/**
 * The clock checked on a statement of known cost, in this process: an indexed SELECT on a
 * temporary table of 50,000 rows, N times without a clock (CPU per loop iteration, the loop
 * included) and N times under the clock (its estimate and its lower bound). Call it before
 * timeStatements, which wraps the statements this check runs unclocked.
 */
export function checkClock(db: Store['db'], n = 20_000): { unclockedUs: number; estimateUs: number; lowerUs: number } {
  db.exec(
    'CREATE TEMP TABLE clock_check(id INTEGER PRIMARY KEY, v TEXT, w INT); CREATE INDEX temp.clock_check_w ON clock_check(w)',
  );
  const insert = db.prepare('INSERT INTO temp.clock_check(v, w) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 50_000; i++) insert.run('x'.repeat(50), i % 997);
  })();
  const select = db.prepare('SELECT * FROM temp.clock_check WHERE w = ? LIMIT 5');
  for (let i = 0; i < n; i++) select.all(i % 997); // warm
  const c0 = cpuUs();
  for (let i = 0; i < n; i++) select.all(i % 997);
  const unclockedUs = (cpuUs() - c0) / n;
  const clock = newClock();
  for (let i = 0; i < n; i++) clock.time(() => select.all(i % 997));
  db.exec('DROP TABLE temp.clock_check');
  return { unclockedUs, estimateUs: clock.us() / n, lowerUs: clock.lowerUs() / n };
}
