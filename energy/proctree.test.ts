import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePidStat, processTreePids, ProcTreeMonitor, sampleProcessTree } from './proctree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUSY = (ms: number) => `const e=Date.now()+${ms};let x=0;while(Date.now()<e)x+=Math.sqrt(x+1);`;

/** Samples the tree every 50 ms until the root exits (bounded). */
async function follow(mon: ProcTreeMonitor, seenPids: Set<number>, limitMs = 20_000) {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (!mon.sample()) return;
    for (const p of processTreePids(mon.rootPid)) seenPids.add(p);
    await sleep(50);
  }
  throw new Error('process tree did not exit in time');
}

describe('parsePidStat', () => {
  it('reads fields after the last parenthesis, whatever the command name holds', () => {
    const line =
      '4242 (evil) (name x) S 4000 4242 4000 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 3 0 1000 12345 678 18446744073709551615';
    expect(parsePidStat(line)).toEqual({ pid: 4242, ppid: 4000, ownTicks: 300n, childTicks: 10n, threads: 3 });
    expect(parsePidStat('garbage')).toBeNull();
  });
});

describe('ProcTreeMonitor on real processes', () => {
  it('follows a shell, its children and grandchildren: CPU, peak RSS, written bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-tree-'));
    dirs.push(dir);
    const out = join(dir, 'blob');
    const report = join(dir, 'cpu.json');
    // fixed work (not wall time: the box may be busy); the grandchild writes down its own CPU time
    const work = `let x=0;for(let i=0;i<3e7;i++)x+=Math.sqrt(i);require('fs').writeFileSync('${report}',JSON.stringify(process.cpuUsage()));`;
    const script = `sleep 0.3; dd if=/dev/zero of=${out} bs=64k count=32 status=none; ${process.execPath} -e "${work}" & wait; sleep 0.3`;
    const child = spawn('bash', ['-c', script], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    const mon = new ProcTreeMonitor(child.pid!);
    const seen = new Set<number>();
    await follow(mon, seen);
    await exited;
    const u = mon.usage();
    expect(u.samples).toBeGreaterThan(3);
    expect(u.alive).toBe(false);
    expect(seen.size).toBeGreaterThanOrEqual(2); // bash + node (dd may be too quick to be seen)
    const nodeCpu = JSON.parse(readFileSync(report, 'utf8')) as { user: number; system: number };
    const nodeCpuS = (nodeCpu.user + nodeCpu.system) / 1e6;
    // the reaped grandchild's whole CPU time is in bash's cutime; 10 ms ticks, plus bash and dd
    expect(u.cpuSeconds).toBeGreaterThanOrEqual(nodeCpuS - 0.03);
    expect(u.cpuSeconds).toBeLessThan(nodeCpuS + 0.5);
    expect(u.machineCpuSeconds).toBeGreaterThanOrEqual(u.cpuSeconds - 0.05);
    expect(u.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024); // node's resident set
    // dd's 2 MiB went through write(2) and were reaped into bash's accounting
    expect(u.writeChars).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(u.ioNote).toBeUndefined();
  });

  it('sees CPU used by other processes as other CPU (the noisy_neighbour basis)', async () => {
    const job = spawn('sleep', ['1.2'], { stdio: 'ignore' });
    const neighbour = spawn(process.execPath, ['-e', BUSY(900)], { stdio: 'ignore' });
    const done = Promise.all([new Promise((r) => job.on('exit', r)), new Promise((r) => neighbour.on('exit', r))]);
    const mon = new ProcTreeMonitor(job.pid!);
    await follow(mon, new Set());
    await done;
    const u = mon.usage();
    expect(u.cpuSeconds).toBeLessThan(0.1);
    expect(u.otherCpuSeconds).toBeGreaterThan(0.5);
  });

  it('reports a vanished root as not alive with nothing measured', () => {
    const mon = new ProcTreeMonitor(2 ** 22 + 12345);
    expect(mon.sample()).toBe(false);
    const u = mon.usage();
    expect(u).toMatchObject({ samples: 0, alive: false, cpuSeconds: 0, readBytes: null });
    expect(u.ioNote).toMatch(/no sample/);
  });
});

describe('the descendants walk (/proc/<pid>/task/<tid>/children) on a real tree', () => {
  it('finds children and grandchildren, a child forked by a non-main thread, and survives processes exiting mid-walk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-walk-'));
    dirs.push(dir);
    const pidsFile = join(dir, 'pids.json');
    const sleepFile = join(dir, 'sleep.pid');
    // node (a grandchild of the test via bash) starts one sleep from its main thread and one from a worker thread
    const nodeScript = [
      "const { Worker } = require('worker_threads');",
      "const { spawn } = require('child_process');",
      "const main = spawn('sleep', ['30'], { stdio: 'ignore' });",
      "const w = new Worker(\"const { spawn } = require('child_process'); const c = spawn('sleep', ['30'], { stdio: 'ignore' }); require('worker_threads').parentPort.postMessage([c.pid, require('fs').readdirSync('/proc/self/task').length]); setInterval(() => {}, 1000);\", { eval: true });",
      `w.on('message', ([workerChild]) => require('fs').writeFileSync('${pidsFile}', JSON.stringify({ node: process.pid, main: main.pid, workerChild })));`,
    ].join('\n');
    const script = `sleep 30 & echo $! > ${sleepFile}; ${process.execPath} -e "${nodeScript.replace(/"/g, '\\"')}" & (while :; do /bin/true; done) & wait`;
    const root = spawn('bash', ['-c', script], { stdio: 'ignore', detached: true });
    try {
      const end = Date.now() + 20_000;
      while (!existsSync(pidsFile) || !existsSync(sleepFile)) {
        if (Date.now() > end) throw new Error('tree did not start');
        await sleep(50);
      }
      await sleep(100);
      const p = JSON.parse(readFileSync(pidsFile, 'utf8')) as { node: number; main: number; workerChild: number };
      const bashSleep = Number(readFileSync(sleepFile, 'utf8'));
      const stable = [root.pid!, bashSleep, p.node, p.main, p.workerChild];
      // the worker's child hangs off the worker thread, not the process' main thread
      const mainThreadChildren = readFileSync(`/proc/${p.node}/task/${p.node}/children`, 'utf8').split(' ').map(Number);
      expect(mainThreadChildren).toContain(p.main);
      expect(mainThreadChildren).not.toContain(p.workerChild);

      // /bin/true processes are born and die all the time: some exit between being listed and being read
      for (let i = 0; i < 200; i++) {
        const walked = processTreePids(root.pid!);
        expect(walked[0]).toBe(root.pid);
        for (const pid of stable) expect(walked).toContain(pid);
        const scanned = processTreePids(root.pid!, '/proc', 'scan');
        for (const pid of stable) expect(scanned).toContain(pid);
        expect(new Set(walked).size).toBe(walked.length);
        const s = sampleProcessTree(root.pid!);
        expect(s).not.toBeNull();
        expect(s!.pids).toEqual(expect.arrayContaining(stable));
        expect(s!.io).not.toBeNull(); // a member gone before its io file was read is not "unreadable I/O"
      }

      // same attribution from either walk, sampled alternately over the same second
      const auto = new ProcTreeMonitor(root.pid!);
      const scan = new ProcTreeMonitor(root.pid!, { walk: 'scan' });
      for (let i = 0; i < 10; i++) {
        auto.sample();
        scan.sample();
        await sleep(100);
      }
      const [a, b] = [auto.usage(), scan.usage()];
      expect(a.alive && b.alive).toBe(true);
      expect(a.cpuSeconds).toBeGreaterThan(0.05); // the shell loop keeps a core busy
      expect(Math.abs(a.cpuSeconds - b.cpuSeconds)).toBeLessThan(0.1); // one sample apart, plus churn
      expect(a.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024); // node's resident set is in both
      expect(b.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    } finally {
      process.kill(-root.pid!, 'SIGKILL');
    }
    expect(sampleProcessTree(2 ** 22 + 12345)).toBeNull();
  });
});

describe('descriptors kept open between samples', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('holds the members’ /proc files only while sampling: usage() and a member leaving close them', async () => {
    const child = spawn('bash', ['-c', 'sleep 30 & sleep 31 & wait'], { stdio: 'ignore', detached: true });
    try {
      const end = Date.now() + 10_000;
      while (processTreePids(child.pid!).length < 3 && Date.now() < end) await sleep(20);
      const [, sleeper] = processTreePids(child.pid!);
      const before = openFds();
      const mon = new ProcTreeMonitor(child.pid!);
      mon.sample();
      const withTwo = openFds();
      expect(withTwo).toBeGreaterThan(before); // stat, status, io, children of each member, and /proc/stat
      process.kill(sleeper, 'SIGKILL');
      while (processTreePids(child.pid!).includes(sleeper) && Date.now() < end) await sleep(20);
      expect(mon.sample()).toBe(true); // bash still waits for the other sleep; the killed one is gone and its descriptors closed
      expect(openFds()).toBeLessThan(withTwo);
      mon.usage();
      expect(openFds()).toBe(before);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});
