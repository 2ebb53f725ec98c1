/**
 * run-all's wrappers of the benchmarks that were written as stand-alone scripts printing JSON
 * (bench/proctree-sample.ts, bench/advisor-trees.ts, bench/metrics-vs-claims.ts): each runs
 * the script unchanged in a child process and turns what it prints into a BenchResult, so the
 * scripts stay runnable alone and their figures reach the table and docs/PERFORMANCE.md.
 *
 *   npx tsx bench/lib/standalone.ts proctree|advisor-trees|metrics-claims [--quick] [--result FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonDoc, runTs } from './child.ts';
import { measure, parseFlags } from './harness.ts';
import { row, target, type BenchBody, type BenchOptions, type BenchResult, type BenchRow } from './result.ts';
import { renderTable } from './table.ts';

interface Standalone {
  title: string;
  script: string;
  args: (quick: boolean) => string[];
  limitS: number;
  /** Rows from the script's stdout; throws naming what is missing. */
  body: (stdout: string, quick: boolean) => Omit<BenchBody, 'title'>;
}

type Json = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const at = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Json)[k] : undefined), o);

function need(doc: unknown, path: string, script: string): number {
  const v = num(at(doc, path));
  if (v === null)
    throw new Error(
      `${script} printed no number at ${path}: its output format changed; update bench/lib/standalone.ts`,
    );
  return v;
}

const PROCTREE_TARGET = target('<=', 300, 'µs');
const CLAIMS_TARGET = target('<', 50, 'ms');

export const STANDALONE: Record<string, Standalone> = {
  proctree: {
    title: 'Process-tree sample',
    script: 'bench/proctree-sample.ts',
    args: (quick) => ['--samples', quick ? '100' : '400'],
    limitS: 120,
    body(stdout) {
      const d = jsonDoc<Json>(stdout);
      const s = 'bench/proctree-sample.ts';
      const walk = need(d, 'cpuUsPerSample.descendantsWalk', s);
      const scan = need(d, 'cpuUsPerSample.fullScan', s);
      return {
        method: `bench/proctree-sample.ts: ProcTreeMonitor.sample() (energy/proctree.ts) on a tree of bash → sleep + node with a worker thread → sleep (${at(d, 'treeProcesses')} processes, ${at(d, 'treeThreads')} threads; ${at(d, 'processesOnBox')} processes on the box), the job's descendants walked through /proc/<pid>/task/<tid>/children against the old scan of every /proc/<pid>/stat, interleaved in 10 rounds of ${at(d, 'samplesEach')} samples each; CPU time of the benchmark process per sample.`,
        rows: [
          row("one process-tree sample, job's own descendants, CPU", walk, 'µs', {
            target: PROCTREE_TARGET,
            key: 'proctree-sample',
          }),
          row('one process-tree sample, scan of every process (the old walk), CPU', scan, 'µs'),
        ],
        details: d ?? {},
        notes:
          walk <= PROCTREE_TARGET.value
            ? []
            : [
                `A sample walking the job's ${at(d, 'treeProcesses')} processes (${at(d, 'treeThreads')} threads) cost ${walk} µs of CPU (the old scan of all ${at(d, 'processesOnBox')} processes: ${scan} µs).`,
              ],
      };
    },
  },
  'advisor-trees': {
    title: 'Advisor ensemble size',
    script: 'bench/advisor-trees.ts',
    args: () => [],
    limitS: 300,
    body(stdout) {
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Json);
      const by = new Map(lines.map((l) => [String(l.label), l]));
      const s = 'bench/advisor-trees.ts';
      const rows: BenchRow[] = [];
      const e2e = by.get('predict e2e shipped');
      if (!e2e)
        throw new Error(
          `${s} printed no "predict e2e shipped" line: its output format changed; update bench/lib/standalone.ts`,
        );
      rows.push(
        row('100k predictions end to end, shipped model: wall', need(e2e, 'wallMs', s) / 1000, 's'),
        row('100k predictions end to end, shipped model: CPU', need(e2e, 'cpuMs', s) / 1000, 's'),
      );
      const enc = by.get('encode');
      if (enc) rows.push(row('100k rows, feature encoding only: CPU', need(enc, 'cpuMs', s) / 1000, 's'));
      for (const l of lines) {
        if (!('sessionRunCpuMs' in l)) continue;
        rows.push(
          row(`session.run on 100k rows, ${String(l.label)}: CPU (wall)`, need(l, 'sessionRunCpuMs', s) / 1000, 's', {
            display: `${need(l, 'sessionRunCpuMs', s) / 1000} s (${need(l, 'sessionRunWallMs', s) / 1000} s)`,
          }),
        );
      }
      return {
        method:
          'bench/advisor-trees.ts: one OnnxAdvisor.predict of 100,000 candidates end to end, the feature encoding alone, and onnxruntime session.run (median of 3) on the shipped ensemble with default / 1 / 2 intra-op threads and on copies cut to the first K trees per target. The cut copies only show how session.run scales with the tree count: they are not valid models.',
        rows,
        details: { lines },
        notes: [],
      };
    },
  },
  'metrics-claims': {
    title: '/metrics vs claims',
    script: 'bench/metrics-vs-claims.ts',
    args: (quick) =>
      quick
        ? ['--runs', '2000', '--scrapers', '4', '--agents', '2', '--seconds', '2']
        : ['--runs', '100000', '--scrapers', '64', '--agents', '16', '--seconds', '15'],
    limitS: 300,
    body(stdout, quick) {
      const d = jsonDoc<Json>(stdout);
      const s = 'bench/metrics-vs-claims.ts';
      const alone = need(d, 'alone.claim.p99Ms', s);
      const scraped = need(d, 'withScrapers.claim.p99Ms', s);
      const scrapers = at(d, 'withScrapers.scrapers');
      const agents = at(d, 'agents');
      const seconds = at(d, 'seconds');
      const rows = [
        row(`${agents} agents alone: claim p50 / p99`, alone, 'ms', {
          display: `${need(d, 'alone.claim.p50Ms', s)} / ${alone} ms (${at(d, 'alone.claim.count')} claims)`,
        }),
        row(`${agents} agents + ${scrapers} scrapers: claim p99`, scraped, 'ms', { target: CLAIMS_TARGET }),
        row(`${agents} agents + ${scrapers} scrapers: claim p50`, need(d, 'withScrapers.claim.p50Ms', s), 'ms', {
          display: `${need(d, 'withScrapers.claim.p50Ms', s)} ms (${at(d, 'withScrapers.claim.count')} claims)`,
        }),
        row(`${scrapers} scrapers: scrape p50 / p99`, need(d, 'withScrapers.scrape.p99Ms', s), 'ms', {
          display: `${need(d, 'withScrapers.scrape.p50Ms', s)} / ${need(d, 'withScrapers.scrape.p99Ms', s)} ms (${at(d, 'withScrapers.scrape.count')} scrapes)`,
        }),
        row('master CPU, alone / with scrapers', need(d, 'withScrapers.masterCpuS', s), 's', {
          display: `${need(d, 'alone.masterCpuS', s)} / ${need(d, 'withScrapers.masterCpuS', s)} s in ${seconds} s each`,
        }),
        row('load generator CPU, alone / with scrapers', need(d, 'withScrapers.generatorCpuS', s), 's', {
          display: `${need(d, 'alone.generatorCpuS', s)} / ${need(d, 'withScrapers.generatorCpuS', s)} s in ${seconds} s each`,
        }),
        row('/metrics body, gzip (as scraped) / plain', need(d, 'metricsKiB.gzip', s), 'KiB', {
          display: `${need(d, 'metricsKiB.gzip', s)} / ${need(d, 'metricsKiB.plain', s)} KiB`,
        }),
        row('first scrape (builds the cached text)', need(d, 'firstScrapeMs', s), 'ms'),
      ];
      const pinned = at(d, 'pinning') !== null && at(d, 'pinning') !== undefined;
      const wallS = need(d, 'withScrapers.wallS', s);
      const masterBusyPct = (100 * need(d, 'withScrapers.masterCpuS', s)) / wallS;
      const scrapesPerS = (num(at(d, 'withScrapers.scrape.count')) ?? 0) / wallS;
      const notes: string[] = [];
      if (at(d, 'alone.generatorSaturated') === true || at(d, 'withScrapers.generatorSaturated') === true)
        notes.push(
          `The load generator was busy 90 % of its core or more in a phase (${need(d, 'alone.generatorCpuS', s)} / ${need(d, 'withScrapers.generatorCpuS', s)} s of CPU in ${seconds} s): its latencies bound the generator as much as the master.`,
        );
      if (scraped >= CLAIMS_TARGET.value)
        notes.push(
          `With ${scrapers} scrapers the claim p99 was ${scraped} ms (${alone} ms without them). The master was busy ${masterBusyPct.toFixed(0)} % of its core${pinned ? ' (pinned)' : ''}, answering ${scrapesPerS.toFixed(0)} scrapes a second back to back (${need(d, 'metricsKiB.gzip', s)} KiB of prebuilt gzip each) beside the claims and results: claims wait behind scrapes on the one event loop. A Prometheus server scrapes once per interval (15 s by default), so 64 of them send about 4 scrapes a second.`,
        );
      return {
        method: `bench/metrics-vs-claims.ts${quick ? ' (--quick sizes)' : ''}: \`ffwatt master\` on 127.0.0.1 over a database filled with ${at(d, 'storedRuns')} stored runs (1,000 scenarios) and 100,000 queued jobs; ${agents} simulated agents claim and post a result in a loop for ${seconds} s, first alone, then while ${scrapers} clients scrape /metrics back to back. ${pinned ? 'The master runs on one CPU and the load generator (agents and scrapers) on another (taskset). ' : 'The master and the load generator share the CPUs (not pinned). '}Scrapers ask for gzip as Prometheus does and count the bytes without inflating them (the first scrape is inflated once and checked against the plain text). Latency per request, client side; the load generator's own CPU is reported beside the master's.`,
        rows,
        details: d ?? {},
        notes,
      };
    },
  },
};

export async function runStandalone(name: string, opts: BenchOptions): Promise<BenchResult> {
  const b = STANDALONE[name];
  if (!b) throw new Error(`unknown stand-alone benchmark ${name} (names: ${Object.keys(STANDALONE).join(', ')})`);
  return measure(
    name,
    b.title,
    opts,
    async () => {
      const args = b.args(opts.quick);
      opts.log(`${name}: ${b.script} ${args.join(' ')}`);
      const r = await runTs(b.script, args, { timeoutMs: b.limitS * 1000, onStderr: (s) => process.stderr.write(s) });
      if (r.code !== 0)
        throw new Error(
          `${b.script} exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
      return { title: b.title, ...b.body(r.stdout, opts.quick) };
    },
    { label: b.title, unit: '' },
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [name, ...rest] = process.argv.slice(2);
  let flags;
  try {
    if (!name || !STANDALONE[name])
      throw new Error(`first argument: one of ${Object.keys(STANDALONE).join(', ')} (got ${name ?? 'nothing'})`);
    flags = parseFlags(rest);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const result = await runStandalone(name, { quick: flags.quick, log: (m) => process.stderr.write(`[bench] ${m}\n`) });
  process.stdout.write(renderTable([result]) + '\n');
  if (flags.result) {
    mkdirSync(dirname(flags.result), { recursive: true });
    writeFileSync(flags.result, JSON.stringify(result, null, 2) + '\n');
  }
  process.exit(result.error ? 1 : 0);
}
