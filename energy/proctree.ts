import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CLOCK_TICKS_PER_S, readMachineCpuTicks } from './procstat.ts';

/**
 * Resource use of a process tree (a root pid and all its descendants) from /proc, for
 * attributing machine energy to a job and for the `noisy_neighbour` flag
 * (machine busy CPU − job CPU). Sampled by polling; one sample reads every /proc/<pid>/stat
 * (to find descendants) and status + io of the tree's members only.
 */

export interface PidStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process (all its threads), in clock ticks. */
  ownTicks: bigint;
  /** cutime + cstime: children it has waited for. */
  childTicks: bigint;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields are taken after the last ')'. */
export function parsePidStat(text: string): PidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state): field N is f[N - 3].
  if (f.length < 15 || !Number.isInteger(pid)) return null;
  const num = (field: number) => BigInt(f[field - 3]);
  return {
    pid,
    ppid: Number(f[4 - 3]),
    ownTicks: num(14) + num(15),
    childTicks: num(16) + num(17),
  };
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null; // the process exited between listing and reading, or the file is not ours to read
  }
}

/** Every process's stat, keyed by pid. */
function readAllPidStats(procRoot: string): Map<number, PidStat> {
  const out = new Map<number, PidStat>();
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const text = readText(join(procRoot, name, 'stat'));
    const st = text === null ? null : parsePidStat(text);
    if (st) out.set(st.pid, st);
  }
  return out;
}

/** The root pid and all its descendants that are alive now (root first); empty when the root is gone. */
export function processTreePids(rootPid: number, procRoot = '/proc'): number[] {
  return treeOf(rootPid, readAllPidStats(procRoot)).map((s) => s.pid);
}

function treeOf(rootPid: number, stats: Map<number, PidStat>): PidStat[] {
  if (!stats.has(rootPid)) return [];
  const children = new Map<number, PidStat[]>();
  for (const st of stats.values()) {
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  const out: PidStat[] = [];
  const queue = [stats.get(rootPid)!];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const st = queue.shift()!;
    if (seen.has(st.pid)) continue;
    seen.add(st.pid);
    out.push(st);
    queue.push(...(children.get(st.pid) ?? []));
  }
  return out;
}

/** kB figure of one `Key:   N kB` line of /proc/<pid>/status, in bytes. */
function statusBytes(text: string, key: string): number | null {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

function ioField(text: string, key: string): bigint | null {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
  return m ? BigInt(m[1]) : null;
}

/** One reading of a tree; counters are cumulative over the life of the processes. */
export interface ProcTreeSample {
  pids: number[];
  /** CPU time of the living members plus the children they reaped, in clock ticks. */
  cpuTicks: bigint;
  /** Sum of resident set sizes now. */
  rssBytes: number;
  /** Largest single-process peak RSS (VmHWM) among the members. */
  maxProcessHwmBytes: number;
  /** Storage-level bytes (read_bytes / write_bytes) and syscall-level bytes (rchar / wchar); null when /proc/<pid>/io of some member is unreadable. */
  io: { readBytes: bigint; writeBytes: bigint; readChars: bigint; writeChars: bigint } | null;
}

/** Reads the tree once; null when the root process is gone. */
export function sampleProcessTree(rootPid: number, procRoot = '/proc'): ProcTreeSample | null {
  const members = treeOf(rootPid, readAllPidStats(procRoot));
  if (members.length === 0) return null;
  let cpuTicks = 0n;
  let rssBytes = 0;
  let maxHwm = 0;
  let io: ProcTreeSample['io'] = { readBytes: 0n, writeBytes: 0n, readChars: 0n, writeChars: 0n };
  for (const st of members) {
    cpuTicks += st.ownTicks + st.childTicks;
    const status = readText(join(procRoot, String(st.pid), 'status'));
    if (status) {
      rssBytes += statusBytes(status, 'VmRSS') ?? 0; // kernel threads have no VmRSS line
      maxHwm = Math.max(maxHwm, statusBytes(status, 'VmHWM') ?? 0);
    }
    if (io === null) continue;
    const ioText = readText(join(procRoot, String(st.pid), 'io'));
    const r = ioText === null ? null : ioField(ioText, 'read_bytes');
    const w = ioText === null ? null : ioField(ioText, 'write_bytes');
    const rc = ioText === null ? null : ioField(ioText, 'rchar');
    const wc = ioText === null ? null : ioField(ioText, 'wchar');
    if (r === null || w === null || rc === null || wc === null) io = null;
    else io = { readBytes: io.readBytes + r, writeBytes: io.writeBytes + w, readChars: io.readChars + rc, writeChars: io.writeChars + wc };
  }
  return { pids: members.map((s) => s.pid), cpuTicks, rssBytes, maxProcessHwmBytes: maxHwm, io };
}

export interface ProcTreeUsage {
  /** Samples taken (the first one is the baseline). */
  samples: number;
  /** Whether the root process was still alive at the last sample. */
  alive: boolean;
  /** Job CPU seconds since the first sample. */
  cpuSeconds: number;
  /** Machine busy CPU seconds over the same samples (/proc/stat). */
  machineCpuSeconds: number;
  /** CPU seconds that did not belong to the job: max(0, machine − job). Basis of the noisy_neighbour flag. */
  otherCpuSeconds: number;
  /** Peak over samples of the tree's summed RSS (at least the largest single-process VmHWM). */
  peakRssBytes: number;
  /** Bytes since the first sample; null (with ioNote) when /proc/<pid>/io could not be read. */
  readBytes: number | null;
  writeBytes: number | null;
  readChars: number | null;
  writeChars: number | null;
  ioNote?: string;
}

export interface ProcTreeMonitorOptions {
  procRoot?: string;
  clockTicksPerS?: number;
}

/**
 * Follows one process tree over time. Call sample() periodically (1–10 Hz is plenty);
 * usage() gives the deltas since the first sample. Counters are kept monotonic: CPU time of a
 * child that exits and is reaped outside the tree would otherwise make the sum go down.
 */
export class ProcTreeMonitor {
  readonly procRoot: string;
  private readonly ticksPerS: number;
  private first: { tree: ProcTreeSample; machineBusy: bigint } | null = null;
  private maxCpuTicks = 0n;
  private machineBusy = 0n;
  private peakRss = 0;
  private io: NonNullable<ProcTreeSample['io']> | null = null;
  private ioLost = false;
  private count = 0;
  private lastAlive = false;

  constructor(readonly rootPid: number, opts: ProcTreeMonitorOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.ticksPerS = opts.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
  }

  /** Takes one sample; returns false once the root process is gone (nothing recorded then). */
  sample(): boolean {
    const tree = sampleProcessTree(this.rootPid, this.procRoot);
    this.lastAlive = tree !== null;
    if (!tree) return false;
    const busy = readMachineCpuTicks(this.procRoot).busy;
    this.count += 1;
    if (!this.first) {
      this.first = { tree, machineBusy: busy };
      this.maxCpuTicks = tree.cpuTicks;
      this.machineBusy = busy;
      this.io = tree.io;
      this.ioLost = tree.io === null;
    }
    if (tree.cpuTicks > this.maxCpuTicks) this.maxCpuTicks = tree.cpuTicks;
    if (busy > this.machineBusy) this.machineBusy = busy;
    this.peakRss = Math.max(this.peakRss, tree.rssBytes, tree.maxProcessHwmBytes);
    if (tree.io === null) this.ioLost = true;
    else if (this.io) {
      const max = (a: bigint, b: bigint) => (a > b ? a : b);
      this.io = {
        readBytes: max(this.io.readBytes, tree.io.readBytes),
        writeBytes: max(this.io.writeBytes, tree.io.writeBytes),
        readChars: max(this.io.readChars, tree.io.readChars),
        writeChars: max(this.io.writeChars, tree.io.writeChars),
      };
    }
    return true;
  }

  usage(): ProcTreeUsage {
    const base = this.first;
    const secs = (ticks: bigint) => Number(ticks) / this.ticksPerS;
    const cpuSeconds = base ? secs(this.maxCpuTicks - base.tree.cpuTicks) : 0;
    const machineCpuSeconds = base ? secs(this.machineBusy - base.machineBusy) : 0;
    const ioOk = base !== null && !this.ioLost && this.io !== null && base.tree.io !== null;
    const d = (k: 'readBytes' | 'writeBytes' | 'readChars' | 'writeChars') =>
      ioOk ? Number(this.io![k] - base!.tree.io![k]) : null;
    return {
      samples: this.count,
      alive: this.lastAlive,
      cpuSeconds,
      machineCpuSeconds,
      otherCpuSeconds: Math.max(0, machineCpuSeconds - cpuSeconds),
      peakRssBytes: this.peakRss,
      readBytes: d('readBytes'),
      writeBytes: d('writeBytes'),
      readChars: d('readChars'),
      writeChars: d('writeChars'),
      ...(base === null
        ? { ioNote: 'no sample taken while the process was alive' }
        : ioOk
          ? {}
          : { ioNote: `/proc/<pid>/io of a process in the tree of ${this.rootPid} was unreadable (another user's process: run as that user or root)` }),
    };
  }
}
