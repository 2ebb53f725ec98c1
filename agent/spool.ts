import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../core/types.ts';
import type { Logger } from '../core/log.ts';
import type { ResultOutcome } from '../master/queue.ts';
import type { IdleReport } from './client.ts';

interface SpoolEntry {
  record: RunRecord;
  idle: IdleReport | null;
}

/**
 * Results on disk until the master has them: written atomically (tmp + rename) before the first
 * post, removed once the master answers stored, duplicate or stale. Survives master outages and
 * agent restarts; `flush()` delivers what an earlier run left behind.
 */
export class ResultSpool {
  constructor(
    private readonly dir: string,
    private readonly post: (record: RunRecord, idle: IdleReport | null) => Promise<ResultOutcome>,
    private readonly log: Logger,
    private readonly backoff = { firstMs: 500, maxMs: 15_000, attempts: 8 },
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private file(record: RunRecord): string {
    return join(this.dir, `${record.jobId}.${record.attempt}.json`);
  }

  pending(): string[] {
    return readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort();
  }

  /** Spools the result, then tries to deliver it with backoff; 'spooled' when the master stayed unreachable. */
  async deliver(record: RunRecord, idle: IdleReport | null, signal?: AbortSignal): Promise<ResultOutcome | 'spooled'> {
    const path = this.file(record);
    writeFileSync(path + '.tmp', JSON.stringify({ record, idle } satisfies SpoolEntry));
    renameSync(path + '.tmp', path);
    return this.tryDeliver(path, { record, idle }, signal);
  }

  private async tryDeliver(path: string, entry: SpoolEntry, signal?: AbortSignal): Promise<ResultOutcome | 'spooled'> {
    let wait = this.backoff.firstMs;
    for (let i = 0; i < this.backoff.attempts && !signal?.aborted; i++) {
      try {
        const outcome = await this.post(entry.record, entry.idle);
        if (outcome.kind === 'stale' || outcome.kind === 'unknown-job') {
          this.log.warn(`master refused result of job ${entry.record.jobId} attempt ${entry.record.attempt}: ${outcome.kind === 'stale' ? outcome.reason : 'unknown job'}; dropped from the spool`);
        }
        rmSync(path, { force: true });
        return outcome;
      } catch (err) {
        this.log.warn(`result of job ${entry.record.jobId} not delivered (${(err as Error).message}); retry in ${wait} ms, kept in ${path}`);
        await sleep(wait, undefined, { signal }).catch(() => {});
        wait = Math.min(this.backoff.maxMs, wait * 2);
      }
    }
    return 'spooled';
  }

  /** Delivers every spooled result; returns how many are still pending. */
  async flush(signal?: AbortSignal): Promise<number> {
    for (const f of this.pending()) {
      const path = join(this.dir, f);
      let entry: SpoolEntry;
      try {
        entry = JSON.parse(readFileSync(path, 'utf8')) as SpoolEntry;
      } catch {
        this.log.error(`spooled result ${path} is unreadable; moved aside to ${path}.bad`);
        renameSync(path, path + '.bad');
        continue;
      }
      await this.tryDeliver(path, entry, signal);
    }
    return this.pending().length;
  }
}
