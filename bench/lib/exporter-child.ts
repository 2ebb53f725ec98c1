/**
 * Child process for the scrape benchmarks: the agent's exporter (agent/metrics/ served by
 * agent/serve-metrics.ts) on 127.0.0.1 over the meters named by the flags. Prints
 * {"port":N,"zones":N,"pid":N} once listening, then serves until killed or stdin closes.
 * Usage: node --import tsx bench/lib/exporter-child.ts --rapl SYSFS [--gpus N] [--estimate]
 */
import { openEstimateMeter, Sampler, samplingHz, type Meter } from '../../energy/index.ts';
import { createAgentMetrics, type GpuStat } from '../../agent/metrics/index.ts';
import { serveMetrics } from '../../agent/serve-metrics.ts';
import { openFakeNvml, openFixtureRapl } from './meters.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const raplRoot = flag('--rapl');
const gpus = Number(flag('--gpus') ?? 0);
const meters: Meter[] = [];
let gpuStats: (() => GpuStat[]) | undefined;
const cleanups: Array<() => void> = [];
if (raplRoot) meters.push(openFixtureRapl(raplRoot));
if (gpus > 0) {
  const nvml = openFakeNvml(gpus);
  meters.push(nvml.meter);
  gpuStats = nvml.gpuStats;
  cleanups.push(nvml.cleanup);
}
if (args.includes('--estimate')) {
  const p = openEstimateMeter();
  if (!p.ok) throw new Error(p.reason);
  meters.push(p.meter);
}
// As agent/node.ts runs it: the sampler reads the meters on its own timer; scrapes format its snapshot.
// Its ticks run in this process, so the CPU per scrape measured from outside includes them.
const sampler = new Sampler(meters, { hz: samplingHz(meters) });
sampler.start();
const metrics = createAgentMetrics({ sampler, nodeId: 'bench', gpuStats });
const server = await serveMetrics('127.0.0.1:0', () => metrics.metricsText(), metrics.registry.contentType);
const addr = server.address();
if (!addr || typeof addr === 'string') throw new Error('exporter: no TCP address');
process.stdout.write(
  JSON.stringify({ port: addr.port, pid: process.pid, zones: meters.reduce((n, m) => n + m.zones().length, 0) }) + '\n',
);
process.stdin.resume();
process.stdin.on('end', () => {
  server.close();
  sampler.stop();
  for (const c of cleanups) c();
  process.exit(0);
});
