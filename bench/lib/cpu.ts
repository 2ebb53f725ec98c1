/** CPU time and memory of processes from /proc (this one, its reaped children, or any pid). */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** USER_HZ of /proc/<pid>/stat on Linux (x86_64 and arm64 kernels use 100). */
const TICKS_PER_S = 100;

export interface ProcCpu {
  /** CPU seconds of the process itself (user + system). */
  self: number;
  /** CPU seconds of its children that have exited and been waited for (cutime + cstime). */
  children: number;
  rssBytes: number;
}

/** Reads /proc/<pid>/stat; fields after the command name, which may contain spaces. */
export function procCpu(pid: number | 'self' = 'self'): ProcCpu {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17, rss 24.
  const n = (field: number) => Number(f[field - 3]);
  return {
    self: (n(14) + n(15)) / TICKS_PER_S,
    children: (n(16) + n(17)) / TICKS_PER_S,
    rssBytes: n(24) * 4096,
  };
}

/** CPU seconds of this process in µs resolution (process.cpuUsage), user + system. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Peak resident set of this process (VmHWM), bytes. */
export function peakRssBytes(pid: number | 'self' = 'self'): number | null {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

export function load1(): number {
  return Number(loadavg()[0].toFixed(2));
}

/**
 * CPU seconds of this process' threads from /proc/self/task/<tid>/stat (USER_HZ ticks): the main
 * thread (tid = pid: JavaScript, the event loop, synchronous fs) apart from all the others (V8's
 * GC and compiler threads, libuv's thread pool, loader threads). Threads that exited are not counted.
 */
export function threadCpuSeconds(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // exited between the listing and the read
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const s = (Number(f[11]) + Number(f[12])) / TICKS_PER_S; // utime 14, stime 15
    if (Number(tid) === process.pid) main += s;
    else others += s;
  }
  return { main, others };
}
