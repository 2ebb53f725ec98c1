/**
 * Benchmark 3 — master scale: runs bench/master-load.ts (simulated agents against one
 * `ffwatt master` on loopback, the master pinned to one CPU and the load generator to another)
 * twice: a closed loop of short claims + results + heartbeats (the master's CPU per request and
 * its throughput on one core), then 2,000 agents with the agent's protocol (long-poll claims,
 * heartbeat 10 s, lease extension 10 s, jobs 30 s ± 10 s): claim p99 and master CPU.
 */
import { jsonDoc, runTs } from './lib/child.ts';
import { measureColdCost } from './lib/cold-cost.ts';
import { measure, runIfMain } from './lib/harness.ts';
import { fmt, missingRow, row, target, type BenchOptions, type BenchResult, type BenchRow } from './lib/result.ts';

const CPU_TARGET = target('<=', 0.2, 'ms');
const THROUGHPUT_TARGET = target('>=', 4000, 'req/s');
const P99_TARGET = target('<', 20, 'ms');
const UTIL_TARGET = target('<', 15, '% of one core');

interface Latency {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

interface LoadOut {
  settings: { mode: string; agents: number; seconds: number; warmupS: number; jobs?: number; claimWaitS: number };
  pinning: {
    master: { cpu: number; affinity: string | null };
    generator: { cpu: number; affinity: string | null };
  } | null;
  loadAverage: { before: number[]; after: number[] };
  elapsedS: number;
  throughput: { claimsPerS: number; resultsStoredPerS: number; requestsPerS: number };
  counts: Record<string, number>;
  latency: { claim: Latency; claimWithJob: Latency; result: Latency; heartbeat: Latency; lease: Latency };
  commitCost: { fullWallMs: number; fullCpuMs: number; normalWallMs: number; normalCpuMs: number };
  groupCommit: { batches: number; writes: number; durableBatches: number; writesPerBatch: number } | null;
  integrity: { runsStored: number; distinctJobsWithRuns: number; storedAnswers: number };
  masterRss: { peakSampledMiB: number; endMiB: number; highWaterMiB: number };
  masterCpu: { seconds: number; utilization: number; msPerRequest: number; msPerStoredResult: number };
  /** The load generator's CPU over the same window (absent from results of older runs). */
  generatorCpu?: { seconds: number | null; utilization: number | null };
  errors: Record<string, number>;
}

interface QueuePaceOut {
  requests: number;
  wallS: number;
  commits: number;
  utilization: number;
  cpuMsPerRequest: number;
  sqliteUtilization: number;
  /** SQLite's share with the clock's cost taken at its dearest: a lower bound (bench/lib/statement-time.ts). */
  sqliteLowerUtilization: number;
  statements: number;
}

const lat = (l: Latency) => `${fmt(l.p50Ms ?? NaN)} / ${fmt(l.p99Ms ?? NaN)} ms`;
const pinText = (o: LoadOut) =>
  o.pinning
    ? `master on CPU ${o.pinning.master.affinity}, load generator on CPU ${o.pinning.generator.affinity} (taskset)`
    : 'not pinned (fewer than 2 CPUs)';

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure(
    'master',
    'Master scale',
    opts,
    async () => {
      const rows: BenchRow[] = [];
      const runs: Record<string, unknown> = {};
      const notes: string[] = [];
      const plan = opts.quick
        ? [
            {
              key: 'throughput',
              args: ['--mode', 'throughput', '--agents', '200', '--seconds', '3', '--warmup-s', '1'],
            },
            {
              key: 'floor',
              args: [
                '--server',
                'floor',
                '--mode',
                'throughput',
                '--agents',
                '200',
                '--seconds',
                '3',
                '--warmup-s',
                '1',
              ],
            },
            {
              key: 'realistic',
              args: [
                '--mode',
                'realistic',
                '--agents',
                '200',
                '--seconds',
                '10',
                '--warmup-s',
                '3',
                '--job-s',
                '5',
                '--job-jitter-s',
                '2',
              ],
            },
          ]
        : [
            // 50,000 jobs: the closed loop must not run out of queued jobs within its window.
            {
              key: 'throughput',
              args: ['--mode', 'throughput', '--agents', '200', '--seconds', '15', '--jobs', '50000'],
            },
            // The HTTP floor: the same agents against an empty Fastify (bench/lib/floor-server.ts).
            { key: 'floor', args: ['--server', 'floor', '--mode', 'throughput', '--agents', '200', '--seconds', '15'] },
            {
              key: 'realistic',
              args: ['--mode', 'realistic', '--agents', '2000', '--seconds', '45', '--warmup-s', '15'],
            },
            // The HTTP floor at the agents' protocol: every request wakes the server on its own.
            {
              key: 'floor-realistic',
              args: [
                '--server',
                'floor',
                '--mode',
                'realistic',
                '--agents',
                '2000',
                '--seconds',
                '45',
                '--warmup-s',
                '15',
              ],
            },
          ];
      for (const p of plan) {
        opts.log(`master: ${p.args.join(' ')} (bench/master-load.ts)`);
        const r = await runTs('bench/master-load.ts', p.args, { timeoutMs: 600_000 });
        const out = jsonDoc<LoadOut>(r.stdout);
        if (!out) {
          const why = `master-load exited ${r.code ?? r.signal} without a result: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
          rows.push(missingRow(`${p.key}: master-load`, '', why));
          notes.push(why);
          continue;
        }
        runs[p.key] = out;
        if (r.code !== 0)
          notes.push(`${p.key}: master-load exited ${r.code} (its integrity check: ${JSON.stringify(out.integrity)}).`);
        const errs = Object.values(out.errors).reduce((a, b) => a + b, 0);
        if (errs > 0)
          notes.push(`${p.key}: ${errs} failed requests (${Object.keys(out.errors).slice(0, 3).join('; ')}).`);
        const n = out.settings.agents;
        const gc = out.groupCommit ? `, ${fmt(out.groupCommit.writesPerBatch)} writes per commit` : '';
        const cc = out.commitCost;
        if (p.key === 'floor-realistic') {
          const util = 100 * out.masterCpu.utilization;
          const master = runs.realistic as LoadOut | undefined;
          rows.push(
            row(`${n} agents, long poll, against the HTTP floor: server CPU`, util, '% of one core', {
              key: 'master-2000-http-floor',
              display: `${fmt(util)} % of one core (${fmt(out.masterCpu.msPerRequest)} ms per request, ${fmt(out.throughput.requestsPerS)} req/s)`,
            }),
          );
          const pace = runs.queuePace as QueuePaceOut | undefined;
          if (pace) {
            // Judged on SQLite's lower bound, so the floor holds; the upper figure is shown beside it.
            const sum = util + 100 * pace.sqliteLowerUtilization;
            const sqlRange = `${fmt(100 * pace.sqliteLowerUtilization)}–${fmt(100 * pace.sqliteUtilization)}`;
            rows.push(
              row(`${n} agents: HTTP alone at this protocol + SQLite's statements at this pace`, sum, '% of one core', {
                key: 'master-2000-floor-sum',
                display: `at least ${fmt(sum)} % of one core (HTTP ${fmt(util)} + SQLite ${sqlRange})${master ? `; the master used ${fmt(100 * master.masterCpu.utilization)} %` : ''}`,
              }),
            );
            if (master && !(100 * master.masterCpu.utilization < UTIL_TARGET.value))
              notes.push(
                `Floors at the agents' protocol, same run: HTTP alone (Fastify answering fixed JSON) kept the server ${fmt(util)} % busy, and the same claims, results, lease extensions and heartbeats at the rates the master served, run straight into the master's JobQueue and group commit with its reaper (bench/lib/queue-pace.ts, each request in a timer of its own so the core is cold, as at the master), spent ${sqlRange} % of a core inside SQLite's statements alone (the statement clock's lower bound–estimate, bench/lib/statement-time.ts; ${fmt(pace.statements / Math.max(1e-9, pace.wallS))} statements and ${fmt(pace.commits / Math.max(1e-9, pace.wallS))} fsync'd commits per second; ${fmt(100 * pace.utilization)} % with the queue's own code). ` +
                  `HTTP and SQLite alone come to at least ${fmt(sum)} % of a core, ${sum >= UTIL_TARGET.value ? 'at or above' : 'below'} the target of ${fmt(UTIL_TARGET.value)} %; the master used ${fmt(100 * master.masterCpu.utilization)} %.`,
              );
          }
          if (master)
            notes.push(
              `HTTP floor at the agents' protocol, same run: the same ${n} agents against Fastify answering fixed JSON (bench/lib/floor-server.ts; claims answered at once, so it serves more claims than the master does) kept it busy ${fmt(util)} % of its core at ${fmt(out.masterCpu.msPerRequest)} ms per request; the master spent ${fmt(master.masterCpu.msPerRequest)} ms per request (${fmt(100 * master.masterCpu.utilization)} %). Here each request wakes the server on its own, so the per-request cost of HTTP is ${fmt(out.masterCpu.msPerRequest / Math.max(1e-9, (runs.floor as LoadOut | undefined)?.masterCpu.msPerRequest ?? NaN))}× the closed loop's.`,
            );
          continue;
        }
        if (p.key === 'floor') {
          const master = runs.throughput as LoadOut | undefined;
          rows.push(
            row(
              'HTTP floor: the same agents against an empty Fastify, CPU per request',
              out.masterCpu.msPerRequest,
              'ms',
              {
                display: `${fmt(out.masterCpu.msPerRequest)} ms (${fmt(out.throughput.requestsPerS)} req/s, busy ${fmt(100 * out.masterCpu.utilization)} % of its core)`,
              },
            ),
          );
          // The queue floor: the same claims and results straight into the master's queue and
          // group commit, no HTTP (bench/lib/queue-floor.ts, not pinned).
          const qArgs = opts.quick ? ['--pairs', '640', '--jobs', '5000'] : ['--pairs', '6000', '--jobs', '50000'];
          opts.log(`master: bench/lib/queue-floor.ts ${qArgs.join(' ')}`);
          const q = await runTs('bench/lib/queue-floor.ts', qArgs, { timeoutMs: 300_000 });
          const queueFloor = jsonDoc<{
            cpuMsPerRequest: number;
            sqliteMsPerRequest: number;
            sqliteLowerMsPerRequest: number;
            clockCheckUs?: { unclockedUs: number; estimateUs: number; lowerUs: number };
            statementsPerRequest: number;
            commits: number;
            requests: number;
          }>(q.stdout);
          if (!queueFloor) {
            rows.push(
              missingRow(
                'queue floor: master-load',
                'ms',
                `queue-floor exited ${q.code ?? q.signal}: ${q.stderr.trim().split('\n').slice(-3).join(' | ')}`,
              ),
            );
          } else {
            runs.queueFloor = queueFloor;
            const httpMs = out.masterCpu.msPerRequest;
            const queueMs = queueFloor.cpuMsPerRequest;
            rows.push(
              row(
                'queue floor: the same claims and results straight into the queue, no HTTP, CPU per request',
                queueMs,
                'ms',
                {
                  key: 'master-queue-floor',
                  display: `${fmt(queueMs)} ms (${queueFloor.requests} requests, ${fmt(queueFloor.requests / Math.max(1, queueFloor.commits))} writes per fsync'd commit)`,
                },
              ),
              row(
                "… of it inside SQLite's statements (commits included), CPU per request",
                queueFloor.sqliteLowerMsPerRequest,
                'ms',
                {
                  display: `${fmt(queueFloor.sqliteLowerMsPerRequest)}–${fmt(queueFloor.sqliteMsPerRequest)} ms (${fmt(queueFloor.statementsPerRequest)} statements per request; the statement clock's lower bound–estimate)`,
                },
              ),
              ...(queueFloor.clockCheckUs
                ? [
                    row(
                      'the statement clock checked on an indexed SELECT: CPU per loop iteration unclocked / its estimate / its lower bound',
                      queueFloor.clockCheckUs.unclockedUs,
                      'µs',
                      {
                        display: `${fmt(queueFloor.clockCheckUs.unclockedUs)} / ${fmt(queueFloor.clockCheckUs.estimateUs)} / ${fmt(queueFloor.clockCheckUs.lowerUs)} µs`,
                      },
                    ),
                  ]
                : []),
              row('HTTP floor + SQLite alone, CPU per request', httpMs + queueFloor.sqliteLowerMsPerRequest, 'ms', {
                key: 'master-sqlite-floor',
                display: `${fmt(httpMs + queueFloor.sqliteLowerMsPerRequest)}–${fmt(httpMs + queueFloor.sqliteMsPerRequest)} ms (HTTP ${fmt(httpMs)} + SQLite ${fmt(queueFloor.sqliteLowerMsPerRequest)}–${fmt(queueFloor.sqliteMsPerRequest)})`,
              }),
              row('HTTP floor + queue floor, CPU per request', httpMs + queueMs, 'ms', {
                key: 'master-floor-sum',
                display: `${fmt(httpMs + queueMs)} ms (HTTP ${fmt(httpMs)} + queue ${fmt(queueMs)})${master ? `; the master spent ${fmt(master.masterCpu.msPerRequest)} ms, ${fmt(master.masterCpu.msPerRequest - httpMs - queueMs)} ms above both` : ''}`,
              }),
            );
            if (master && !(master.masterCpu.msPerRequest <= CPU_TARGET.value))
              notes.push(
                `Queue floor, same run: the closed loop's claims and results run straight into the master's JobQueue and group commit (64 per commit, WAL, synchronous=FULL; bench/lib/queue-floor.ts) cost ${fmt(queueMs)} ms of CPU per request, of which ${fmt(queueFloor.sqliteLowerMsPerRequest)}–${fmt(queueFloor.sqliteMsPerRequest)} ms inside SQLite's statements (the statement clock's lower bound–estimate, bench/lib/statement-time.ts; ${fmt(queueFloor.statementsPerRequest)} per request: a claim's candidates, the node's active job and the lease update, a result's lease row, run insert with its report indexes, job update and campaign probe, and the fsync'd commits) and the rest in the queue's own code. ` +
                  `HTTP and SQLite alone come to ${fmt(httpMs + queueFloor.sqliteLowerMsPerRequest)}–${fmt(httpMs + queueFloor.sqliteMsPerRequest)} ms per request, ${httpMs + queueFloor.sqliteLowerMsPerRequest >= CPU_TARGET.value ? 'at or above' : httpMs + queueFloor.sqliteMsPerRequest >= CPU_TARGET.value ? 'around' : 'below'} the target of ${fmt(CPU_TARGET.value)} ms; with the queue's own code ${fmt(httpMs + queueMs)} ms, before the server adds authentication, validation and replies.`,
              );
          }
          if (master && !(master.masterCpu.msPerRequest <= CPU_TARGET.value)) {
            notes.push(
              `HTTP floor, same run: the same 200 agents against Fastify answering fixed JSON (no authentication, validation, SQL or commit; bench/lib/floor-server.ts) cost ${fmt(out.masterCpu.msPerRequest)} ms of CPU per request and were served at ${fmt(out.throughput.requestsPerS)} req/s, so the load generator can offer that rate. ` +
                `The master spent ${fmt(master.masterCpu.msPerRequest)} ms, ${fmt(master.masterCpu.msPerRequest - out.masterCpu.msPerRequest)} ms above the floor: the credential check (SHA-256 and an indexed lookup), zod validation of the run record, the SQL of a claim (reap probes, node, candidates, lease update, job read) and of a result (job read, run insert, job update, repetition and campaign probes), savepoints and the share of a durable commit, and one log line per claim and per result.`,
            );
          }
          continue;
        }
        if (p.key === 'throughput') {
          const perReq = out.masterCpu.msPerRequest;
          rows.push(
            row('master CPU per request (claim + result + heartbeat mix)', perReq, 'ms', {
              target: CPU_TARGET,
              display: `${fmt(perReq)} ms (${n} agents, short claims${gc})`,
            }),
            row('master throughput, master pinned to one core', out.throughput.requestsPerS, 'req/s', {
              target: THROUGHPUT_TARGET,
              display: `${fmt(out.throughput.requestsPerS)} req/s (master busy ${fmt(100 * out.masterCpu.utilization)} % of its core; its core alone would serve ~${fmt(1000 / perReq)} req/s at this CPU per request)`,
            }),
            ...(out.generatorCpu?.utilization != null
              ? [
                  row(
                    'throughput run: load generator busy (its own core)',
                    100 * out.generatorCpu.utilization,
                    '% of one core',
                  ),
                ]
              : []),
            row('throughput run: claim / result latency p50 / p99', out.latency.claim.p50Ms, 'ms', {
              display: `${lat(out.latency.claim)} / ${lat(out.latency.result)}`,
            }),
            row('one durable commit on this disk (synchronous=FULL), wall / CPU', cc.fullWallMs, 'ms', {
              key: 'durable-commit',
              display: `${fmt(cc.fullWallMs)} / ${fmt(cc.fullCpuMs)} ms (NORMAL: ${fmt(cc.normalWallMs)} / ${fmt(cc.normalCpuMs)} ms)`,
            }),
          );
          const capacity = perReq > 0 ? 1000 / perReq : null;
          if (!(perReq <= CPU_TARGET.value) || !(out.throughput.requestsPerS >= THROUGHPUT_TARGET.value)) {
            notes.push(
              `Closed loop of ${n} agents, ${pinText(out)}; load average ${out.loadAverage.before.join(' / ')} before, ${out.loadAverage.after.join(' / ')} after. ` +
                `The master used ${fmt(perReq)} ms of CPU per request, so one core serves at most ~${capacity ? fmt(capacity) : '?'} req/s; it served ${fmt(out.throughput.requestsPerS)} req/s while busy ${fmt(100 * out.masterCpu.utilization)} % of its core` +
                (out.masterCpu.utilization < 0.8
                  ? ' (below 80 %: the master waited for its CPU or for the load generator, which a loaded shared box takes from it)'
                  : '') +
                `. One durable commit on this disk costs ${fmt(cc.fullWallMs)} ms of wall time and ${fmt(cc.fullCpuMs)} ms of CPU (the fsync of the WAL), measured in the same run; group commit shares it` +
                (out.groupCommit
                  ? ` among ${fmt(out.groupCommit.writesPerBatch)} writes per commit on average (${out.groupCommit.batches} commits)`
                  : '') +
                '.',
            );
          }
        } else {
          const util = 100 * out.masterCpu.utilization;
          rows.push(
            row(
              `${n} agents, long poll: claim p99 (claims answered with a job)`,
              out.latency.claimWithJob.p99Ms,
              'ms',
              {
                target: P99_TARGET,
                display: `${fmt(out.latency.claimWithJob.p99Ms ?? NaN)} ms (p50 ${fmt(out.latency.claimWithJob.p50Ms ?? NaN)} ms)`,
              },
            ),
            row(`${n} agents, long poll: master CPU`, util, '% of one core', {
              target: UTIL_TARGET,
              display: `${fmt(util)} % of one core (${fmt(out.masterCpu.msPerRequest)} ms per request, ${fmt(out.throughput.requestsPerS)} req/s)`,
            }),
            row(`${n} agents: result / heartbeat / lease latency p50 / p99`, out.latency.result.p50Ms, 'ms', {
              display: `${lat(out.latency.result)}; ${lat(out.latency.heartbeat)}; ${lat(out.latency.lease)}`,
            }),
            row(`${n} agents: master memory (peak RSS)`, out.masterRss.highWaterMiB, 'MiB'),
          );
          // The same requests at the same rates straight into the queue, no HTTP (bench/lib/queue-pace.ts).
          const per = (k: string) =>
            String(Math.round(((out.counts[k] ?? 0) / Math.max(1e-9, out.elapsedS)) * 10) / 10);
          const pArgs = [
            ...['--claims-per-s', per('claims'), '--results-per-s', per('stored')],
            ...['--leases-per-s', per('leaseExtensions'), '--heartbeats-per-s', per('heartbeats')],
            ...['--agents', String(n), '--seconds', opts.quick ? '8' : '40'],
          ];
          opts.log(`master: bench/lib/queue-pace.ts ${pArgs.join(' ')}`);
          const qp = await runTs('bench/lib/queue-pace.ts', pArgs, { timeoutMs: 300_000 });
          const pace = jsonDoc<QueuePaceOut>(qp.stdout);
          if (!pace)
            rows.push(
              missingRow(
                `${n} agents' requests straight into the queue`,
                '% of one core',
                `queue-pace exited ${qp.code ?? qp.signal}: ${qp.stderr.trim().split('\n').slice(-3).join(' | ')}`,
              ),
            );
          else {
            runs.queuePace = pace;
            rows.push(
              row(
                `${n} agents' requests at their rates straight into the queue, no HTTP: CPU`,
                100 * pace.utilization,
                '% of one core',
                {
                  key: 'master-2000-queue-pace',
                  display: `${fmt(100 * pace.utilization)} % of one core (${fmt(pace.cpuMsPerRequest)} ms per request, ${pace.commits} fsync'd commits in ${fmt(pace.wallS)} s)`,
                },
              ),
              row(
                `… of it inside SQLite's statements (commits included)`,
                100 * pace.sqliteLowerUtilization,
                '% of one core',
                {
                  key: 'master-2000-sqlite',
                  display: `${fmt(100 * pace.sqliteLowerUtilization)}–${fmt(100 * pace.sqliteUtilization)} % of one core (${fmt(pace.statements / Math.max(1e-9, pace.wallS))} statements per second; the statement clock's lower bound–estimate)`,
                },
              ),
            );
          }
          const p99 = out.latency.claimWithJob.p99Ms;
          if (!(p99 !== null && p99 < P99_TARGET.value) || !(util < UTIL_TARGET.value)) {
            notes.push(
              `${n} agents with long-poll claims (wait ${out.settings.claimWaitS} s), ${pinText(out)}; load average ${out.loadAverage.before.join(' / ')} before, ${out.loadAverage.after.join(' / ')} after. ` +
                `Claim p99 ${fmt(p99 ?? NaN)} ms with the master busy ${fmt(util)} % of its core at ${fmt(out.masterCpu.msPerRequest)} ms per request. ` +
                `A durable commit costs ${fmt(cc.fullWallMs)} ms of wall time on this disk (same run) and blocks the event loop while it lasts` +
                (out.groupCommit
                  ? `; ${out.groupCommit.durableBatches} of ${out.groupCommit.batches} commits were durable, ${fmt(out.groupCommit.writesPerBatch)} writes per commit`
                  : '') +
                '. On a loaded shared box a request also waits for the master to be scheduled at all.',
            );
          }
        }
      }
      const cold = measureColdCost();
      rows.push(
        row("one indexed SQLite read (a claim's candidates), warm / right after a 1 ms sleep", cold.warmUs, 'µs', {
          key: 'sqlite-cold-read',
          display: `${fmt(cold.warmUs)} / ${fmt(cold.afterSleepUs)} µs`,
        }),
      );
      notes.push(
        `Waking up costs on this machine, same run: a small indexed read takes ${fmt(cold.warmUs)} µs back to back and ${fmt(cold.afterSleepUs)} µs right after its thread slept 1 ms (${fmt(cold.afterSleepUs / cold.warmUs)}×; median of ${cold.reads} each), as the master's event loop sleeps between the requests of 2,000 agents: every statement of a request pays that, whatever the code does.`,
      );
      return {
        title: 'Master scale',
        method:
          'bench/master-load.ts starts `ffwatt master` on 127.0.0.1 (synchronous=FULL, group commit), pins it to one CPU with taskset and the load generator to another, submits a campaign, registers N simulated agents (no FFmpeg) and measures after a warm-up: ' +
          '(1) throughput: 200 agents in a closed loop of short claims and immediate results, heartbeat every 10 s; (2) realistic: 2,000 agents with long-poll claims (wait 20 s), heartbeat every 10 s, lease extension every 10 s while a job runs, jobs of 30 s ± 10 s. ' +
          "CPU per request is the master's /proc/<pid>/stat user+system time over the steady window divided by the requests answered in it; latency is per request, client side (the generator is one Node process with one undici pool). " +
          "The cost of one fsync'd commit on the same disk is measured in the same run (bench/lib/commit-cost.ts). " +
          "Floors, same run: the same agents against Fastify answering fixed JSON (bench/lib/floor-server.ts); the closed loop's claims and results straight into the master's queue (bench/lib/queue-floor.ts, one process, not pinned) and the 2,000 agents' requests at the rates the master served, each in a timer of its own, pinned to the master's CPU (bench/lib/queue-pace.ts); both report the CPU spent inside SQLite's statements, transactions and fsync'd commits included, as the statement clock's lower bound and its estimate (bench/lib/statement-time.ts, checked on an indexed SELECT in the same run); the queue floor's own CPU comes from a pass without the clock.",
        rows,
        details: { runs },
        notes,
      };
    },
    { label: 'master CPU per request (claim + result + heartbeat mix)', unit: 'ms', target: CPU_TARGET },
  );
}

await runIfMain(import.meta.url, run);
