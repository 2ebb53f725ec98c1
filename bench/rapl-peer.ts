/**
 * Benchmark 7 — peer comparison: ffwatt's RAPL reading path (energy/rapl.ts read by the sampler
 * behind the agent's exporter) against Prometheus node_exporter's rapl collector, both serving the same powercap
 * tree, scraped in alternation in one run. Two trees: the 2-socket fixture (4 zones) and a
 * generated 64-zone one.
 */
import { existsSync } from 'node:fs';
import { measure, runIfMain } from './lib/harness.ts';
import { makeRaplTree, openFixtureRapl, RAPL_2SOCKET_SYSFS } from './lib/meters.ts';
import {
  NODE_EXPORTER,
  scrapeInterleaved,
  startFfwattExporter,
  startNodeExporter,
  type Exporter,
} from './lib/scrape.ts';
import { median, percentile } from './lib/stats.ts';
import { fmt, row, target, type BenchOptions, type BenchResult, type BenchRow } from './lib/result.ts';

/** Median µs of RaplMeter.read() on a tree, in this process. */
function readMicros(sysfs: string, reads: number): number {
  const m = openFixtureRapl(sysfs);
  for (let i = 0; i < 50; i++) m.read();
  const t: number[] = [];
  for (let i = 0; i < reads; i++) {
    const t0 = process.hrtime.bigint();
    m.read();
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  m.close();
  return median(t);
}

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure('peer', 'RAPL path vs node_exporter', opts, async () => {
    if (!existsSync(NODE_EXPORTER))
      throw new Error(
        `${NODE_EXPORTER} not found: apt-get install -y --no-install-recommends prometheus-node-exporter (test/setup.d/20-energy.sh does it)`,
      );
    const rounds = opts.quick ? 100 : 200;
    const big = makeRaplTree(16);
    const trees = [
      { name: '2-socket fixture', sysfs: RAPL_2SOCKET_SYSFS, ratioKey: 'peer-cpu-ratio-4' },
      { name: '64-zone tree', sysfs: big.sysfs, ratioKey: 'peer-cpu-ratio-64' },
    ];
    const rows: BenchRow[] = [];
    const details: Record<string, unknown> = { rounds };
    const notes: string[] = [];
    try {
      for (const tree of trees) {
        const started: Exporter[] = [];
        try {
          const ff = await startFfwattExporter(['--rapl', tree.sysfs]);
          started.push(ff);
          started.push(await startNodeExporter(tree.sysfs));
          opts.log(`peer: ${tree.name}: ${rounds} alternating scrapes of ffwatt and node_exporter`);
          const res = await scrapeInterleaved(started, rounds);
          const f = res.get('ffwatt')!;
          const n = res.get('node_exporter')!;
          rows.push(
            row(`${tree.name}: scrape p50, ffwatt / node_exporter`, percentile(f.latenciesMs, 50), 'ms', {
              display: `${fmt(percentile(f.latenciesMs, 50))} / ${fmt(percentile(n.latenciesMs, 50))} ms`,
            }),
            row(`${tree.name}: scrape p99, ffwatt / node_exporter`, percentile(f.latenciesMs, 99), 'ms', {
              display: `${fmt(percentile(f.latenciesMs, 99))} / ${fmt(percentile(n.latenciesMs, 99))} ms`,
            }),
            row(`${tree.name}: CPU per scrape, ffwatt / node_exporter`, f.cpuMsPerScrape, 'ms', {
              display: `${fmt(f.cpuMsPerScrape)} / ${fmt(n.cpuMsPerScrape)} ms`,
            }),
            row(`${tree.name}: CPU per scrape, ffwatt ÷ node_exporter`, f.cpuMsPerScrape / n.cpuMsPerScrape, '×', {
              key: tree.ratioKey,
              target: target('<=', 1, '×'),
            }),
            row(`${tree.name}: body, ffwatt / node_exporter`, f.bytes, 'bytes', {
              display: `${fmt(f.bytes / 1024)} / ${fmt(n.bytes / 1024)} KiB (${f.series} / ${n.series} series)`,
            }),
            row(
              `${tree.name}: one RaplMeter.read() (ffwatt, in-process median)`,
              readMicros(tree.sysfs, opts.quick ? 200 : 1000),
              'µs',
            ),
          );
          details[tree.name] = {
            zones: ff.zones,
            ffwatt: { ...f, p50: percentile(f.latenciesMs, 50), p99: percentile(f.latenciesMs, 99) },
            nodeExporter: { ...n, p50: percentile(n.latenciesMs, 50), p99: percentile(n.latenciesMs, 99) },
          };
        } finally {
          for (const e of started) e.stop();
        }
      }
    } finally {
      big.cleanup();
    }
    notes.push(
      'Both exporters also serve their own process metrics (prom-client defaults for ffwatt; go_*/process_*/promhttp_* for node_exporter), so body size and CPU include them. ffwatt exports more per zone (energy, power, role and source labels, meter health and read durations) and corrects counter wraps; node_exporter emits only the joules counters and has no wrap handling. ffwatt reads the meters in its sampler 10 times a second, whether scraped or not (those reads count in its CPU here); node_exporter reads them at each scrape.',
    );
    return {
      title: 'RAPL path vs node_exporter',
      method:
        `Same powercap tree for both, in one run: ffwatt's agent exporter (energy/rapl.ts RaplMeter only, read by the energy sampler at 10 Hz in the exporter's own Node process) and ${NODE_EXPORTER} --collector.disable-defaults --collector.rapl --path.sysfs=TREE, both on 127.0.0.1. ` +
        `${rounds} rounds of one scrape each, alternating which goes first, after 20 untimed rounds; latency request to last byte; CPU per scrape from each process' /proc/<pid>/stat. Trees: the intel-2socket fixture (4 zones) and a generated 64-zone tree.`,
      rows,
      details,
      notes,
    };
  });
}

await runIfMain(import.meta.url, run);
