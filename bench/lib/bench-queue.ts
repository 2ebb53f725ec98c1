/**
 * The master's queue for the queue benchmarks (bench/lib/queue-floor.ts, queue-pace.ts), without
 * HTTP: a fresh results database (WAL, synchronous=FULL), the master's JobQueue and GroupCommit,
 * the campaign and nodes bench/master-load.ts submits, and the run record it posts, validated once
 * as the master's route hands it over. Removed again when the body ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunRecordSchema, type RunRecord } from '../../core/contracts/run-record.ts';
import { JobQueue } from '../../master/queue.ts';
import { parseMatrix } from '../../matrix/index.ts';
import { GroupCommit } from '../../store/group-commit.ts';
import { Store } from '../../store/store.ts';
import { loadMatrix, simulatedRecord } from './master-shapes.ts';

export interface BenchQueue {
  store: Store;
  queue: JobQueue;
  commits: GroupCommit;
  /** Registered node ids, `agent-0` … */
  nodes: string[];
  /** A valid run record; give it the job, attempt and node of each result. */
  template: RunRecord;
  /** One claim as the master's claim route makes it, in the next group commit. */
  claim(node: string): Promise<NonNullable<ReturnType<JobQueue['claimWithCampaign']>>>;
}

export async function withBenchQueue<T>(
  o: { jobs: number; agents: number },
  body: (q: BenchQueue) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-bench-queue-'));
  const store = Store.open(join(dir, 'results.sqlite'));
  try {
    const queue = new JobQueue(store, {});
    const commits = new GroupCommit(store.db);
    queue.createCampaign(parseMatrix(loadMatrix(o.jobs), 'master-load.yml', { seed: 1, fleet: true }), {
      placement: 'any',
    });
    const nodes = Array.from({ length: o.agents }, (_, i) => `agent-${i}`);
    for (const id of nodes)
      queue.registerNode({ id, hostname: id, hardware: {}, encoders: { h264: 'libx264' }, meters: [], labels: [] });
    const template = RunRecordSchema.parse(simulatedRecord('job', 1, 'node'));
    const claim = async (node: string) => {
      const job = await commits.run(() => {
        if (!queue.claimContact(node)) throw new Error(`unknown node ${node}`);
        return queue.claimWithCampaign(node);
      });
      if (!job) throw new Error('the campaign ran out of queued jobs: raise --jobs');
      return job;
    };
    return await body({ store, queue, commits, nodes, template, claim });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
