// Benchmark (not a test): generates SYNTHETIC results databases of 10k / 100k / 1M runs and
// times report generation (all four formats) in a fresh child process per size, printing
// one JSON document with wall time and peak RSS.
//   npx tsx bench/analyzer-scale.ts [--sizes 10000,100000,1000000] [--dir bench/out/analyzer] [--keep] [--reuse]
// --keep leaves each database in --dir; --reuse times the report on a database kept there by an
// earlier --keep run (same size), skipping its generation (minutes at 1M runs), and keeps it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store, setupKey } from '../store/store.ts';
import { planOf, type FixtureCell } from '../analyzers/fixture-db.ts';
import { writeReports } from '../analyzers/report.ts';
import { bounded, parseArgsOrExit } from './lib/args.ts';

const CODECS: Array<[FixtureCell['codec'], string, string[]]> = [
  ['h264', 'libx264', ['ultrafast', 'veryfast', 'fast', 'medium', 'slow']],
  ['hevc', 'libx265', ['ultrafast', 'veryfast', 'fast', 'medium', 'slow']],
  ['av1', 'libsvtav1', ['12', '10', '8', '6', '4']],
  ['vp9', 'libvpx-vp9', ['rt5', 'rt3', 'good2', 'good1', 'good0']],
];
const RATES = [250e3, 400e3, 600e3, 800e3, 1.2e6, 1.6e6, 2.4e6, 3.2e6, 4.8e6, 6.4e6];
const STREAMS = [1, 2, 4, 8, 16];

/** 1000 scenarios (4 codecs × 5 presets × 10 rates × 5 stream counts), runs spread evenly over 10 jobs each. */
export function generate(path: string, runs: number): { scenarios: number; runs: number; generateMs: number } {
  const t0 = performance.now();
  rmSync(path, { force: true });
  const cells: FixtureCell[] = [];
  for (const [codec, encoder, presets] of CODECS)
    for (const preset of presets)
      for (const rate of RATES)
        for (const streams of STREAMS)
          cells.push({
            codec,
            encoder,
            preset,
            rate: { kind: 'bitrate', value: rate },
            runs: [],
            jPerMin: 0,
            vmaf: 0,
            psnr: 0,
            ssim: 0,
            speed: 0,
            bitrateBps: 0,
            idleW: 8,
            flags: [[String(streams)]],
          });
  const plan = planOf('scale', cells);
  plan.scenarios.forEach((s, i) => {
    s.streams = Number(cells[i].flags![0][0]);
    s.key += `-x${s.streams}`;
    s.label = s.label.replace(/x1$/, `x${s.streams}`);
  });
  const store = Store.open(path);
  const jobsPer = 10;
  const attempts = Math.max(1, Math.ceil(runs / (cells.length * jobsPer)));
  store.tx(() => {
    store.insertCampaign('c-scale', plan, Date.UTC(2026, 0, 1));
    store.insertIdleBaseline({
      campaignId: 'c-scale',
      nodeId: 'node-a',
      measuredAt: Date.UTC(2026, 0, 1),
      seconds: 30,
      totalW: 8,
      source: 'rapl',
      zones: [],
    });
    let seq = 0;
    for (const s of plan.scenarios) {
      const id = store.insertScenario('c-scale', s);
      for (let r = 1; r <= jobsPer; r++)
        store.insertJob({
          id: `j-${id}-${r}`,
          campaignId: 'c-scale',
          scenarioId: id,
          repetition: r,
          priority: 0,
          queueClass: 'default',
          seq: ++seq,
          maxAttempts: attempts,
          nodeConstraint: [],
          cooldownS: 0,
          createdAt: 0,
        });
    }
  });
  const provenanceObj = {
    ffmpegVersion: '5.1.6',
    ffmpegBuildconfHash: 'x',
    argv: [],
    inputDescription: 'testsrc2',
    inputHash: null,
    kernel: '6.1.0',
    cpuModel: 'Synthetic CPU',
    cores: 8,
    gpu: null,
    governor: 'performance',
    turbo: 'on',
    meters: [{ meter: 'rapl' as const, source: 'rapl' as const, valid: true }],
    encoder: 'x',
  };
  const provenance = JSON.stringify(provenanceObj);
  // The strata columns the store fills on insert (migration 6): no class in this provenance, RAPL energy.
  const setupId = Number(
    store.db.prepare('INSERT INTO run_setup (key) VALUES (?)').run(setupKey(provenanceObj)).lastInsertRowid,
  );
  // Synthetic figures from the scenario's factors plus uniform noise, generated inside SQLite.
  store.db
    .prepare(
      `WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < @attempts),
       base AS (SELECT job.id job_id, job.campaign_id, job.scenario_id, s.rate_value rate, s.streams streams,
                       (s.id % 5) preset_ix, (s.id % 20) codec_ix FROM job JOIN scenario s ON s.id = job.scenario_id),
       gen AS (SELECT base.*, a.i attempt, (abs(random()) % 10000) / 10000.0 u, (abs(random()) % 10000) / 10000.0 v FROM base, a)
       INSERT INTO run (job_id, attempt, campaign_id, scenario_id, node_id, status, started_at, ended_at, wall_s, media_seconds, frames, output_bytes,
         bitrate_bps, fps, speed, energy_source, gross_j, idle_w, net_j, avg_w, peak_w, window_s, j_per_encoded_minute, net_j_per_encoded_minute,
         j_per_frame, j_per_megapixel, psnr, ssim, vmaf, quality_per_joule, flags, provenance, received_at, hardware_class, energy_kind, setup_id)
       SELECT job_id, attempt, campaign_id, scenario_id, 'node-a', CASE WHEN u < 0.01 THEN 'failed' ELSE 'succeeded' END,
         '2026-01-01T00:00:00Z', '2026-01-01T00:00:10Z', 11, 10 * streams, 300 * streams, rate * 10 * streams / 8,
         rate * (0.98 + 0.04 * v), 30 * (1 + preset_ix), 1 + preset_ix, 'rapl',
         (300 + 40 * preset_ix + 20 * codec_ix) * (0.95 + 0.1 * u) * streams / 6, 8, (300 + 40 * preset_ix + 20 * codec_ix) * (0.95 + 0.1 * u) * streams / 6 - 80, 30, 40, 10,
         (300 + 40 * preset_ix + 20 * codec_ix) * (0.95 + 0.1 * u), (300 + 40 * preset_ix + 20 * codec_ix) * (0.95 + 0.1 * u) - 480 / streams,
         1, 1, 30 + 8 * ln(rate / 250000.0) + v, 0.9 + 0.01 * v, 60 + 9 * ln(rate / 250000.0) + preset_ix + v, 1,
         CASE WHEN v < 0.02 THEN '["thermal-throttle"]' ELSE '[]' END, @provenance, 0, 'unclassified', 'measured', @setupId
       FROM gen LIMIT @runs`,
    )
    .run({ attempts, runs, provenance, setupId });
  const count = (store.db.prepare('SELECT COUNT(*) n FROM run').get() as { n: number }).n;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  return { scenarios: cells.length, runs: count, generateMs: Math.round(performance.now() - t0) };
}

/** A database kept by an earlier --keep run: its counts as generate() reports them, generation not repeated. */
function reused(path: string): { scenarios: number; runs: number; generateMs: number } {
  const store = Store.open(path);
  try {
    const n = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
    return { scenarios: n('SELECT COUNT(*) n FROM scenario'), runs: n('SELECT COUNT(*) n FROM run'), generateMs: 0 };
  } finally {
    store.close();
  }
}

async function child(db: string, out: string): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { model } = await writeReports({ db, outDir: out });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process (SQLite runs in it) is steadier than wall time on a shared box.
  process.stdout.write(
    JSON.stringify({
      reportMs: Math.round(ms),
      reportCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      scenarios: model.scenarios.length,
      pairwiseTests: model.comparisons.tests.length,
      curves: model.curves.length,
    }),
  );
}

async function main(argv: string[]): Promise<void> {
  const { values: o, positionals } = parseArgsOrExit(argv, {
    child: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '10000,100000,1000000' },
    dir: { type: 'string', default: join('bench', 'out', 'analyzer') },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  });
  if (o.child) return child(positionals[0], positionals[1]);
  const sizes = o.sizes.split(',').map((s) => bounded('sizes', s, 1, 10_000_000));
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  const results = [];
  for (const size of sizes) {
    const db = join(dir, `runs-${size}.sqlite`);
    const gen = o.reuse && existsSync(db) ? reused(db) : generate(db, size);
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', db, join(dir, `report-${size}`)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`report of ${size} runs failed: ${r.stderr}`);
    results.push({
      requestedRuns: size,
      ...gen,
      dbMiB: Math.round(statSync(db).size / 2 ** 20),
      ...JSON.parse(r.stdout),
    });
    if (!o.keep && !o.reuse) rmSync(db, { force: true });
  }
  process.stdout.write(
    JSON.stringify(
      { benchmark: 'analyzer-scale', node: process.version, cpus: (await import('node:os')).cpus().length, results },
      null,
      2,
    ) + '\n',
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
