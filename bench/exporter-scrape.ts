/**
 * Benchmark 4 — exporter scrape: latency and size of the agent's /metrics with 64 RAPL zones
 * (a generated powercap tree, 16 packages × package/core/uncore/dram) and 8 GPUs (fake NVML:
 * energy counters and utilization per engine), scraped over HTTP on loopback.
 */
import { measure, runIfMain } from './lib/harness.ts';
import { makeRaplTree } from './lib/meters.ts';
import { scrapeInterleaved, startFfwattExporter } from './lib/scrape.ts';
import { percentile } from './lib/stats.ts';
import { fmt, row, target, type BenchOptions, type BenchResult } from './lib/result.ts';

const TARGET = target('<', 5, 'ms');

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure(
    'exporter',
    'Exporter scrape',
    opts,
    async () => {
      const scrapes = opts.quick ? 100 : 200;
      const tree = makeRaplTree(16);
      const exporter = await startFfwattExporter(['--rapl', tree.sysfs, '--gpus', '8']).catch((e) => {
        tree.cleanup();
        throw e;
      });
      try {
        opts.log(`exporter: ${scrapes} scrapes of ${exporter.zones} zones + 8 GPUs`);
        const s = (await scrapeInterleaved([exporter], scrapes)).get('ffwatt')!;
        const p50 = percentile(s.latenciesMs, 50);
        const p99 = percentile(s.latenciesMs, 99);
        const notes: string[] = [];
        if (!(p99 < TARGET.value)) {
          const why =
            s.cpuMsPerScrape < TARGET.value
              ? `the exporter itself used ${fmt(s.cpuMsPerScrape)} ms of CPU per scrape, so most of the latency is waiting for a CPU on the shared 2-core box (load average in the results), not work`
              : `the exporter itself used ${fmt(s.cpuMsPerScrape)} ms of CPU per scrape: asking 8 fake GPUs for their utilization on every scrape (each NVML call re-reads the fake library's state file) and the sampler reading ${exporter.zones - 8} RAPL files 10 times a second are real work`;
          notes.push(
            `p99 scrape latency ${fmt(p99)} ms is not under 5 ms (p50 ${fmt(p50)} ms, max ${fmt(Math.max(...s.latenciesMs))} ms); ${why}.`,
          );
        }
        return {
          title: 'Exporter scrape',
          method:
            `The agent's exporter (agent/metrics/ createAgentMetrics with prom-client's process metrics, served by agent/serve-metrics.ts) runs in its own Node process beside the energy sampler that feeds it (energy/sampler.ts at its default rate; its ticks count in the exporter's CPU) over a generated powercap tree with ${exporter.zones - 8} RAPL zones (16 packages × package, core, uncore, dram) read through energy/rapl.ts, and the fake NVML library with 8 GPUs (energy counters, utilization per engine through gpuStats). ` +
            `${scrapes} scrapes with fetch (keep-alive) on 127.0.0.1 after 20 untimed ones; latency is request to last byte; CPU per scrape is the exporter's /proc/<pid>/stat time over the timed scrapes.`,
          rows: [
            row('scrape latency p50', p50, 'ms'),
            row('scrape latency p99', p99, 'ms', { target: TARGET }),
            row('exporter CPU per scrape', s.cpuMsPerScrape, 'ms'),
            row('body size', s.bytes / 1024, 'KiB', { note: `${s.series} series` }),
            row('series per scrape', s.series, 'series'),
          ],
          details: {
            zones: exporter.zones,
            gpus: 8,
            scrapes,
            latenciesMs: s.latenciesMs,
            bytes: s.bytes,
            series: s.series,
          },
          notes,
        };
      } finally {
        exporter.stop();
        tree.cleanup();
      }
    },
    { label: 'scrape latency p99', unit: 'ms', target: TARGET },
  );
}

await runIfMain(import.meta.url, run);
