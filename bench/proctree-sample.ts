// Benchmark (not a test): CPU cost of one process-tree sample (energy/proctree.ts), the job's own
// descendants walked through /proc/<pid>/task/<tid>/children against the full scan of every
// /proc/<pid>/stat, interleaved in one run on the same tree: bash → (sleep, node with a worker
// thread → sleep), like an encode's shell, FFmpeg and its threads. Prints one JSON document.
//   npx tsx bench/proctree-sample.ts [--samples 400]
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcTreeMonitor, processTreePids, type TreeWalk } from '../energy/proctree.ts';
import { bounded, parseArgsOrExit } from './lib/args.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(argv: string[]): Promise<void> {
  const { values: o } = parseArgsOrExit(argv, { samples: { type: 'string', default: '400' } });
  const samples = bounded('samples', o.samples, 1, 1_000_000);
  const worker =
    "const { spawn } = require('child_process'); spawn('sleep', ['120'], { stdio: 'ignore' }); setInterval(() => {}, 1000);";
  const node = `new (require('worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true }); setInterval(() => {}, 1000);`;
  const root = spawn('bash', ['-c', 'sleep 120 & "$0" -e "$1" & wait', process.execPath, node], {
    stdio: 'ignore',
    detached: true,
  });
  try {
    const end = Date.now() + 20_000;
    while (processTreePids(root.pid!).length < 4 && Date.now() < end) await sleep(50);
    const members = processTreePids(root.pid!);
    const cpuUs: Record<TreeWalk, number> = { auto: 0, scan: 0 };
    const monitors: Record<TreeWalk, ProcTreeMonitor> = {
      auto: new ProcTreeMonitor(root.pid!),
      scan: new ProcTreeMonitor(root.pid!, { walk: 'scan' }),
    };
    for (const w of ['auto', 'scan'] as const) for (let i = 0; i < 20; i++) monitors[w].sample(); // warm-up: JIT
    const rounds = 10;
    for (let r = 0; r < rounds; r++) {
      for (const w of ['auto', 'scan'] as const) {
        const c0 = process.cpuUsage();
        for (let i = 0; i < samples / rounds; i++) monitors[w].sample();
        const c = process.cpuUsage(c0);
        cpuUs[w] += c.user + c.system;
      }
    }
    const threads = members.reduce((n, p) => n + readdirSync(`/proc/${p}/task`).length, 0);
    const processes = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
    process.stdout.write(
      JSON.stringify(
        {
          benchmark: 'proctree-sample',
          node: process.version,
          treeProcesses: members.length,
          treeThreads: threads,
          processesOnBox: processes,
          samplesEach: samples,
          cpuUsPerSample: {
            descendantsWalk: Math.round(cpuUs.auto / samples),
            fullScan: Math.round(cpuUs.scan / samples),
          },
          note: 'ProcTreeMonitor.sample(): tree walk + stat/status/io of each member + /proc/stat; CPU time of this process, interleaved in 10 rounds',
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    process.kill(-root.pid!, 'SIGKILL');
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
