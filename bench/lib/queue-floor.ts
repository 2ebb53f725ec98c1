/**
 * The master's own work without HTTP: the closed loop's claims and results run straight into the
 * master's JobQueue and GroupCommit on a fresh results database (WAL, synchronous=FULL), with the
 * campaign and run records bench/master-load.ts sends. Its CPU per request is what the queue's
 * SQLite statements and fsync'd group commits cost on this core, and of it the part inside SQLite's
 * prepared statements (bench/lib/statement-time.ts); the master's CPU per request minus this and
 * the HTTP floor (bench/lib/floor-server.ts) is what the server adds between them.
 * The rounds run twice: once as they are (the CPU per request), once with the statements timed.
 * The process runs pinned to one CPU (--cpu, the master's), as the master does: the statement clock
 * is the process' (getrusage), and unpinned, V8's other threads working on the other core while a
 * statement ran would count in it.
 * Prints one JSON document. Usage:
 *   node --import tsx bench/lib/queue-floor.ts [--jobs 50000] [--agents 200] [--batch 64] [--pairs 6000] [--cpu 0]
 */
import { bounded, parseArgsOrExit } from './args.ts';
import { withBenchQueue } from './bench-queue.ts';
import { selfCpuSeconds } from './cpu.ts';
import { pinSelf } from './pin.ts';
import { checkClock, timeStatements } from './statement-time.ts';

const { values: args } = parseArgsOrExit(
  process.argv.slice(2),
  {
    jobs: { type: 'string', default: '50000' },
    agents: { type: 'string', default: '200' },
    batch: { type: 'string', default: '64' },
    pairs: { type: 'string', default: '6000' },
    cpu: { type: 'string', default: '0' },
  },
  false,
);
const JOBS = bounded('jobs', args.jobs!, 100, 200_000);
const AGENTS = bounded('agents', args.agents!, 1, 10_000);
const BATCH = bounded('batch', args.batch!, 1, 1000);
const PAIRS = bounded('pairs', args.pairs!, 100, 100_000);
const CPU = bounded('cpu', args.cpu!, 0, 1023);

const cpuMs = () => selfCpuSeconds() * 1000;

async function main(): Promise<void> {
  const pinnedTo = pinSelf(CPU);
  await withBenchQueue({ jobs: JOBS, agents: AGENTS }, async ({ store, queue, commits, nodes, template, claim }) => {
    // One round: BATCH agents claim in one group commit, then post their results in the next,
    // as the closed loop's group commits carry about as many writes each.
    const round = async (offset: number) => {
      const ids = Array.from({ length: BATCH }, (_, i) => nodes[(offset + i) % nodes.length]);
      const jobs = await Promise.all(ids.map(claim));
      await Promise.all(
        jobs.map((job, i) => {
          const record = { ...template, jobId: job.id, attempt: job.attempts, nodeId: ids[i] };
          return commits.run(() => queue.submitResult(record, null, job.leaseId));
        }),
      );
    };
    const rounds = Math.ceil(PAIRS / BATCH);
    for (let r = 0; r < Math.ceil(rounds / 5); r++) await round(r * BATCH); // warm-up
    // The CPU per request without any clock around the statements; then the same rounds again
    // with SQLite's statements timed, for SQLite's part (the clock costs a few µs per statement).
    const batches0 = commits.stats.batches;
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await round(r * BATCH);
    const cpu = cpuMs() - c0;
    const wall = performance.now() - t0;
    const batches1 = commits.stats.batches;
    const clockCheck = checkClock(store.db);
    const sql = timeStatements(store.db);
    for (let r = 0; r < rounds; r++) await round(r * BATCH);
    const sqlMs = sql.us() / 1000;
    const sqlLowerMs = sql.lowerUs() / 1000;
    const requests = 2 * rounds * BATCH;
    process.stdout.write(
      `${JSON.stringify(
        {
          settings: { jobs: JOBS, agents: AGENTS, batch: BATCH, pairs: rounds * BATCH, pinnedTo },
          requests,
          commits: batches1 - batches0,
          cpuMsPerRequest: Math.round((cpu / requests) * 1000) / 1000,
          sqliteMsPerRequest: Math.round((sqlMs / requests) * 1000) / 1000,
          sqliteLowerMsPerRequest: Math.round((sqlLowerMs / requests) * 1000) / 1000,
          statementsPerRequest: Math.round((sql.calls() / requests) * 100) / 100,
          // The statement clock on an indexed SELECT: its cost unclocked, and the clock's two figures.
          clockCheckUs: Object.fromEntries(Object.entries(clockCheck).map(([k, v]) => [k, Math.round(v * 100) / 100])),
          statementClockOverheadMsPerRequest: Math.round((sql.overheadUs() / 1000 / requests) * 1000) / 1000,
          wallMsPerRequest: Math.round((wall / requests) * 1000) / 1000,
        },
        null,
        2,
      )}\n`,
    );
  });
}

await main();
