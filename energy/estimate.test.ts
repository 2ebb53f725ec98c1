import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import {
  defaultWattsPerLogicalCpu,
  EstimateMeter,
  openEstimateMeter,
  readThreadsPerCore,
  rejectOldWattsFlag,
  WATTS_PER_BUSY_PHYSICAL_CORE,
} from './estimate.ts';
import { parseProcStat } from './procstat.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A procfs root holding only a stat file with the given aggregate fields. */
function procWithStat(fields: number[]): { root: string; set: (f: number[]) => void } {
  const root = mkdtempSync(join(tmpdir(), 'ffwatt-proc-'));
  dirs.push(root);
  const set = (f: number[]) =>
    writeFileSync(
      join(root, 'stat'),
      `cpu  ${f.join(' ')}\ncpu0 ${f.join(' ')}\ncpu1 0 0 0 0 0 0 0 0 0 0\nintr 1 2 3\n`,
    );
  set(fields);
  return { root, set };
}

describe('parseProcStat', () => {
  it('counts user+nice+system+irq+softirq as busy, not idle, iowait or steal', () => {
    const t = parseProcStat('cpu  10 1 5 100 7 2 3 11 4 0\ncpu0 1 1 1 1 1 1 1 1 1 1\ncpu1 1 1 1 1 1 1 1 1 1 1\n');
    expect(t).toEqual({ busy: 21n, idle: 107n, steal: 11n, cpus: 2 });
  });

  it('names the file when the content is not /proc/stat', () => {
    expect(() => parseProcStat('hello\n', '/x/stat')).toThrow(/\/x\/stat: no aggregate/);
    expect(() => parseProcStat('cpu  a b c d\n', '/x/stat')).toThrow(/malformed/);
  });
});

describe('EstimateMeter', () => {
  it('turns busy CPU ticks into a µJ counter starting at 0: ticks / 100 × W × 1e6', () => {
    const proc = procWithStat([1000, 0, 500, 9000, 0, 0, 0, 0, 0, 0]);
    const m = new EstimateMeter({ procRoot: proc.root, wattsPerLogicalCpu: 12.5 });
    expect(m.zones()).toEqual([{ meter: 'estimate', zone: 'cpu', source: 'estimate', role: 'total' }]);
    expect(m.read()).toEqual([{ zone: 'cpu', uj: 0n }]);
    // +150 busy ticks (1.5 CPU seconds) at 12.5 W = 18.75 J
    proc.set([1100, 0, 550, 9100, 0, 0, 0, 0, 0, 0]);
    expect(m.read()).toEqual([{ zone: 'cpu', uj: 18_750_000n }]);
    // idle and steal time cost nothing in the estimate
    proc.set([1100, 0, 550, 99100, 50, 0, 0, 300, 0, 0]);
    expect(m.read()[0].uj).toBe(18_750_000n);
  });

  it('never decreases, even if the kernel counter steps back', () => {
    const proc = procWithStat([1000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const m = new EstimateMeter({ procRoot: proc.root, wattsPerLogicalCpu: 10 });
    proc.set([1200, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const high = m.read()[0].uj;
    expect(high).toBe(BigInt(2 * 10 * 1e6));
    proc.set([1190, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.read()[0].uj).toBe(high);
  });

  it('refuses a bad watt figure with the field named, and reports a missing procfs as a refusal', () => {
    const proc = procWithStat([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => new EstimateMeter({ procRoot: proc.root, wattsPerLogicalCpu: 0 })).toThrow(InputError);
    expect(() => new EstimateMeter({ procRoot: proc.root, wattsPerLogicalCpu: -3 })).toThrow(/--watts-per-logical-cpu/);
    const p = openEstimateMeter({ procRoot: join(proc.root, 'nope') });
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.reason).toMatch(/cannot read .*nope\/stat/);
      expect(p.source).toBe('estimate');
      expect(p.state).toBe('unusable');
    }
  });

  it('counts real CPU work on this machine', () => {
    const m = new EstimateMeter({ wattsPerLogicalCpu: 10 });
    const before = m.read()[0].uj;
    const cpu0 = process.cpuUsage();
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const cpu = process.cpuUsage(cpu0);
    const after = m.read()[0].uj;
    // machine-wide busy time includes at least this process's own CPU time (10 ms tick granularity)
    const ownS = (cpu.user + cpu.system) / 1e6;
    expect(after - before).toBeGreaterThanOrEqual(BigInt(Math.floor((ownS - 0.02) * 10 * 1e6)));
  });
});

/** A sysfs root with the kernel's per-CPU topology files (Documentation/admin-guide/cputopology.rst). */
function topology(cpus: Array<{ pkg: number; core: number }>, offline: number[] = []): string {
  const root = mkdtempSync(join(tmpdir(), 'ffwatt-topo-'));
  dirs.push(root);
  cpus.forEach((c, i) => {
    const d = join(root, 'devices/system/cpu', `cpu${i}`);
    mkdirSync(d, { recursive: true });
    if (offline.includes(i)) return; // offline CPUs have no topology directory
    mkdirSync(join(d, 'topology'));
    writeFileSync(join(d, 'topology/physical_package_id'), `${c.pkg}\n`);
    writeFileSync(join(d, 'topology/core_id'), `${c.core}\n`);
  });
  mkdirSync(join(root, 'devices/system/cpu/cpufreq'), { recursive: true }); // not a cpuN entry
  return root;
}

describe('the default W per busy logical CPU', () => {
  it('is the per-core figure ÷ threads per core, from the kernel topology', () => {
    // 2 sockets × 2 cores × 2 threads (SMT siblings share package and core id)
    const smt2 = topology([0, 1, 2, 3, 0, 1, 2, 3].map((k) => ({ pkg: k < 2 ? 0 : 1, core: k % 2 })));
    expect(readThreadsPerCore(smt2)).toMatchObject({ threads: 2 });
    expect(defaultWattsPerLogicalCpu(smt2).watts).toBe(WATTS_PER_BUSY_PHYSICAL_CORE / 2);
    expect(defaultWattsPerLogicalCpu(smt2).origin).toMatch(/÷ 2 thread\(s\) per core \(8 logical CPUs on 4 cores/);
    const noSmt = topology(
      [
        { pkg: 0, core: 0 },
        { pkg: 0, core: 1 },
        { pkg: 0, core: 2 },
      ],
      [2],
    );
    expect(readThreadsPerCore(noSmt)).toMatchObject({ threads: 1 });
    const m = new EstimateMeter({ sysfsRoot: smt2 });
    expect(m.wattsPerLogicalCpu).toBe(5);
    expect(m.wattsOrigin).toMatch(/thread\(s\) per core/);
  });

  it('says so when the topology cannot be read, and this machine has one', () => {
    expect(readThreadsPerCore('/nonexistent')).toBeNull();
    expect(defaultWattsPerLogicalCpu('/nonexistent')).toMatchObject({
      watts: WATTS_PER_BUSY_PHYSICAL_CORE,
      origin: expect.stringMatching(/unreadable.*assumed 1/),
    });
    const here = readThreadsPerCore();
    expect(here).not.toBeNull();
    expect(here!.threads).toBeGreaterThanOrEqual(1);
  });

  it('refuses the old flag by naming the new one', () => {
    expect(() => rejectOldWattsFlag(undefined)).not.toThrow();
    expect(() => rejectOldWattsFlag('7')).toThrow(/--watts-per-core was renamed --watts-per-logical-cpu/);
  });

  it('ffwatt run and ffwatt agent exit 2 on --watts-per-core, naming --watts-per-logical-cpu', async () => {
    const bin = new URL('../bin/ffwatt.mjs', import.meta.url).pathname;
    for (const args of [
      ['run', 'matrices/quick.yml', '--watts-per-core', '7'],
      ['agent', '--master', 'http://127.0.0.1:9', '--token-file', '/nonexistent', '--watts-per-core', '7'],
    ]) {
      const r = await execa('node', [bin, ...args], { reject: false });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--watts-per-core was renamed --watts-per-logical-cpu/);
    }
  }, 60_000);
});
