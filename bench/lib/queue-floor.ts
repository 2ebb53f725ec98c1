/**
 * The master's own work without HTTP: the closed loop's claims and results run straight into the
 * master's JobQueue and GroupCommit on a fresh results database (WAL, synchronous=FULL), with the
 * campaign and run records bench/master-load.ts sends. Its CPU per request is what the queue's
 * SQLite statements and fsync'd group commits cost on this core, and of it the part inside SQLite's
 * prepared statements (bench/lib/statement-time.ts); the master's CPU per request minus this and
 * the HTTP floor (bench/lib/floor-server.ts) is what the server adds between them.
 * Prints one JSON document. Usage:
 *   node --import tsx bench/lib/queue-floor.ts [--jobs 50000] [--agents 200] [--batch 64] [--pairs 6000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RunRecordSchema } from '../../core/contracts/run-record.ts';
import { JobQueue } from '../../master/queue.ts';
import { parseMatrix } from '../../matrix/index.ts';
import { GroupCommit } from '../../store/group-commit.ts';
import { Store } from '../../store/store.ts';
import { bounded } from './args.ts';
import { loadMatrix, simulatedRecord } from './master-shapes.ts';
import { timeStatements } from './statement-time.ts';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '50000' },
    agents: { type: 'string', default: '200' },
    batch: { type: 'string', default: '64' },
    pairs: { type: 'string', default: '6000' },
  },
  strict: true,
});
const JOBS = bounded('jobs', args.jobs!, 100, 200_000);
const AGENTS = bounded('agents', args.agents!, 1, 10_000);
const BATCH = bounded('batch', args.batch!, 1, 1000);
const PAIRS = bounded('pairs', args.pairs!, 100, 100_000);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-queue-floor-'));
  const store = Store.open(join(dir, 'results.sqlite'));
  try {
    const queue = new JobQueue(store, {});
    const commits = new GroupCommit(store.db);
    const plan = parseMatrix(loadMatrix(JOBS), 'master-load.yml', { seed: 1, fleet: true });
    queue.createCampaign(plan, { placement: 'any' });
    const nodes = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
    for (const id of nodes)
      queue.registerNode({ id, hostname: id, hardware: {}, encoders: { h264: 'libx264' }, meters: [], labels: [] });
    // The record as the master's route hands it over: validated once here, outside the timing.
    const template = RunRecordSchema.parse(simulatedRecord('job', 1, 'node'));

    // One round: BATCH agents claim in one group commit, then post their results in the next,
    // as the closed loop's group commits carry about as many writes each.
    const round = async (offset: number) => {
      const ids = Array.from({ length: BATCH }, (_, i) => nodes[(offset + i) % nodes.length]);
      const jobs = await Promise.all(
        ids.map((id) =>
          commits.run(() => {
            if (!queue.claimContact(id)) throw new Error(`unknown node ${id}`);
            return queue.claimWithCampaign(id);
          }),
        ),
      );
      await Promise.all(
        jobs.map((job, i) => {
          if (!job) throw new Error('the campaign ran out of queued jobs: raise --jobs');
          const record = { ...template, jobId: job.id, attempt: job.attempts, nodeId: ids[i] };
          return commits.run(() => queue.submitResult(record, null, job.leaseId));
        }),
      );
    };
    const rounds = Math.ceil(PAIRS / BATCH);
    for (let r = 0; r < Math.ceil(rounds / 5); r++) await round(r * BATCH); // warm-up
    const sql = timeStatements(store.db);
    const batches0 = commits.stats.batches;
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await round(r * BATCH);
    const cpu = cpuMs() - c0 - sql.overheadUs() / 1000;
    const sqlMs = sql.us() / 1000;
    const wall = performance.now() - t0;
    const requests = 2 * rounds * BATCH;
    process.stdout.write(
      `${JSON.stringify(
        {
          settings: { jobs: JOBS, agents: AGENTS, batch: BATCH, pairs: rounds * BATCH },
          requests,
          commits: commits.stats.batches - batches0,
          cpuMsPerRequest: Math.round((cpu / requests) * 1000) / 1000,
          sqliteMsPerRequest: Math.round((sqlMs / requests) * 1000) / 1000,
          statementsPerRequest: Math.round((sql.calls() / requests) * 100) / 100,
          wallMsPerRequest: Math.round((wall / requests) * 1000) / 1000,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
