/**
 * CPU time spent inside SQLite's prepared statements (run, get, all on better-sqlite3's shared
 * Statement prototype), measured with this process' CPU clock around every call, less the cost of
 * reading that clock twice (measured on a cold core, as the calls meet it). The benches use it to
 * split the queue's work into SQLite's part and the rest. `db.transaction()` runs its BEGIN,
 * SAVEPOINT, RELEASE and COMMIT as prepared statements too, so they count; only `db.exec` and
 * `db.pragma` calls would not, and the queue's paths make none.
 */
import type { Store } from '../../store/store.ts';
import { selfCpuSeconds } from './cpu.ts';

const cpuUs = () => selfCpuSeconds() * 1e6;

/** Mean µs of two back-to-back reads of the CPU clock right after a 1 ms sleep. */
function clockPairUs(samples = 200): number {
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
  /** CPU µs inside statements since the clock was installed, net of the clock's own cost. */
  us(): number;
  calls(): number;
  /** CPU µs the clock itself added to this process (subtract it from the process' CPU). */
  overheadUs(): number;
}

/** Installs the timing on every statement of this database's connection class (once per process). */
export function timeStatements(db: Store['db']): StatementClock {
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>;
  const pairUs = clockPairUs();
  let us = 0;
  let calls = 0;
  for (const name of ['run', 'get', 'all'] as const) {
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...a: unknown[]) {
      const c0 = cpuUs();
      try {
        return orig.apply(this, a);
      } finally {
        us += cpuUs() - c0;
        calls++;
      }
    };
  }
  return { us: () => Math.max(0, us - calls * pairUs), calls: () => calls, overheadUs: () => calls * pairUs };
}
