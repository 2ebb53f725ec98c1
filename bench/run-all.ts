/**
 * Runs every benchmark, each in its own child process (a fresh Node, nothing else running in
 * it), prints the table and issue 17's targets table (its "today" figures beside this run's),
 * writes bench/out/results.json and, with --write-doc, regenerates the measured section of
 * docs/PERFORMANCE.md.
 *
 *   npx tsx bench/run-all.ts [--quick] [--write-doc] [--only overhead,sampler,…]
 *   npx tsx bench/run-all.ts --doc-only   (regenerate the doc from the last bench/out/results.json)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runTs } from './lib/child.ts';
import { writeDoc, type RunFile } from './lib/doc.ts';
import { load1 } from './lib/cpu.ts';
import { renderIssueTable } from './lib/issue17.ts';
import { machineInfo } from './lib/machine.ts';
import { missingRow, type BenchResult } from './lib/result.ts';
import { renderTable } from './lib/table.ts';
import { parseArgs } from 'node:util';

/**
 * In run order; limits are per benchmark (full run), so one hung part cannot eat the whole budget.
 * `module` is the benchmark's own script where `file` is the wrapper that runs it (bench/lib/standalone.ts).
 */
const BENCHES: Array<{ name: string; file: string; args?: string[]; module?: string; title: string; limitS: number }> =
  [
    { name: 'overhead', file: 'bench/overhead.ts', title: 'Measurement overhead', limitS: 300 },
    { name: 'sampler', file: 'bench/sampler-cost.ts', title: 'Sampler cost', limitS: 120 },
    {
      name: 'proctree',
      file: 'bench/lib/standalone.ts',
      args: ['proctree'],
      module: 'bench/proctree-sample.ts',
      title: 'Process-tree sample',
      limitS: 120,
    },
    { name: 'master', file: 'bench/master-scale.ts', title: 'Master scale', limitS: 420 },
    {
      name: 'metrics-claims',
      file: 'bench/lib/standalone.ts',
      args: ['metrics-claims'],
      module: 'bench/metrics-vs-claims.ts',
      title: '/metrics vs claims',
      limitS: 300,
    },
    { name: 'exporter', file: 'bench/exporter-scrape.ts', title: 'Exporter scrape', limitS: 90 },
    { name: 'analysis', file: 'bench/analysis.ts', title: 'Analyzer scale', limitS: 420 },
    { name: 'advisor', file: 'bench/advisor.ts', title: 'Advisor inference', limitS: 300 },
    {
      name: 'advisor-trees',
      file: 'bench/lib/standalone.ts',
      args: ['advisor-trees'],
      module: 'bench/advisor-trees.ts',
      title: 'Advisor ensemble size',
      limitS: 300,
    },
    { name: 'peer', file: 'bench/rapl-peer.ts', title: 'RAPL path vs node_exporter', limitS: 120 },
  ];

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        'write-doc': { type: 'boolean', default: false },
        'doc-only': { type: 'boolean', default: false },
        only: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message} (flags: --quick, --write-doc, --doc-only, --only NAME[,NAME…])`);
  }
  const o = {
    quick: values.quick,
    writeDoc: values['write-doc'],
    docOnly: values['doc-only'],
    only: null as string[] | null,
  };
  if (values.only !== undefined) {
    o.only = values.only.split(',').filter(Boolean);
    const unknown = o.only.filter((n) => !BENCHES.some((b) => b.name === n));
    if (unknown.length || !o.only.length)
      throw new Error(
        `--only: unknown benchmark(s) ${unknown.join(', ') || '(none given)'}; names: ${BENCHES.map((b) => b.name).join(', ')}`,
      );
  }
  return o;
}

async function main(): Promise<number> {
  let o;
  try {
    o = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const outDir = join(REPO_ROOT, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const doc = join(REPO_ROOT, 'docs', 'PERFORMANCE.md');
  if (o.docOnly) {
    const saved = join(outDir, 'results.json');
    if (!existsSync(saved)) {
      process.stderr.write(`--doc-only: ${saved} not found; run the benchmarks first (npx tsx bench/run-all.ts)\n`);
      return 2;
    }
    const last = JSON.parse(readFileSync(saved, 'utf8')) as RunFile;
    writeDoc(doc, last);
    process.stdout.write(
      `${renderIssueTable(last.results)}\n\nregenerated the measured section of ${doc} from ${saved}\n`,
    );
    return 0;
  }
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const results: BenchResult[] = [];
  for (const b of BENCHES.filter((x) => !o.only || o.only.includes(x.name))) {
    const file = join(outDir, `${b.name}.json`);
    rmSync(file, { force: true });
    process.stderr.write(`[bench] == ${b.title} (${b.module ?? b.file}${o.quick ? ' --quick' : ''})\n`);
    const before = load1();
    const limitS = o.quick ? Math.min(b.limitS, 180) : b.limitS;
    const r = await runTs(b.file, [...(b.args ?? []), ...(o.quick ? ['--quick'] : []), '--result', file], {
      timeoutMs: limitS * 1000,
      onStderr: (s) => process.stderr.write(s),
    });
    if (existsSync(file)) {
      results.push(JSON.parse(readFileSync(file, 'utf8')) as BenchResult);
    } else {
      const why =
        r.signal === 'SIGKILL'
          ? `stopped at its ${limitS} s limit`
          : `exited ${r.code ?? r.signal} without a result: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      results.push({
        name: b.name,
        title: b.title,
        method: '',
        quick: o.quick,
        startedAt: new Date().toISOString(),
        seconds: r.wallS,
        load: { before, after: load1() },
        rows: [missingRow(b.title, '', why)],
        details: {},
        notes: [why],
        error: why,
      });
    }
  }
  const files = Object.fromEntries(BENCHES.map((b) => [b.name, b.module ?? b.file]));
  const run: RunFile = {
    startedAt,
    finishedAt: new Date().toISOString(),
    seconds: (performance.now() - t0) / 1000,
    quick: o.quick,
    machine,
    results,
    files,
  };
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(run, null, 2) + '\n');
  process.stdout.write(
    `\n${renderTable(results)}\n\n${renderIssueTable(results)}\n\nwhole run: ${Math.round(run.seconds)} s; results in bench/out/results.json\n`,
  );
  if (o.writeDoc) {
    writeDoc(doc, run);
    process.stdout.write(`regenerated the measured section of ${doc}\n`);
  }
  return results.some((r) => r.error) ? 1 : 0;
}

process.exitCode = await main();
