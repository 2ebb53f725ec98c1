// Runs batches of independent read statements on the caller's connection and, when asked, on a
// second connection in a worker thread (store/read-thread.mjs) at the same time: both take the
// next statement of a batch from one shared counter, so the work splits itself over the two
// cores whatever each statement costs. Synchronous, like the rest of the store: the caller
// blocks (Atomics.wait) only for statements the thread took and has not answered yet.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Statement } from 'better-sqlite3';
import type { DB } from './store.ts';

/** One statement of the pool's list with its parameters; `all` for every row, else the first. */
export interface ReadTask {
  statement: number;
  params: Record<string, unknown>;
  all?: boolean;
}

/** Batches a pool can share with its thread; later ones run on the caller's connection alone. */
const MAX_BATCHES = 64;

interface Batch {
  batch: number;
  results: Array<[number, unknown, string?]>;
}

export class ReadPool {
  private readonly statements: Statement[];
  /** [0] batches the thread answered, [1] 1 once the thread is ready, [2 + b] batch b's next statement. */
  private readonly slots = new Int32Array(new SharedArrayBuffer(4 * (2 + MAX_BATCHES)));
  private batches = 0;
  /** Statements the thread answered (tests check that it took part). */
  answeredByThread = 0;
  private thread: { worker: Worker; port: MessagePort } | null = null;

  constructor(
    private readonly db: DB,
    private readonly sql: readonly string[],
  ) {
    this.statements = sql.map((s) => db.prepare(s));
  }

  /**
   * Starts the second reader on its own read-only connection to the database file (not for an
   * in-memory database). If it cannot start or open the file, every statement runs here.
   */
  startThread(): boolean {
    if (this.thread) return true;
    const path = this.db.name;
    if (this.db.memory || !path || path === ':memory:') return false;
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./read-thread.mjs', import.meta.url), {
      workerData: { path, sql: this.sql, shared: this.slots.buffer, port: port2 },
      transferList: [port2],
      // Plain JavaScript: not the caller's loader flags (tsx's --import would cost the thread ~0.1 s).
      execArgv: [],
    });
    // A thread that fails to start never takes a statement: the caller does them all.
    worker.on('error', () => {});
    worker.unref();
    port1.unref();
    this.thread = { worker, port: port1 };
    return true;
  }

  /** Blocks until the thread has opened its connection and prepared the statements; false if it has not within timeoutMs. */
  waitForThread(timeoutMs: number): boolean {
    if (!this.thread) return false;
    Atomics.wait(this.slots, 1, 0, timeoutMs);
    return Atomics.load(this.slots, 1) === 1;
  }

  /** Results of the tasks, in their order. */
  run(tasks: readonly ReadTask[]): unknown[] {
    const batch = this.batches++;
    const out = new Array<unknown>(tasks.length);
    const shared = this.thread != null && batch < MAX_BATCHES;
    if (!shared) {
      tasks.forEach((t, i) => (out[i] = this.exec(t)));
      return out;
    }
    const { port } = this.thread!;
    port.postMessage({ batch, tasks: tasks.map((t) => [t.statement, t.params, t.all === true]) });
    let theirs = tasks.length;
    for (let i = Atomics.add(this.slots, 2 + batch, 1); i < tasks.length; i = Atomics.add(this.slots, 2 + batch, 1)) {
      out[i] = this.exec(tasks[i]);
      theirs--;
    }
    while (theirs > 0) {
      const posted = Atomics.load(this.slots, 0);
      const m = receiveMessageOnPort(port);
      if (!m) {
        Atomics.wait(this.slots, 0, posted);
        continue;
      }
      const answer = m.message as Batch;
      // An earlier batch's answer, sent after this thread had already done all of it.
      if (answer.batch !== batch) continue;
      for (const [i, value, error] of answer.results) out[i] = error === undefined ? value : this.exec(tasks[i]);
      theirs -= answer.results.length;
      this.answeredByThread += answer.results.length;
    }
    return out;
  }

  private exec(t: ReadTask): unknown {
    const s = this.statements[t.statement];
    return t.all ? s.all(t.params) : s.get(t.params);
  }

  /** Ends the thread (it closes its connection); the pool's statements stay usable here. */
  close(): void {
    const t = this.thread;
    this.thread = null;
    if (!t) return;
    t.port.close();
    void t.worker.terminate();
  }
}
