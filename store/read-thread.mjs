// Second reader of store/read-pool.ts: a worker thread with its own read-only connection (WAL
// lets it read beside the main one) that takes statements off a batch the main thread also works
// through, so a report's per-cell aggregates use both cores. Plain JavaScript on purpose: it
// needs only better-sqlite3, and starting tsx in a thread would cost ~0.3 s and ~30 MiB.
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @type {{ path: string, sql: string[], shared: SharedArrayBuffer, port: import('node:worker_threads').MessagePort }} */
const { path, sql, shared, port } = workerData;
// Slot 0 counts the batches posted back (the main thread waits on it), slot 1 is 1 once this
// thread can take statements, slot 2 + b is batch b's next statement.
const slots = new Int32Array(shared);
const db = new Database(path, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const statements = sql.map((s) => db.prepare(s));

port.on('message', (/** @type {{ batch: number, tasks: Array<[number, Record<string, unknown>, boolean]> }} */ m) => {
  const results = [];
  if (2 + m.batch < slots.length) {
    for (let i = Atomics.add(slots, 2 + m.batch, 1); i < m.tasks.length; i = Atomics.add(slots, 2 + m.batch, 1)) {
      const [statement, params, all] = m.tasks[i];
      try {
        results.push([i, all ? statements[statement].all(params) : statements[statement].get(params)]);
      } catch (err) {
        // The main thread runs it again itself, so the error surfaces there with its context.
        results.push([i, undefined, String(err?.message ?? err)]);
      }
    }
  }
  port.postMessage({ batch: m.batch, results });
  Atomics.add(slots, 0, 1);
  Atomics.notify(slots, 0);
});
port.on('close', () => db.close());
Atomics.store(slots, 1, 1);
Atomics.notify(slots, 1);
