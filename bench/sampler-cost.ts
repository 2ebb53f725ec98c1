/**
 * Benchmark 2 — sampler cost: CPU per second of the energy Sampler at 1, 10 and 100 Hz over
 * every meter kind (RAPL 2-socket fixture tree, fake NVML with 2 GPUs, the estimate), each in
 * a child process that does nothing else; plus the cost of one read of each meter.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, runTsJson } from './lib/child.ts';
import { measure, runIfMain } from './lib/harness.ts';
import { Sampler } from '../energy/index.ts';
import { openAllMeters } from './lib/meters.ts';
import { median } from './lib/stats.ts';
import { missingRow, row, target, type BenchOptions, type BenchResult, type BenchRow } from './lib/result.ts';

interface ChildOut {
  hz: number;
  /** An empty setInterval at hz instead of the sampler. */
  timerOnly: boolean;
  wallS: number;
  cpuS: number;
  userS: number;
  systemS: number;
  /** Main thread only (/proc/self/task/<pid>/schedstat); null where the kernel has no schedstat. */
  mainThreadCpuS: number | null;
  ticks: number;
  zones: number;
  meters: string[];
}

const TARGET_10HZ = target('<=', 0.1, '% of one core');
const TARGET_TICK = target('<=', 100, 'µs');

/** CPU µs of one Sampler.tick() called back to back (warm caches, no timer), over `ticks` ticks. */
function warmTickCost(ticks: number): number {
  const { meters, cleanup } = openAllMeters(2);
  try {
    const sampler = new Sampler(meters, { hz: 10 });
    for (let i = 0; i < 200; i++) sampler.tick();
    const c0 = process.cpuUsage();
    for (let i = 0; i < ticks; i++) sampler.tick();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / ticks;
  } finally {
    cleanup();
  }
}

/** Median µs of one read() per meter, over `reads` reads (after 50 warm-up reads). */
function readCostPerMeter(reads: number): Record<string, number> {
  const { meters, cleanup } = openAllMeters(2);
  try {
    const out: Record<string, number> = {};
    for (const m of meters) {
      for (let i = 0; i < 50; i++) m.read();
      const times: number[] = [];
      for (let i = 0; i < reads; i++) {
        const t0 = process.hrtime.bigint();
        m.read();
        times.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      out[m.name] = median(times);
    }
    return out;
  } finally {
    cleanup();
  }
}

/**
 * µs of on-CPU time per wake-up of a C process sleeping in nanosleep() at `hz` (bench/lib/wake-floor.c,
 * built here with cc): the cheapest wake-up this machine offers. A string says why it was not measured.
 */
function cWakeFloor(hz: number, seconds: number): number | string {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-wake-floor-'));
  try {
    const bin = join(dir, 'wake-floor');
    try {
      execFileSync('cc', ['-O2', '-o', bin, join(REPO_ROOT, 'bench/lib/wake-floor.c')], { stdio: 'pipe' });
    } catch (err) {
      return `not measured: cc could not build bench/lib/wake-floor.c (${(err as Error).message.split('\n')[0]})`;
    }
    try {
      const out = execFileSync(bin, [String(hz), String(seconds)], {
        encoding: 'utf8',
        timeout: (seconds + 10) * 1000,
      });
      return (JSON.parse(out) as { usPerWake: number }).usPerWake;
    } catch (err) {
      return `not measured: wake-floor failed (${(err as Error).message.split('\n')[0]})`;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure(
    'sampler',
    'Sampler cost',
    opts,
    async () => {
      const seconds = opts.quick ? 3 : 10;
      const children: ChildOut[] = [];
      for (const [hz, mode] of [
        [0, ''],
        [10, 'timer'],
        [1, ''],
        [10, ''],
        [100, ''],
      ] as const) {
        opts.log(`sampler: ${hz ? `${hz} Hz${mode ? ' (empty timer)' : ''}` : 'idle baseline'} for ${seconds} s`);
        const args = [String(hz), String(seconds), ...(mode ? [mode] : [])];
        children.push(
          await runTsJson<ChildOut>('bench/lib/sampler-child.ts', args, (seconds + 40) * 1000, ['--expose-gc']),
        );
        await sleep(200);
      }
      const [idle, timer, ...sampled] = children;
      const pct = (c: ChildOut) => (100 * c.cpuS) / c.wallS;
      const net = (c: ChildOut) => pct(c) - pct(idle);
      const mainPct = (c: ChildOut) => (c.mainThreadCpuS === null ? null : (100 * c.mainThreadCpuS) / c.wallS);
      const mainNet = (c: ChildOut) => {
        const a = mainPct(c);
        const b = mainPct(idle);
        return a === null || b === null ? null : a - b;
      };
      const haveMain = mainNet(sampled[0]) !== null;
      const rows: BenchRow[] = [];
      for (const c of sampled) {
        const perTick = (pctOfCore: number) => `${((1e4 * pctOfCore) / c.hz).toFixed(0)} µs CPU per tick`;
        if (haveMain) {
          rows.push(
            row(
              `CPU at ${c.hz} Hz (${c.zones} zones), main thread, net of the idle child`,
              mainNet(c),
              '% of one core',
              {
                ...(c.hz === 10 ? { target: TARGET_10HZ } : {}),
                note: `${c.ticks} ticks in ${c.wallS.toFixed(1)} s; ${perTick(mainNet(c)!)}`,
              },
            ),
          );
        }
        rows.push(
          row(`CPU at ${c.hz} Hz, whole process, net of the idle child`, net(c), '% of one core', {
            ...(c.hz === 10 && !haveMain ? { target: TARGET_10HZ } : {}),
            note: `gross ${pct(c).toFixed(3)} % of one core; ${perTick(net(c))} net`,
          }),
        );
      }
      const ten = sampled.find((c) => c.hz === 10)!;
      const judged = haveMain ? mainNet(ten)! : net(ten);
      const tickUs = (1e4 * judged) / ten.hz; // % of a core → µs of CPU per tick
      const timerNet = haveMain ? mainNet(timer)! : net(timer);
      const wakeUs = (1e4 * timerNet) / timer.hz;
      rows.push(
        row(
          `CPU per tick at 10 Hz (${ten.zones} zones), ${haveMain ? 'main thread' : 'whole process'}, net of the idle child`,
          tickUs,
          'µs',
          { target: TARGET_TICK, key: 'sampler-tick' },
        ),
      );
      rows.push(
        row(
          `an empty setInterval at 10 Hz, ${haveMain ? 'main thread' : 'whole process'}, net of the idle child, per wake-up`,
          wakeUs,
          'µs',
          {
            key: 'node-timer-wake',
            note: `${timer.ticks} wake-ups in ${timer.wallS.toFixed(1)} s; ${timerNet.toFixed(3)} % of one core`,
          },
        ),
      );
      opts.log(`sampler: a C process waking at 10 Hz for ${seconds} s (bench/lib/wake-floor.c)`);
      const cWake = cWakeFloor(10, seconds);
      rows.push(
        typeof cWake === 'number'
          ? row('a C process sleeping in nanosleep() at 10 Hz, on-CPU time per wake-up (the floor)', cWake, 'µs', {
              key: 'wake-floor-c',
            })
          : missingRow(
              'a C process sleeping in nanosleep() at 10 Hz, on-CPU time per wake-up (the floor)',
              'µs',
              cWake,
            ),
      );
      rows.push(
        row(
          "the sampler's own work per tick at 10 Hz (the tick above less the empty timer's wake-up)",
          tickUs - wakeUs,
          'µs',
        ),
      );
      const warmUs = warmTickCost(opts.quick ? 2000 : 10000);
      rows.push(
        row('one Sampler.tick() back to back (warm caches, no timer), CPU', warmUs, 'µs', { key: 'sampler-warm-tick' }),
      );
      rows.push(row('CPU of the idle child, whole process (subtracted above)', pct(idle), '% of one core'));
      if (haveMain)
        rows.push(row('CPU of the idle child, main thread (subtracted above)', mainPct(idle), '% of one core'));
      const perRead = readCostPerMeter(opts.quick ? 200 : 1000);
      for (const [meter, us] of Object.entries(perRead)) rows.push(row(`one ${meter} read (median)`, us, 'µs'));
      const notes: string[] = [];
      if (judged > TARGET_10HZ.value || tickUs > TARGET_TICK.value) {
        const readsUs = Object.values(perRead).reduce((a, b) => a + b, 0);
        notes.push(
          `At 10 Hz the sampler costs ${judged.toFixed(2)} % of one core (${haveMain ? 'main thread' : 'whole process'}, net of the idle child), about ${tickUs.toFixed(0)} µs of CPU per tick, against ≤ ${TARGET_TICK.value} µs. ` +
            `An empty setInterval at the same rate, in a child of its own, costs ${wakeUs.toFixed(0)} µs per wake-up on this machine (the timer, the event loop and the thread being scheduled back in): ${wakeUs >= TARGET_TICK.value ? 'more than the whole target on its own, so no sampler on a Node timer can meet it here' : `${((100 * wakeUs) / tickUs).toFixed(0)} % of the tick`}. ` +
            (typeof cWake === 'number'
              ? `Even a C process that does nothing but sleep in nanosleep() at 10 Hz spends ${cWake.toFixed(0)} µs on the CPU per wake-up here (/proc/thread-self/schedstat, same run): the kernel scheduling a thread out and back in on this VM. `
              : '') +
            `The sampler's own work is the rest, ${(tickUs - wakeUs).toFixed(0)} µs; back to back with warm caches one tick costs ${warmUs.toFixed(0)} µs, and the reads of the meters alone ${readsUs.toFixed(0)} µs (${Object.entries(
              perRead,
            )
              .map(([m, us]) => `${m} ${us.toFixed(0)}`)
              .join(', ')} µs; the fake NVML library opens and parses its state file on every call). ` +
            'The difference between the cold and the warm tick is the price of running 10 times a second on a shared machine: caches and branch predictors hold other work by the next tick.',
        );
      }
      if (pct(idle) > 0.2) {
        notes.push(
          `The idle child alone used ${pct(idle).toFixed(2)} % of one core (whole process): these children load TypeScript through tsx, whose loader thread does work of its own; the main-thread figure leaves that out${haveMain ? '' : ' (not available here: no schedstat)'}.`,
        );
      }
      return {
        title: 'Sampler cost',
        method:
          `Each rate runs in its own child Node process that only opens every meter kind (RAPL: the intel-2socket fixture tree, 4 zones; NVML: the fake library with 2 GPUs; the estimate from /proc/stat) and runs the Sampler; after 3 s of settling and a forced garbage collection (so start-up work and V8's idle-time heap clean-up stay outside the window), process.cpuUsage() is taken over ${seconds} s. ` +
          'An idle child that opens the same meters but runs no sampler gives the baseline cost of Node itself, subtracted from each rate (gross figures are in the notes); a child that runs an empty setInterval at 10 Hz instead of the sampler gives the cost of waking up alone. One Sampler.tick() is also timed back to back in the parent (warm caches, no timer). The target is judged on the on-CPU time of the main thread (/proc/self/task/<pid>/schedstat, ns), where the timer and the reads of the sampler run; the whole-process figure also counts the helper threads of V8 and the loader thread of tsx. One read of each meter is timed separately in the parent (median of many reads).',
        rows,
        details: {
          seconds,
          children: [idle, timer, ...sampled],
          readMicros: perRead,
          warmTickUs: warmUs,
          timerWakeUs: wakeUs,
        },
        notes,
      };
    },
    { label: 'CPU at 10 Hz', unit: '% of one core', target: TARGET_10HZ },
  );
}

await runIfMain(import.meta.url, run);
