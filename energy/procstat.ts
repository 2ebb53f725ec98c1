import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Linux reports /proc CPU times in clock ticks of USER_HZ, which is 100 on every mainstream architecture. */
export const DEFAULT_CLOCK_TICKS_PER_S = 100;

/** Machine-wide CPU time from the first line of /proc/stat, in clock ticks. */
export interface MachineCpuTicks {
  /** user + nice + system + irq + softirq: time the CPUs did work (guest time is already inside user/nice). */
  busy: bigint;
  /** idle + iowait. */
  idle: bigint;
  /** Time a hypervisor gave to someone else; not work done here, so not busy. */
  steal: bigint;
  /** Number of `cpuN` lines: online logical CPUs. */
  cpus: number;
}

/** Reads `<procRoot>/stat`. Throws an Error naming the file when it is missing or malformed. */
export function readMachineCpuTicks(procRoot = '/proc'): MachineCpuTicks {
  const file = join(procRoot, 'stat');
  const text = readFileSync(file, 'utf8');
  return parseProcStat(text, file);
}

export function parseProcStat(text: string, file = '/proc/stat'): MachineCpuTicks {
  const lines = text.split('\n');
  const first = lines.find((l) => l.startsWith('cpu '));
  if (!first) throw new Error(`${file}: no aggregate "cpu " line`);
  const f = first.trim().split(/\s+/).slice(1);
  if (f.length < 4 || f.some((v) => !/^\d+$/.test(v))) throw new Error(`${file}: malformed "cpu " line: ${first}`);
  const n = (i: number): bigint => (i < f.length ? BigInt(f[i]) : 0n);
  // Fields: user nice system idle iowait irq softirq steal guest guest_nice
  const cpus = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return {
    busy: n(0) + n(1) + n(2) + n(5) + n(6),
    idle: n(3) + n(4),
    steal: n(7),
    cpus,
  };
}
