// Load benchmark of the master (not a test): N simulated agents (no FFmpeg) register, heartbeat,
// claim jobs and post results against one `ffwatt master` process on loopback, for a bounded time.
// Prints one JSON document: throughput, p50/p99 latency of claims and result posts, master CPU
// per request (steady window, after --warmup-s), RSS, and the cost of one fsync'd SQLite commit
// on the same disk, measured in the same run.
//
//   npx tsx bench/master-load.ts --mode throughput --agents 200 --seconds 15
//       closed loop: every agent claims (short claim), posts a result at once, heartbeats every
//       10 s: how many requests per second the master serves and its CPU per request.
//   npx tsx bench/master-load.ts --mode realistic --agents 2000 --seconds 60
//       the agent's protocol: long-poll claims (wait_s, --claim-wait-s), heartbeat every 10 s,
//       lease extension every 10 s while a job runs, jobs of 30 s ± 10 s.
//
// With 2 or more CPUs the master is pinned to one (--master-cpu, via taskset) and the load
// generator to another (--generator-cpu), so they never share a core; the pinning is recorded.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { bounded, parseArgsOrExit } from './lib/args.ts';
import { measureCommitCost } from './lib/commit-cost.ts';
import { loadMatrix, simulatedRecord } from './lib/master-shapes.ts';
import { onMasterCpu, PIN_FLAGS, pinAll, pinningFrom, pinningRecord } from './lib/pin.ts';

// FFWATT_BENCH_MASTER_REPO: run the master of another checkout (e.g. main) under the same load,
// for before/after figures side by side.
const REPO = resolve(process.env.FFWATT_BENCH_MASTER_REPO ?? resolve(import.meta.dirname, '..'));

const { values: args } = parseArgsOrExit(
  process.argv.slice(2),
  {
    agents: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    jobs: { type: 'string', default: '5000' },
    'poll-ms': { type: 'string', default: '1000' },
    'heartbeat-s': { type: 'string', default: '10' },
    'job-ms': { type: 'string', default: '0' },
    connections: { type: 'string', default: '256' },
    mode: { type: 'string', default: 'throughput' },
    'claim-wait-s': { type: 'string' },
    'job-s': { type: 'string', default: '30' },
    'job-jitter-s': { type: 'string', default: '10' },
    'lease-extend-s': { type: 'string', default: '10' },
    'warmup-s': { type: 'string' },
    ...PIN_FLAGS,
    server: { type: 'string', default: 'master' },
  },
  false,
);

const MODE = args.mode!;
if (MODE !== 'throughput' && MODE !== 'realistic') {
  process.stderr.write(`--mode must be throughput or realistic (got ${MODE})\n`);
  process.exit(2);
}
const REALISTIC = MODE === 'realistic';
// floor: the same agents against bench/lib/floor-server.ts (Fastify with fixed answers), the HTTP floor.
if (args.server !== 'master' && args.server !== 'floor') {
  process.stderr.write(`--server must be master or floor (got ${args.server})\n`);
  process.exit(2);
}
const FLOOR = args.server === 'floor';
const CLAIM_WAIT_S = bounded('claim-wait-s', args['claim-wait-s'] ?? (REALISTIC ? '20' : '0'), 0, 60);
const JOB_S = bounded('job-s', args['job-s']!, 0, 3600);
const JOB_JITTER_S = bounded('job-jitter-s', args['job-jitter-s']!, 0, 3600);
const LEASE_EXTEND_MS = bounded('lease-extend-s', args['lease-extend-s']!, 1, 600) * 1000;
const WARMUP_S = bounded('warmup-s', args['warmup-s'] ?? (REALISTIC ? '10' : '3'), 0, 600);
const PINNING = pinningFrom(args);
const PIN = PINNING.on;

const AGENTS = bounded('agents', args.agents!, 1, 10_000);
const SECONDS = bounded('seconds', args.seconds!, 1, 600);
const JOBS = bounded('jobs', args.jobs!, 100, 200_000);
const POLL_MS = bounded('poll-ms', args['poll-ms']!, 10, 60_000);
const HEARTBEAT_MS = bounded('heartbeat-s', args['heartbeat-s']!, 0.1, 600) * 1000;
const JOB_MS = bounded('job-ms', args['job-ms']!, 0, 600_000);
const CONNECTIONS = bounded('connections', args.connections!, 1, 4096);

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;
const round = (x: number | null, d = 2) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);
function latency(ms: number[]) {
  const s = ms.slice().sort((a, b) => a - b);
  return {
    count: s.length,
    p50Ms: round(percentile(s, 50)),
    p99Ms: round(percentile(s, 99)),
    maxMs: round(s.at(-1) ?? null),
  };
}

/** CPU seconds (user + system) the process used so far, from /proc/PID/stat. */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** CPU seconds per thread of a process (name → seconds), from /proc/PID/task/TID/stat. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
        const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
        const key = tid === String(pid) ? 'main' : name;
        out[key] = (out[key] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        /* thread gone */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The group-commit counts from the master's last "group commit" log line, if it wrote one. */
function groupCommitStats(
  stderr: string,
): { batches: number; writes: number; durableBatches: number; writesPerBatch: number } | null {
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => l.includes('"group commit"'));
  if (!line) return null;
  try {
    const j = JSON.parse(line) as { batches: number; writes: number; durableBatches: number };
    return {
      batches: j.batches,
      writes: j.writes,
      durableBatches: j.durableBatches,
      writesPerBatch: round(j.writes / Math.max(1, j.batches)) ?? 0,
    };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'ffwatt-master-load-'));
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(tmp, 'token'), token);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(tmp, 'master.yml'),
    `listen: 127.0.0.1:${port}\ndata: ${join(tmp, 'data')}\ntoken_file: ${join(tmp, 'token')}\nlease_s: 120\nnode_timeout_s: 300\n`,
  );
  const nodeArgs = (process.env.FFWATT_BENCH_MASTER_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  const loadBefore = loadavg();
  if (PIN) pinAll(process.pid, PINNING.generatorCpu);
  const masterArgv = FLOOR
    ? [process.execPath, ...nodeArgs, '--import', 'tsx', join(REPO, 'bench/lib/floor-server.ts'), String(port)]
    : [process.execPath, ...nodeArgs, join(REPO, 'bin/ffwatt.mjs'), 'master', '--config', join(tmp, 'master.yml')];
  const [masterCmd, ...masterCmdArgs] = onMasterCpu(PINNING, masterArgv);
  const master = spawn(masterCmd, masterCmdArgs, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let masterErr = '';
  master.stderr.on('data', (d) => (masterErr = (masterErr + d).slice(-4000)));
  const pool = new Agent({ connections: CONNECTIONS, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const hardStop = setTimeout(
    () => {
      process.stderr.write('master-load: hard time limit reached; stopping\n');
      master.kill('SIGKILL');
      process.exit(1);
    },
    (SECONDS + 300) * 1000,
  );
  hardStop.unref();

  const call = async (method: 'GET' | 'POST', path: string, tok: string, body?: unknown) => {
    const res = await request(`${base}/api/v1${path}`, {
      method,
      dispatcher: pool,
      headers: {
        authorization: `Bearer ${tok}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  };

  try {
    for (let i = 0; ; i++) {
      if (master.exitCode !== null) throw new Error(`master exited ${master.exitCode}: ${masterErr}`);
      try {
        const r = await request(`${base}/readyz`, { dispatcher: pool });
        await r.body.text();
        if (r.statusCode === 200) break;
      } catch {
        /* not up yet */
      }
      if (i > 150) throw new Error(`master did not start: ${masterErr}`);
      await sleep(200);
    }

    const tSubmit = performance.now();
    const sub = await call('POST', '/campaigns', token, {
      matrix: loadMatrix(JOBS),
      fileName: 'master-load.yml',
      seed: 1,
      placement: 'any',
    });
    if (sub.status !== 201) throw new Error(`campaign refused: ${JSON.stringify(sub.body)}`);
    const submitMs = performance.now() - tSubmit;

    // Registration: all agents, at most 64 at a time.
    const nodeTokens: string[] = new Array(AGENTS);
    const registerMs: number[] = [];
    const tReg = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(64, AGENTS) }, async () => {
        while (next < AGENTS) {
          const i = next++;
          const t = performance.now();
          const r = await call('POST', '/nodes/register', token, {
            id: `sim-${i}`,
            hostname: `sim-${i}`,
            encoders: { h264: 'libx264' },
            labels: ['simulated'],
          });
          registerMs.push(performance.now() - t);
          if (r.status !== 201) throw new Error(`register sim-${i}: HTTP ${r.status}`);
          nodeTokens[i] = r.body.token;
        }
      }),
    );
    const registrationS = (performance.now() - tReg) / 1000;

    // Figures count only the steady window: after --warmup-s (JIT, connection set-up, the first
    // claims of every agent at once) until the end.
    const claimMs: number[] = [];
    const jobClaimMs: number[] = [];
    const resultMs: number[] = [];
    const heartbeatMs: number[] = [];
    const leaseMs: number[] = [];
    const counts = {
      claims: 0,
      claimed: 0,
      empty: 0,
      stored: 0,
      duplicate: 0,
      stale: 0,
      errors: 0,
      heartbeats: 0,
      leaseExtensions: 0,
    };
    const errors = new Map<string, number>();
    const noteError = (e: unknown) => {
      counts.errors++;
      const k = String((e as Error).message ?? e).slice(0, 120);
      errors.set(k, (errors.get(k) ?? 0) + 1);
    };
    let rssPeakKb = 0;
    const rssTimer = setInterval(() => (rssPeakKb = Math.max(rssPeakKb, rssKb(master.pid!, 'VmRSS') ?? 0)), 250);

    const tStart = performance.now();
    const tSteady = tStart + WARMUP_S * 1000;
    const deadline = tSteady + SECONDS * 1000;
    let cpu0: number | null = null;
    let generatorCpu0: number | null = null;
    let threads0: Record<string, number> = {};
    const steadyTimer = setTimeout(() => {
      cpu0 = cpuSeconds(master.pid!);
      generatorCpu0 = cpuSeconds(process.pid);
      threads0 = threadCpu(master.pid!);
    }, WARMUP_S * 1000);
    const steady = () => performance.now() >= tSteady;
    const timed = async <T>(into: number[], f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const counted = steady();
      const r = await f();
      if (counted) into.push(performance.now() - t);
      return r;
    };
    const count = (k: keyof typeof counts) => {
      if (steady()) counts[k]++;
    };
    const claimPath = `/jobs/claim${CLAIM_WAIT_S > 0 ? `?wait_s=${CLAIM_WAIT_S}` : ''}`;
    const simAgent = async (i: number) => {
      const id = `sim-${i}`;
      const tok = nodeTokens[i];
      // Spread the start over one poll interval (realistic: over one job length), as real agents would be.
      await sleep(Math.random() * (REALISTIC ? Math.max(JOB_S, 1) * 1000 : POLL_MS));
      // Heartbeats run on their own timer, as in the agent (agent/cli.ts).
      const beat = async () => {
        try {
          const hb = await timed(heartbeatMs, () => call('POST', `/nodes/${id}/heartbeat`, tok, {}));
          if (hb.status !== 200) throw new Error(`heartbeat HTTP ${hb.status}`);
          count('heartbeats');
        } catch (err) {
          noteError(err);
        }
      };
      const beats: Promise<void>[] = [];
      let beatTimer: NodeJS.Timeout = setTimeout(() => {
        beats.push(beat());
        beatTimer = setInterval(() => beats.push(beat()), HEARTBEAT_MS);
      }, Math.random() * HEARTBEAT_MS);
      try {
        while (performance.now() < deadline) {
          try {
            const t = performance.now();
            const counted = steady();
            const c = await call('POST', claimPath, tok, { nodeId: id });
            const ms = performance.now() - t;
            if (counted) {
              claimMs.push(ms);
              if (c.status === 200) jobClaimMs.push(ms);
            }
            count('claims');
            if (c.status === 204) {
              count('empty');
              // A long poll already waited; a short claim sleeps before asking again.
              if (CLAIM_WAIT_S === 0) await sleep(POLL_MS * (0.5 + Math.random()));
              continue;
            }
            if (c.status !== 200) throw new Error(`claim HTTP ${c.status}`);
            count('claimed');
            const jobMs = REALISTIC ? Math.max(0, JOB_S + (2 * Math.random() - 1) * JOB_JITTER_S) * 1000 : JOB_MS;
            if (jobMs > 0) {
              // Lease extensions every --lease-extend-s while the job runs, as the agent's worker does.
              const ends = performance.now() + jobMs;
              while (performance.now() < ends) {
                await sleep(Math.min(LEASE_EXTEND_MS, ends - performance.now()));
                if (performance.now() >= ends || performance.now() >= deadline) break;
                const l = await timed(leaseMs, () =>
                  call('POST', `/jobs/${c.body.id}/lease`, tok, {
                    nodeId: id,
                    attempt: c.body.attempts,
                    leaseId: c.body.leaseId,
                  }),
                );
                if (l.status !== 200) throw new Error(`lease HTTP ${l.status}`);
                count('leaseExtensions');
              }
              if (performance.now() >= deadline) break;
            }
            const r = await timed(resultMs, () =>
              call('POST', `/jobs/${c.body.id}/result`, tok, {
                record: simulatedRecord(c.body.id, c.body.attempts, id),
                idle: null,
                leaseId: c.body.leaseId,
              }),
            );
            if (r.status === 201) count('stored');
            else if (r.status === 200) count('duplicate');
            else if (r.status === 409) count('stale');
            else throw new Error(`result HTTP ${r.status}`);
          } catch (err) {
            noteError(err);
            await sleep(POLL_MS);
          }
        }
      } finally {
        clearTimeout(beatTimer);
        clearInterval(beatTimer);
        await Promise.all(beats);
      }
    };
    await Promise.all(Array.from({ length: AGENTS }, (_, i) => simAgent(i)));
    clearTimeout(steadyTimer);
    const elapsedS = (performance.now() - tSteady) / 1000;
    const cpu1 = cpuSeconds(master.pid!);
    const generatorCpu1 = cpuSeconds(process.pid);
    const threads1 = threadCpu(master.pid!);
    const masterCpuS = cpu0 != null && cpu1 != null ? cpu1 - cpu0 : null;
    // The load generator's own CPU over the same window: near a whole core, it bounds the
    // throughput and the latencies as much as the master does.
    const generatorCpuS = generatorCpu0 != null && generatorCpu1 != null ? generatorCpu1 - generatorCpu0 : null;
    // Where the master's CPU went by thread (main: the event loop; the rest: V8 and libuv helpers).
    const byThread = Object.fromEntries(
      Object.entries(threads1)
        .map(([k, v]) => [k, round(v - (threads0[k] ?? 0))])
        .filter(([, v]) => (v as number) > 0),
    );
    const requests =
      counts.claims + counts.stored + counts.duplicate + counts.stale + counts.heartbeats + counts.leaseExtensions;
    clearInterval(rssTimer);
    const rssNowKb = rssKb(master.pid!, 'VmRSS');
    const rssHwmKb = rssKb(master.pid!, 'VmHWM');
    const pinning = pinningRecord(PINNING, master.pid!);
    // The physical cost of one durable commit on this disk, measured now (same run, same disk).
    mkdirSync(join(tmp, 'data'), { recursive: true });
    const commitCost = measureCommitCost(join(tmp, 'data'));
    const loadAfter = loadavg();

    // The floor server stores nothing: its integrity figures are the generator's own counts.
    let runs = { n: counts.stored, jobs: counts.stored };
    let jobStates: Record<string, number> = {};
    if (!FLOOR) {
      const db = new Database(join(tmp, 'data', 'ffwatt.sqlite'), { readonly: true });
      runs = db.prepare('SELECT COUNT(*) n, COUNT(DISTINCT job_id) jobs FROM run').get() as typeof runs;
      jobStates = Object.fromEntries(
        (
          db.prepare('SELECT state, COUNT(*) n FROM job GROUP BY state').all() as Array<{ state: string; n: number }>
        ).map((r) => [r.state, r.n]),
      );
      db.close();
    }

    const out = {
      bench: 'master-load',
      when: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? null,
        node: process.version,
        note: PIN
          ? 'master and load generator pinned to different CPUs (taskset)'
          : 'load generator and master share the CPUs (not pinned)',
      },
      settings: {
        server: FLOOR ? 'floor' : 'master',
        mode: MODE,
        agents: AGENTS,
        seconds: SECONDS,
        warmupS: WARMUP_S,
        jobs: JOBS,
        pollMs: POLL_MS,
        heartbeatS: HEARTBEAT_MS / 1000,
        claimWaitS: CLAIM_WAIT_S,
        jobMs: REALISTIC ? null : JOB_MS,
        jobS: REALISTIC ? JOB_S : null,
        jobJitterS: REALISTIC ? JOB_JITTER_S : null,
        leaseExtendS: REALISTIC ? LEASE_EXTEND_MS / 1000 : null,
        connections: CONNECTIONS,
        tls: false,
      },
      pinning,
      loadAverage: { before: loadBefore.map((x) => round(x)), after: loadAfter.map((x) => round(x)) },
      campaignSubmitMs: round(submitMs),
      registration: {
        seconds: round(registrationS),
        perSecond: round(AGENTS / registrationS, 1),
        latency: latency(registerMs),
      },
      elapsedS: round(elapsedS),
      throughput: {
        claimsPerS: round(counts.claims / elapsedS, 1),
        resultsStoredPerS: round(counts.stored / elapsedS, 1),
        requestsPerS: round(requests / elapsedS, 1),
      },
      counts,
      // Contention-independent cost: master CPU per request and per job cycle (claim + result).
      masterCpu: {
        seconds: round(masterCpuS),
        utilization: round(masterCpuS != null ? masterCpuS / elapsedS : null, 4),
        msPerRequest: round(masterCpuS != null && requests ? (masterCpuS * 1000) / requests : null, 3),
        msPerStoredResult: round(masterCpuS != null && counts.stored ? (masterCpuS * 1000) / counts.stored : null),
        secondsByThread: byThread,
      },
      generatorCpu: {
        seconds: round(generatorCpuS),
        utilization: round(generatorCpuS != null ? generatorCpuS / elapsedS : null, 4),
      },
      // claim: every claim (a long poll that found nothing counts its whole wait); claimWithJob: claims answered with a job.
      latency: {
        claim: latency(claimMs),
        claimWithJob: latency(jobClaimMs),
        result: latency(resultMs),
        heartbeat: latency(heartbeatMs),
        lease: latency(leaseMs),
      },
      commitCost: {
        fullWallMs: round(commitCost.fullWallMs, 3),
        fullCpuMs: round(commitCost.fullCpuMs, 3),
        normalWallMs: round(commitCost.normalWallMs, 3),
        normalCpuMs: round(commitCost.normalCpuMs, 3),
        commits: commitCost.commits,
      },
      groupCommit: null as unknown,
      integrity: { runsStored: runs.n, distinctJobsWithRuns: runs.jobs, storedAnswers: counts.stored, jobStates },
      masterRss: {
        peakSampledMiB: round(rssPeakKb / 1024, 1),
        endMiB: round((rssNowKb ?? 0) / 1024, 1),
        highWaterMiB: round((rssHwmKb ?? 0) / 1024, 1),
      },
      errors: Object.fromEntries(errors),
    };
    // The master logs its group-commit counts when it stops (master/server.ts).
    master.kill('SIGTERM');
    await new Promise((r) =>
      master.exitCode !== null || master.signalCode !== null ? r(null) : master.once('exit', r),
    );
    out.groupCommit = groupCommitStats(masterErr);
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    // Nothing twice (one run per job) and nothing lost (every 201 is in the database; a result whose
    // answer timed out on the client may be stored without the generator counting it).
    if (runs.n !== runs.jobs || runs.n < counts.stored) process.exitCode = 1;
  } finally {
    master.kill('SIGTERM');
    await new Promise((r) =>
      master.exitCode !== null || master.signalCode !== null ? r(null) : master.once('exit', r),
    );
    await pool.close();
    rmSync(tmp, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
}

await main();
