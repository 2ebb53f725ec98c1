/**
 * The master's queue at the 2,000 agents' pace, without HTTP: the claims, results, lease
 * extensions and heartbeats of bench/master-load.ts's realistic run, at the rates that run
 * measured, go straight into the master's JobQueue and GroupCommit (WAL, synchronous=FULL), each
 * in a timer of its own, with the master's reaper every second. Between them the event loop sleeps,
 * as the master's does, so every request meets a cold core. Reports the CPU this process used
 * (pinned to the master's CPU) and, of it, the part spent inside SQLite's statements
 * (bench/lib/statement-time.ts: transactions, savepoints and fsync'd commits included). Prints one
 * JSON document. Usage:
 *   node --import tsx bench/lib/queue-pace.ts --claims-per-s 55 --results-per-s 37 \
 *     --leases-per-s 150 --heartbeats-per-s 170 [--agents 2000] [--seconds 45] [--cpu 0]
 */
import type { JobQueue } from '../../master/queue.ts';
import { bounded, parseArgsOrExit } from './args.ts';
import { withBenchQueue } from './bench-queue.ts';
import { selfCpuSeconds } from './cpu.ts';
import { pinSelf } from './pin.ts';
import { timeStatements } from './statement-time.ts';

const { values: args } = parseArgsOrExit(
  process.argv.slice(2),
  {
    'claims-per-s': { type: 'string' },
    'results-per-s': { type: 'string' },
    'leases-per-s': { type: 'string' },
    'heartbeats-per-s': { type: 'string' },
    agents: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '45' },
    cpu: { type: 'string', default: '0' },
  },
  false,
);
const need = (k: keyof typeof args) => {
  if (args[k] === undefined) {
    process.stderr.write(`--${k} is required (the rate bench/master-load.ts measured)\n`);
    process.exit(2);
  }
  return bounded(k, args[k] as string, 0, 100_000);
};
const RATES = {
  claim: need('claims-per-s'),
  result: need('results-per-s'),
  lease: need('leases-per-s'),
  heartbeat: need('heartbeats-per-s'),
};
const AGENTS = bounded('agents', args.agents!, 10, 10_000);
const SECONDS = bounded('seconds', args.seconds!, 1, 600);
const CPU = bounded('cpu', args.cpu!, 0, 1023);

const cpuUs = () => selfCpuSeconds() * 1e6;

async function main(): Promise<void> {
  const pinnedTo = pinSelf(CPU);
  const jobs = Math.ceil(AGENTS + (RATES.claim + 1) * (SECONDS + 10));
  await withBenchQueue(
    { jobs, agents: AGENTS },
    async ({ store, queue, commits, nodes, template, claim: claimFor }) => {
      // Half the fleet runs a job when timing starts (claimed here, untimed), the other half is idle.
      const idle: string[] = [...nodes];
      const running: Array<{ node: string; job: NonNullable<ReturnType<JobQueue['claimWithCampaign']>> }> = [];
      const claim = async () => {
        const node = idle.shift();
        if (node === undefined) return false;
        running.push({ node, job: await claimFor(node) });
        return true;
      };
      const result = async () => {
        const r = running.shift();
        if (!r) return false;
        const record = { ...template, jobId: r.job.id, attempt: r.job.attempts, nodeId: r.node };
        const out = await commits.run(() => queue.submitResult(record, null, r.job.leaseId));
        if (out.kind !== 'stored') throw new Error(`result of ${r.job.id} was ${out.kind}`);
        idle.push(r.node);
        return true;
      };
      const lease = () => {
        if (running.length === 0) return false;
        const { node, job } = running[Math.floor(Math.random() * running.length)];
        const r = queue.extendLeaseLater(job.id, node, job.attempts, job.leaseId);
        if (!r.ok) throw new Error(`lease of ${job.id} refused: ${r.reason}`);
        return true;
      };
      const heartbeat = () => {
        queue.heartbeatLater(nodes[Math.floor(Math.random() * nodes.length)]);
        return true;
      };
      for (let i = 0; i < AGENTS / 2; i += 64) await Promise.all(Array.from({ length: 64 }, () => claim()));

      const done = { claim: 0, result: 0, lease: 0, heartbeat: 0 };
      const skipped = { claim: 0, result: 0, lease: 0, heartbeat: 0 };
      const ops: Record<keyof typeof RATES, () => boolean | Promise<boolean>> = { claim, result, lease, heartbeat };
      let failure: unknown = null;
      const sql = timeStatements(store.db);
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      const c0 = cpuUs();
      const batches0 = commits.stats.batches;
      const writes0 = commits.stats.writes;
      const reaper = setInterval(() => queue.reap(), 1000);
      // Each kind arrives as a Poisson stream at its measured rate, one timer per request.
      const stream = (kind: keyof typeof RATES) =>
        new Promise<void>((resolve) => {
          const rate = RATES[kind];
          if (rate <= 0) return resolve();
          let at = t0;
          const next = () => {
            // Arrival times are drawn ahead, so a slow request does not lower the rate.
            at += (-Math.log(1 - Math.random()) / rate) * 1000;
            if (at >= end || failure) return resolve();
            setTimeout(
              async () => {
                try {
                  if (await ops[kind]()) done[kind]++;
                  else skipped[kind]++;
                } catch (err) {
                  failure = err;
                }
                next();
              },
              Math.max(0, at - performance.now()),
            );
          };
          next();
        });
      await Promise.all((Object.keys(RATES) as Array<keyof typeof RATES>).map(stream));
      clearInterval(reaper);
      const cpuMs = (cpuUs() - c0 - sql.overheadUs()) / 1000;
      const sqlMs = sql.us() / 1000;
      const sqlLowerMs = sql.lowerUs() / 1000;
      const wallS = (performance.now() - t0) / 1000;
      if (failure) throw failure;
      const requests = done.claim + done.result + done.lease + done.heartbeat;
      const r3 = (x: number) => Math.round(x * 1000) / 1000;
      process.stdout.write(
        `${JSON.stringify(
          {
            settings: { agents: AGENTS, seconds: SECONDS, rates: RATES, cpu: CPU, pinnedTo },
            done,
            skipped,
            requests,
            wallS: r3(wallS),
            commits: commits.stats.batches - batches0,
            writesPerCommit: r3((commits.stats.writes - writes0) / Math.max(1, commits.stats.batches - batches0)),
            utilization: r3(cpuMs / 1000 / wallS),
            cpuMsPerRequest: r3(cpuMs / Math.max(1, requests)),
            sqliteUtilization: r3(sqlMs / 1000 / wallS),
            sqliteMsPerRequest: r3(sqlMs / Math.max(1, requests)),
            sqliteLowerUtilization: r3(sqlLowerMs / 1000 / wallS),
            sqliteLowerMsPerRequest: r3(sqlLowerMs / Math.max(1, requests)),
            statements: sql.calls(),
          },
          null,
          2,
        )}\n`,
      );
    },
  );
}

await main();
