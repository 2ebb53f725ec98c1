// Benchmark (not a test): does /metrics stall the queue? One `ffwatt master` process on loopback
// over a database holding --runs stored runs; simulated agents claim and post results in a loop,
// first alone, then while --scrapers concurrent clients scrape /metrics back to back.
// Prints one JSON document: claim latency p50/p99 in both phases, scrapes served, master CPU and
// the load generator's own CPU.
//
//   npx tsx bench/metrics-vs-claims.ts --runs 100000 --scrapers 64 --seconds 20
//
// With 2 or more CPUs the master runs on one (--master-cpu) and the load generator, agents and
// scrapers alike, on another (--generator-cpu), as bench/master-load.ts does. Scrapers ask for
// gzip as Prometheus does (`Accept-Encoding: gzip`) and count the bytes without inflating them:
// Prometheus inflates on its own machine, and one generator core inflating 64 back-to-back
// scrapes would measure the generator, not the master. A generator busy ≥ 90 % of its core in a
// phase is reported (generatorSaturated): its latencies then bound the generator too.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freeLoopbackPort } from '../core/net.ts';
import type { CampaignPlan, Scenario } from '../core/types.ts';
import { JobQueue } from '../master/queue.ts';
import { Store } from '../store/store.ts';
import { bounded, parseArgsOrExit } from './lib/args.ts';
import { procCpu } from './lib/cpu.ts';
import { simulatedRecord } from './lib/master-shapes.ts';
import { onMasterCpu, PIN_FLAGS, pinAll, pinningFrom, pinningRecord } from './lib/pin.ts';

const REPO = resolve(import.meta.dirname, '..');
const { values: args } = parseArgsOrExit(
  process.argv.slice(2),
  {
    runs: { type: 'string', default: '100000' },
    scrapers: { type: 'string', default: '64' },
    agents: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '20' },
    'metrics-interval-s': { type: 'string', default: '15' },
    /** Keep (or reuse) the populated database here: populating 100k runs takes minutes on a small box. */
    data: { type: 'string' },
    ...PIN_FLAGS,
  },
  false,
);
const PINNING = pinningFrom(args);
const RUNS = bounded('runs', args.runs!, 1000, 1_000_000);
const SCRAPERS = bounded('scrapers', args.scrapers!, 0, 1024);
const AGENTS = bounded('agents', args.agents!, 1, 1000);
const SECONDS = bounded('seconds', args.seconds!, 2, 600);
const INTERVAL_S = bounded('metrics-interval-s', args['metrics-interval-s']!, 0.1, 3600);

const round = (x: number | null, d = 2) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);
function latency(ms: number[]) {
  const s = ms.slice().sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : null);
  return { count: s.length, p50Ms: round(at(50)), p99Ms: round(at(99)), maxMs: round(s.at(-1) ?? null) };
}

function scenario(i: number): Scenario {
  const res = { width: 320, height: 240 };
  return {
    key: `bench${String(i).padStart(7, '0')}`,
    label: `file h264/ultrafast crf${i % 52} 240p30 x1 #${i}`,
    mode: 'file',
    input: { kind: 'synthetic', source: 'testsrc2', resolution: res, fps: 30 },
    codec: 'h264',
    preset: 'ultrafast',
    rate: { kind: 'crf', value: i % 52 },
    streams: 1,
    warmupS: 0,
    durationS: 1,
    outputs: [{ resolution: res, fps: 30 }],
  };
}

/** A database with RUNS stored runs (1000 scenarios × RUNS/1000 repetitions) and a queue to claim from. */
function populate(path: string): void {
  const store = Store.open(path);
  const queue = new JobQueue(store);
  const plan = (name: string, scenarios: number, reps: number): CampaignPlan => ({
    name,
    matrixText: name,
    matrixHash: name,
    matrixFormat: 'native',
    repetitions: { min: reps, max: reps, ciHalfwidthPct: 50 },
    cooldownS: 0,
    idleBaselineS: 0,
    seed: 1,
    scenarios: Array.from({ length: scenarios }, (_, i) => scenario(i)),
  });
  queue.registerNode({
    id: 'history',
    hostname: 'history',
    hardware: {},
    encoders: { h264: 'libx264' },
    meters: [],
    labels: [],
  });
  const { campaignId } = queue.createCampaign(plan('history', 1000, Math.ceil(RUNS / 1000)));
  const now = Date.now();
  store.tx(() => {
    const jobs = store.db
      .prepare('SELECT job.id, job.campaign_id campaignId, job.scenario_id scenarioId FROM job WHERE campaign_id = ?')
      .all(campaignId) as Array<{ id: string; campaignId: string; scenarioId: number }>;
    let i = 0;
    for (const j of jobs) store.insertRun(simulatedRecord(j.id, 1, 'history', 5 + (i++ % 20)), j, now, randomUUID());
    store.db
      .prepare("UPDATE job SET state = 'succeeded', attempts = 1, finished_at = ? WHERE campaign_id = ?")
      .run(now, campaignId);
  });
  store.setCampaignStatus(campaignId, 'done');
  queue.createCampaign(plan('queue', 1000, 100)); // 100,000 queued jobs to claim
  store.close();
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'ffwatt-bench-metrics-'));
  const dataDir = args.data ? resolve(args.data) : join(tmp, 'data');
  const dbFile = join(dataDir, 'ffwatt.sqlite');
  const t0 = performance.now();
  const reused = existsSync(dbFile);
  if (!reused) populate(dbFile);
  const populateS = (performance.now() - t0) / 1000;
  const admin = randomBytes(24).toString('hex');
  writeFileSync(join(tmp, 'admin'), admin);
  const port = await freeLoopbackPort();
  writeFileSync(
    join(tmp, 'master.yml'),
    `listen: 127.0.0.1:${port}\ndata: ${dataDir}\ntoken_file: ${join(tmp, 'admin')}\nlease_s: 300\nnode_timeout_s: 600\nmetrics_interval_s: ${INTERVAL_S}\n`,
  );
  if (PINNING.on) pinAll(process.pid, PINNING.generatorCpu);
  const [masterCmd, ...masterArgs] = onMasterCpu(PINNING, [
    process.execPath,
    join(REPO, 'bin/ffwatt.mjs'),
    'master',
    '--config',
    join(tmp, 'master.yml'),
  ]);
  const master = spawn(masterCmd, masterArgs, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  master.stderr!.on('data', (d) => (stderr += d));
  const base = `http://127.0.0.1:${port}`;
  const pool = new Agent({ connections: 256 });
  const call = async (method: 'GET' | 'POST', path: string, token?: string, body?: unknown) => {
    const r = await request(base + path, {
      method,
      dispatcher: pool,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.body.text();
    return {
      status: r.statusCode,
      body: text && r.headers['content-type']?.toString().includes('json') ? JSON.parse(text) : text,
    };
  };
  /** One scrape as Prometheus sends it (gzip accepted): its gzip bytes, counted and not inflated. */
  const scrape = async (): Promise<Buffer> => {
    const r = await request(`${base}/metrics`, {
      method: 'GET',
      dispatcher: pool,
      headers: { 'accept-encoding': 'gzip' },
    });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    if (r.statusCode !== 200) throw new Error(`scrape: HTTP ${r.statusCode}`);
    if (r.headers['content-encoding'] !== 'gzip')
      throw new Error(`scrape: asked for gzip, got content-encoding ${r.headers['content-encoding'] ?? 'none'}`);
    return bytes;
  };
  try {
    // Ready within 60 s (the master opens the filled database and starts its metrics thread).
    for (let i = 0; ; i++) {
      if (master.exitCode !== null) throw new Error(`master exited: ${stderr}`);
      try {
        if ((await call('GET', '/readyz')).status === 200) break;
      } catch {
        /* not yet */
      }
      if (i >= 300) throw new Error(`the master did not answer /readyz within 60 s: ${stderr.slice(-2000)}`);
      await sleep(200);
    }
    const tokens: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const r = await call('POST', '/api/v1/nodes/register', admin, {
        id: `sim-${i}`,
        hostname: `sim-${i}`,
        encoders: { h264: 'libx264' },
      });
      if (r.status !== 201) throw new Error(`register: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      tokens.push(r.body.token);
    }
    // The first scrape builds the text (the only one that waits for the aggregate).
    const firstScrapeT = performance.now();
    const firstGzip = await scrape();
    const firstScrapeMs = performance.now() - firstScrapeT;
    // The scrapers count gzip bytes without inflating them: check once that they are the whole text.
    const plain = String((await call('GET', '/metrics')).body);
    const inflated = gunzipSync(firstGzip).toString('utf8');
    if (inflated !== plain)
      throw new Error(
        `the gzip /metrics (${inflated.length} characters inflated) is not the plain one (${plain.length} characters)`,
      );
    if (!plain.includes('ffwatt_')) throw new Error(`/metrics holds no ffwatt series: ${plain.slice(0, 200)}`);

    async function phase(scrapers: number, seconds: number) {
      const end = performance.now() + seconds * 1000;
      const claimMs: number[] = [];
      const scrapeMs: number[] = [];
      let stored = 0;
      let scrapeBytes = 0;
      const cpu0 = procCpu(master.pid!).self;
      const gen0 = procCpu('self').self;
      const t0 = performance.now();
      const agents = tokens.map(async (tok, i) => {
        const id = `sim-${i}`;
        while (performance.now() < end) {
          const t = performance.now();
          const c = await call('POST', '/api/v1/jobs/claim', tok, { nodeId: id });
          claimMs.push(performance.now() - t);
          if (c.status !== 200) throw new Error(`claim: HTTP ${c.status}`);
          const r = await call('POST', `/api/v1/jobs/${c.body.id}/result`, tok, {
            record: simulatedRecord(c.body.id, c.body.attempts, id, 7),
            idle: null,
            leaseId: c.body.leaseId,
          });
          if (r.status !== 201) throw new Error(`result: HTTP ${r.status} ${JSON.stringify(r.body)}`);
          stored++;
        }
      });
      const scrapes = Array.from({ length: scrapers }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          const bytes = (await scrape()).length; // not `+= await`: that reads the sum before waiting
          scrapeBytes += bytes;
          scrapeMs.push(performance.now() - t);
        }
      });
      await Promise.all([...agents, ...scrapes]);
      const wallS = (performance.now() - t0) / 1000;
      const generatorCpuS = procCpu('self').self - gen0;
      return {
        scrapers,
        claim: latency(claimMs),
        scrape: latency(scrapeMs),
        scrapeKiB: scrapeMs.length ? round(scrapeBytes / scrapeMs.length / 1024, 1) : null,
        resultsStored: stored,
        wallS: round(wallS),
        masterCpuS: round(procCpu(master.pid!).self - cpu0),
        generatorCpuS: round(generatorCpuS),
        generatorSaturated: generatorCpuS / wallS >= 0.9,
      };
    }
    const alone = await phase(0, SECONDS);
    const scraped = await phase(SCRAPERS, SECONDS);
    process.stdout.write(
      JSON.stringify(
        {
          bench: 'metrics-vs-claims',
          machine: { cpus: cpus().length, model: cpus()[0]?.model, load1AtEnd: round(loadavg()[0], 1) },
          reusedDatabase: reused,
          storedRuns: RUNS,
          populateS: round(populateS, 1),
          metricsIntervalS: INTERVAL_S,
          agents: AGENTS,
          seconds: SECONDS,
          firstScrapeMs: round(firstScrapeMs),
          metricsKiB: { plain: round(plain.length / 1024, 1), gzip: round(firstGzip.length / 1024, 1) },
          pinning: pinningRecord(PINNING, master.pid!),
          alone,
          withScrapers: scraped,
          claimP99Below50Ms: (scraped.claim.p99Ms ?? Infinity) < 50,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    if (master.exitCode === null && master.signalCode === null) {
      master.kill('SIGTERM');
      await new Promise((r) => master.once('exit', r));
    }
    await pool.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
