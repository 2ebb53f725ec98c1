/**
 * Child process of bench/sampler-cost.ts: does nothing but run the Sampler at `hz` over every
 * meter kind for `seconds`, and prints its own CPU time over that span as JSON. hz 0 runs no
 * sampler (the cost of an idle Node process, the baseline).
 * Usage: node --import tsx bench/lib/sampler-child.ts HZ SECONDS
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sampler } from '../../energy/index.ts';
import { openAllMeters } from './meters.ts';

const hz = Number(process.argv[2]);
const seconds = Number(process.argv[3]);
if (!(hz >= 0) || !(seconds > 0)) {
  process.stderr.write('usage: sampler-child.ts HZ SECONDS\n');
  process.exit(2);
}
/** On-CPU seconds of the main thread (where the sampler runs), from the scheduler's ns counter. */
const mainThreadS = (): number | null => {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return null;
  }
};
const { meters, cleanup } = openAllMeters(2);
const sampler = hz > 0 ? new Sampler(meters, { hz }) : null;
sampler?.start();
// Start-up work (imports, JIT of the first ticks) and V8's memory reducer, which collects the
// heap once a fresh process goes idle, must stay outside the window: settle, then collect now.
await sleep(3000);
(globalThis as { gc?: () => void }).gc?.();
await sleep(1000);
const ticks0 = sampler?.ticks ?? 0;
const cpu0 = process.cpuUsage();
const main0 = mainThreadS();
const t0 = performance.now();
await sleep(seconds * 1000);
const cpu = process.cpuUsage(cpu0);
const main1 = mainThreadS();
const wallS = (performance.now() - t0) / 1000;
const ticks = (sampler?.ticks ?? 0) - ticks0;
sampler?.stop();
const zones = meters.reduce((n, m) => n + m.zones().length, 0);
cleanup();
process.stdout.write(
  JSON.stringify({ hz, wallS, cpuS: (cpu.user + cpu.system) / 1e6, mainThreadCpuS: main0 === null || main1 === null ? null : main1 - main0, userS: cpu.user / 1e6, systemS: cpu.system / 1e6, ticks, zones, meters: meters.map((m) => m.name) }) + '\n',
);
