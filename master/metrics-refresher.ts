import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import type { CostConfig } from './metrics.ts';

/**
 * Produces the /metrics text in a worker thread (metrics-thread.ts) with its own read-only
 * database connection. If the thread cannot run, the text is produced on the main thread by
 * `fallback` (logged once): /metrics keeps working, at the old cost.
 */
export class MetricsRefresher {
  private worker: Worker | null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();

  constructor(
    dbPath: string,
    cost: CostConfig,
    private readonly fallback: () => Promise<string>,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    this.worker = new Worker(new URL('./metrics-worker.mjs', import.meta.url), { workerData: { dbPath, cost } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; text?: string; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.text ?? '');
    });
    const gone = (why: string) => {
      if (!this.worker) return;
      this.worker = null;
      this.log.warn({ error: why }, 'metrics thread unavailable: /metrics is built on the main thread');
      for (const p of this.pending.values()) p.reject(new Error(`metrics thread stopped: ${why}`));
      this.pending.clear();
    };
    this.worker.on('error', (err) => gone(err.message));
    this.worker.on('exit', (code) => gone(`exit code ${code}`));
  }

  text(): Promise<string> {
    if (!this.worker) return this.fallback();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage(id);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
