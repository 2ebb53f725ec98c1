// Load benchmark of the master (not a test): N simulated agents (no FFmpeg) register, heartbeat,
// claim jobs and post results against one `ffwatt master` process on loopback, for a bounded time.
// Prints one JSON document: throughput, p50/p99 latency of claims and result posts, master RSS.
//
//   npx tsx bench/master-load.ts --agents 2000 --seconds 20
//
// The load generator shares the machine with the master: on a small box the figures are a floor.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { bounded } from './lib/args.ts';

const REPO = resolve(import.meta.dirname, '..');

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    jobs: { type: 'string', default: '5000' },
    'poll-ms': { type: 'string', default: '1000' },
    'heartbeat-s': { type: 'string', default: '10' },
    'job-ms': { type: 'string', default: '0' },
    connections: { type: 'string', default: '256' },
  },
});


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

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);
const round = (x: number | null, d = 2) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);
function latency(ms: number[]) {
  const s = ms.slice().sort((a, b) => a - b);
  return { count: s.length, p50Ms: round(percentile(s, 50)), p99Ms: round(percentile(s, 99)), maxMs: round(s.at(-1) ?? null) };
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

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** A matrix of 100 cells (2 presets × 50 CRFs) with enough repetitions for the wanted number of jobs. */
function loadMatrix(jobs: number): string {
  const reps = Math.ceil(jobs / 100);
  return `name: master-load
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: ${reps}, max: ${reps}, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - mode: file
    codec: h264
    preset: [ultrafast, veryfast]
    rate: [${Array.from({ length: 50 }, (_, i) => `{crf: ${i + 1}}`).join(', ')}]
    streams: 1
    warmup_s: 0
    duration_s: 1
`;
}

function simulatedRecord(jobId: string, attempt: number, nodeId: string) {
  const now = new Date();
  const zone = { meter: 'estimate', zone: 'cpu', source: 'estimate', role: 'total', grossJ: 12, idleW: null, netJ: null, avgW: 12, peakW: 14 };
  return {
    jobId, attempt, nodeId, status: 'succeeded', exitCode: 0, signal: null, error: null, stderrTail: '',
    startedAt: now.toISOString(), endedAt: now.toISOString(), wallS: 1, mediaSeconds: 1, frames: 30, outputBytes: 20_000,
    bitrateBps: 160_000, fps: 30, speed: 1, droppedFrames: 0, dupFrames: 0,
    energy: { source: 'estimate', zones: [zone], grossJ: 12, idleW: null, netJ: null, avgW: 12, peakW: 14, windowS: 1, jPerEncodedMinute: 720, netJPerEncodedMinute: null, jPerFrame: 0.4, jPerMegapixel: 5.2 },
    quality: null, flags: ['estimated', 'simulated'],
    provenance: { ffmpegVersion: 'simulated', encoder: 'libx264', argv: [] },
  };
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
  const master = spawn(process.execPath, [...nodeArgs, join(REPO, 'bin/ffwatt.mjs'), 'master', '--config', join(tmp, 'master.yml')], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let masterErr = '';
  master.stderr.on('data', (d) => (masterErr = (masterErr + d).slice(-4000)));
  const pool = new Agent({ connections: CONNECTIONS, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const hardStop = setTimeout(() => {
    process.stderr.write('master-load: hard time limit reached; stopping\n');
    master.kill('SIGKILL');
    process.exit(1);
  }, (SECONDS + 300) * 1000);
  hardStop.unref();

  const call = async (method: 'GET' | 'POST', path: string, tok: string, body?: unknown) => {
    const res = await request(`${base}/api/v1${path}`, {
      method,
      dispatcher: pool,
      headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
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
    const sub = await call('POST', '/campaigns', token, { matrix: loadMatrix(JOBS), fileName: 'master-load.yml', seed: 1 });
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
          const r = await call('POST', '/nodes/register', token, { id: `sim-${i}`, hostname: `sim-${i}`, encoders: { h264: 'libx264' }, labels: ['simulated'] });
          registerMs.push(performance.now() - t);
          if (r.status !== 201) throw new Error(`register sim-${i}: HTTP ${r.status}`);
          nodeTokens[i] = r.body.token;
        }
      }),
    );
    const registrationS = (performance.now() - tReg) / 1000;

    const claimMs: number[] = [];
    const resultMs: number[] = [];
    const heartbeatMs: number[] = [];
    const counts = { claims: 0, claimed: 0, empty: 0, stored: 0, duplicate: 0, stale: 0, errors: 0, heartbeats: 0 };
    const errors = new Map<string, number>();
    const noteError = (e: unknown) => {
      counts.errors++;
      const k = String((e as Error).message ?? e).slice(0, 120);
      errors.set(k, (errors.get(k) ?? 0) + 1);
    };
    let rssPeakKb = 0;
    const rssTimer = setInterval(() => (rssPeakKb = Math.max(rssPeakKb, rssKb(master.pid!, 'VmRSS') ?? 0)), 250);

    const cpu0 = cpuSeconds(master.pid!);
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    const simAgent = async (i: number) => {
      const id = `sim-${i}`;
      const tok = nodeTokens[i];
      // Spread the start over one poll interval, as real agents would be.
      await sleep(Math.random() * POLL_MS);
      let nextBeat = performance.now() + Math.random() * HEARTBEAT_MS;
      while (performance.now() < deadline) {
        try {
          if (performance.now() >= nextBeat) {
            const t = performance.now();
            const hb = await call('POST', `/nodes/${id}/heartbeat`, tok, {});
            heartbeatMs.push(performance.now() - t);
            if (hb.status !== 200) throw new Error(`heartbeat HTTP ${hb.status}`);
            counts.heartbeats++;
            nextBeat += HEARTBEAT_MS;
          }
          const t = performance.now();
          const c = await call('POST', '/jobs/claim', tok, { nodeId: id });
          claimMs.push(performance.now() - t);
          counts.claims++;
          if (c.status === 204) {
            counts.empty++;
            await sleep(POLL_MS * (0.5 + Math.random()));
            continue;
          }
          if (c.status !== 200) throw new Error(`claim HTTP ${c.status}`);
          counts.claimed++;
          if (JOB_MS > 0) await sleep(JOB_MS);
          const tr = performance.now();
          const r = await call('POST', `/jobs/${c.body.id}/result`, tok, { record: simulatedRecord(c.body.id, c.body.attempts, id), idle: null, leaseId: c.body.leaseId });
          resultMs.push(performance.now() - tr);
          if (r.status === 201) counts.stored++;
          else if (r.status === 200) counts.duplicate++;
          else if (r.status === 409) counts.stale++;
          else throw new Error(`result HTTP ${r.status}`);
        } catch (err) {
          noteError(err);
          await sleep(POLL_MS);
        }
      }
    };
    await Promise.all(Array.from({ length: AGENTS }, (_, i) => simAgent(i)));
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu1 = cpuSeconds(master.pid!);
    const masterCpuS = cpu0 != null && cpu1 != null ? cpu1 - cpu0 : null;
    const requests = counts.claims + counts.stored + counts.duplicate + counts.stale + counts.heartbeats;
    clearInterval(rssTimer);
    const rssNowKb = rssKb(master.pid!, 'VmRSS');
    const rssHwmKb = rssKb(master.pid!, 'VmHWM');

    const db = new Database(join(tmp, 'data', 'ffwatt.sqlite'), { readonly: true });
    const runs = db.prepare('SELECT COUNT(*) n, COUNT(DISTINCT job_id) jobs FROM run').get() as { n: number; jobs: number };
    const jobStates = Object.fromEntries((db.prepare('SELECT state, COUNT(*) n FROM job GROUP BY state').all() as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]));
    db.close();

    const out = {
      bench: 'master-load',
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version, note: 'load generator and master share this machine' },
      settings: { agents: AGENTS, seconds: SECONDS, jobs: JOBS, pollMs: POLL_MS, heartbeatS: HEARTBEAT_MS / 1000, jobMs: JOB_MS, connections: CONNECTIONS, tls: false },
      campaignSubmitMs: round(submitMs),
      registration: { seconds: round(registrationS), perSecond: round(AGENTS / registrationS, 1), latency: latency(registerMs) },
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
        utilization: round(masterCpuS != null ? masterCpuS / elapsedS : null),
        msPerRequest: round(masterCpuS != null && requests ? (masterCpuS * 1000) / requests : null),
        msPerStoredResult: round(masterCpuS != null && counts.stored ? (masterCpuS * 1000) / counts.stored : null),
      },
      latency: { claim: latency(claimMs), result: latency(resultMs), heartbeat: latency(heartbeatMs) },
      integrity: { runsStored: runs.n, distinctJobsWithRuns: runs.jobs, storedAnswers: counts.stored, jobStates },
      masterRss: { peakSampledMiB: round(rssPeakKb / 1024, 1), endMiB: round((rssNowKb ?? 0) / 1024, 1), highWaterMiB: round((rssHwmKb ?? 0) / 1024, 1) },
      errors: Object.fromEntries(errors),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    // Nothing twice (one run per job) and nothing lost (every 201 is in the database; a result whose
    // answer timed out on the client may be stored without the generator counting it).
    if (runs.n !== runs.jobs || runs.n < counts.stored) process.exitCode = 1;
  } finally {
    master.kill('SIGTERM');
    await new Promise((r) => (master.exitCode !== null ? r(null) : master.once('exit', r)));
    await pool.close();
    rmSync(tmp, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
}

await main();
