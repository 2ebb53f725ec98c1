/**
 * Child process of bench/sampler-cost.ts: does nothing but run the Sampler at `hz` over every
 * meter kind for `seconds`, and prints its own CPU time over that span as JSON. hz 0 runs no
 * sampler (the cost of an idle Node process, the baseline); with a third argument `timer` it
 * runs an empty setInterval at `hz` instead of the sampler (the cost of waking up alone).
 * Usage: node --import tsx bench/lib/sampler-child.ts HZ SECONDS [timer]
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sampler } from '../../energy/index.ts';
import { openAllMeters } from './meters.ts';

const hz = Number(process.argv[2]);
const seconds = Number(process.argv[3]);
const timerOnly = process.argv[4] === 'timer';
if (!(hz >= 0) || !(seconds > 0) || (process.argv[4] !== undefined && !timerOnly)) {
  process.stderr.write('usage: sampler-child.ts HZ SECONDS [timer]\n');
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
const sampler = hz > 0 && !timerOnly ? new Sampler(meters, { hz }) : null;
sampler?.start();
let wakes = 0;
const emptyTimer = hz > 0 && timerOnly ? setInterval(() => (wakes += 1), 1000 / hz) : null;
// Start-up work (imports, JIT of the first ticks) and V8's memory reducer, which collects the
// heap once a fresh process goes idle, must stay outside the window: settle, then collect now.
await sleep(3000);
(globalThis as { gc?: () => void }).gc?.();
await sleep(1000);
const ticks0 = sampler?.ticks ?? wakes;
const cpu0 = process.cpuUsage();
const main0 = mainThreadS();
const t0 = performance.now();
await sleep(seconds * 1000);
const cpu = process.cpuUsage(cpu0);
const main1 = mainThreadS();
const wallS = (performance.now() - t0) / 1000;
const ticks = (sampler?.ticks ?? wakes) - ticks0;
sampler?.stop();
if (emptyTimer) clearInterval(emptyTimer);
const zones = meters.reduce((n, m) => n + m.zones().length, 0);
cleanup();
process.stdout.write(
  JSON.stringify({
    hz,
    timerOnly,
    wallS,
    cpuS: (cpu.user + cpu.system) / 1e6,
    mainThreadCpuS: main0 === null || main1 === null ? null : main1 - main0,
    userS: cpu.user / 1e6,
    systemS: cpu.system / 1e6,
    ticks,
    zones,
    meters: meters.map((m) => m.name),
  }) + '\n',
);
