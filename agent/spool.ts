import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../core/types.ts';
import type { Logger } from '../core/log.ts';
import type { ResultOutcome } from '../core/contracts/index.ts';
import type { IdleReport } from './client.ts';

interface SpoolEntry {
  record: RunRecord;
  idle: IdleReport | null;
  /** The lease the result belongs to (fencing): sent with it, also after an agent restart. */
  leaseId: string;
}

/** Writes a file so that it survives a power cut once this returns: data, then the rename, both fsynced. */
export function writeFileDurably(path: string, data: string, mode = 0o600): void {
  const tmp = path + '.tmp';
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Answers that retrying cannot change (the body or the token is wrong): the entry is moved aside. */
const PERMANENT_STATUSES = new Set([400, 403, 413, 415]);

export type SpoolOutcome = ResultOutcome | 'spooled' | 'rejected';

/**
 * Results on disk until the master has them: written atomically (tmp + rename) before the first
 * post, removed once the master answers stored, duplicate, stale or unknown job. Survives master
 * outages and agent restarts; `flush()` delivers what is left (the agent calls it periodically).
 * A result the master refuses for good (400/403/413) is kept as `<file>.rejected` for a person.
 */
export class ResultSpool {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly post: (record: RunRecord, idle: IdleReport | null, leaseId: string) => Promise<ResultOutcome>,
    private readonly log: Logger,
    private readonly backoff = { firstMs: 500, maxMs: 4_000, attempts: 6 },
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private file(record: RunRecord): string {
    return join(this.dir, `${record.jobId}.${record.attempt}.json`);
  }

  /** Spooled results not yet delivered (file names). */
  pending(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  }

  /**
   * Spools the result durably (file and folder fsynced before the first post), then tries to deliver
   * it with backoff; 'spooled' when the master stayed unreachable. Throws when it cannot be written
   * (disk full): the caller must not treat the run as delivered.
   */
  async deliver(
    record: RunRecord,
    idle: IdleReport | null,
    leaseId: string,
    signal?: AbortSignal,
  ): Promise<SpoolOutcome> {
    const path = this.file(record);
    const entry: SpoolEntry = { record, idle, leaseId };
    writeFileDurably(path, JSON.stringify(entry));
    return this.tryDeliver(path, entry, signal);
  }

  private async tryDeliver(path: string, entry: SpoolEntry, signal?: AbortSignal): Promise<SpoolOutcome> {
    if (this.inFlight.has(path)) return 'spooled';
    this.inFlight.add(path);
    try {
      let wait = this.backoff.firstMs;
      for (let i = 0; i < this.backoff.attempts && !signal?.aborted; i++) {
        try {
          const outcome = await this.post(entry.record, entry.idle, entry.leaseId);
          if (outcome.kind === 'stale' || outcome.kind === 'unknown-job') {
            this.log.warn(
              `master refused result of job ${entry.record.jobId} attempt ${entry.record.attempt}: ${outcome.kind === 'stale' ? outcome.reason : 'unknown job'}; dropped from the spool`,
            );
          }
          rmSync(path, { force: true });
          return outcome;
        } catch (err) {
          const status = (err as { status?: number }).status;
          if (status !== undefined && PERMANENT_STATUSES.has(status)) {
            this.log.error(
              `master rejected result of job ${entry.record.jobId} for good (${(err as Error).message}); kept as ${path}.rejected`,
            );
            renameSync(path, path + '.rejected');
            return 'rejected';
          }
          this.log.warn(
            `result of job ${entry.record.jobId} not delivered (${(err as Error).message}); retry in ${wait} ms, kept in ${path}`,
          );
          await sleep(wait, undefined, { signal }).catch(() => {});
          wait = Math.min(this.backoff.maxMs, wait * 2);
        }
      }
      return 'spooled';
    } finally {
      this.inFlight.delete(path);
    }
  }

  /** Delivers every spooled result (skipping ones being delivered right now); returns how many are still pending. */
  async flush(signal?: AbortSignal): Promise<number> {
    for (const f of this.pending()) {
      if (signal?.aborted) break;
      const path = join(this.dir, f);
      if (this.inFlight.has(path)) continue;
      let entry: SpoolEntry;
      try {
        entry = JSON.parse(readFileSync(path, 'utf8')) as SpoolEntry;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // delivered meanwhile
        this.log.error(`spooled result ${path} is unreadable; moved aside to ${path}.bad`);
        renameSync(path, path + '.bad');
        continue;
      }
      await this.tryDeliver(path, entry, signal);
    }
    return this.pending().length;
  }
}
