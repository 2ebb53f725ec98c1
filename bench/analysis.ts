/**
 * Benchmark 5 — analyzer scale: runs bench/analyzer-scale.ts (the analyzers' own benchmark:
 * synthetic results databases of 10k, 100k and 1M runs, reports in every format, each size in
 * a fresh child process) and reads back time and peak memory per size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonDoc, runTs } from './lib/child.ts';
import { measure, runIfMain } from './lib/harness.ts';
import { fmt, missingRow, row, target, type BenchOptions, type BenchResult, type BenchRow } from './lib/result.ts';

// Issue 17's targets for the report of 1M runs.
const TARGET = target('<', 3, 's');
const MEMORY_TARGET = target('<=', 300, 'MiB');

interface SizeOut {
  requestedRuns: number;
  runs: number;
  scenarios: number;
  generateMs: number;
  dbMiB: number;
  reportMs: number;
  reportCpuMs: number;
  peakRssMiB: number;
}

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure(
    'analysis',
    'Analyzer scale',
    opts,
    async () => {
      const sizes = opts.quick ? [10_000] : [10_000, 100_000, 1_000_000];
      const dir = mkdtempSync(join(tmpdir(), 'ffwatt-bench-analysis-'));
      let out: { results: SizeOut[] } | null;
      let failure = '';
      try {
        opts.log(`analysis: bench/analyzer-scale.ts --sizes ${sizes.join(',')}`);
        const r = await runTs('bench/analyzer-scale.ts', ['--sizes', sizes.join(','), '--dir', dir], {
          timeoutMs: 11 * 60_000,
        });
        out = jsonDoc<{ results: SizeOut[] }>(r.stdout);
        if (r.code !== 0 || !out)
          failure = `analyzer-scale exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const rows: BenchRow[] = [];
      const notes: string[] = [];
      if (!out) {
        rows.push(missingRow('1M runs: report time', 's', failure, TARGET));
        return { title: 'Analyzer scale', method: '', rows, details: {}, notes: [failure] };
      }
      if (failure) notes.push(failure);
      for (const s of out.results) {
        const label = s.requestedRuns >= 1e6 ? `${s.requestedRuns / 1e6}M` : `${s.requestedRuns / 1e3}k`;
        const oneM = s.requestedRuns === 1_000_000;
        rows.push(
          row(
            `${label} runs: report time`,
            s.reportMs / 1000,
            's',
            oneM ? { target: TARGET, key: 'report-1m-time' } : {},
          ),
          row(`${label} runs: CPU time of the report process`, s.reportCpuMs / 1000, 's'),
          row(`${label} runs: peak memory of the report process`, s.peakRssMiB, 'MiB', {
            note: `${s.runs} runs stored, ${s.dbMiB} MiB database`,
            ...(oneM ? { target: MEMORY_TARGET, key: 'report-1m-rss' } : {}),
          }),
        );
      }
      if (!sizes.includes(1_000_000))
        rows.push(missingRow('1M runs: report time', 's', 'skipped in --quick (run without --quick)', TARGET));
      const by = new Map(out.results.map((s) => [s.requestedRuns, s]));
      const a = by.get(100_000);
      const b = by.get(1_000_000) ?? null;
      if (a && b) {
        const exp = Math.log(b.reportMs / a.reportMs) / Math.log(b.runs / a.runs);
        rows.push(row('growth of report time, 100k → 1M (exponent; 1 = linear)', exp, ''));
        if (!(b.reportMs / 1000 < TARGET.value))
          notes.push(
            `1M runs took ${fmt(b.reportMs / 1000)} s to report (${fmt(b.reportCpuMs / 1000)} s of CPU, peak ${b.peakRssMiB} MiB), not under ${TARGET.value} s; time grows with exponent ${fmt(exp)} from 100k to 1M runs. Where the time goes: docs/PERFORMANCE.md, "Report of 1M runs" (profile).`,
          );
      }
      return {
        title: 'Analyzer scale',
        method:
          "bench/analyzer-scale.ts (written with the analyzers) generates a synthetic SQLite results database of N runs over 1,000 scenarios (4 codecs × 5 presets × 10 bitrates × 5 stream counts) through store/store.ts (the strata columns hardware_class, energy_kind and setup_id filled as the store fills them), then times analyzers/report.ts writeReports (Markdown, CSV, JSON, HTML with statistics and comparisons) in a fresh child process per size; peak memory is that process' maxRSS, CPU time its process.cpuUsage. Database generation is not timed.",
        rows,
        details: { sizes, results: out.results },
        notes,
      };
    },
    { label: '1M runs: report time', unit: 's', target: TARGET },
  );
}

await runIfMain(import.meta.url, run);
