import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CounterFile } from './counter-file.ts';
import { DEFAULT_CLOCK_TICKS_PER_S } from './procstat.ts';
import { KeptOpenReader, oneShotReader, type ProcReader } from './proc-files.ts';

/**
 * Resource use of a process tree (a root pid and all its descendants) from /proc, for
 * attributing machine energy to a job and for the `noisy_neighbour` flag
 * (machine busy CPU − job CPU). Sampled by polling; one sample walks the root's own descendants
 * through /proc/<pid>/task/<tid>/children and reads stat, status and io of those members only
 * (a kernel without CONFIG_PROC_CHILDREN falls back to reading every /proc/<pid>/stat).
 */

export interface PidStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process (all its threads), in clock ticks. */
  ownTicks: bigint;
  /** cutime + cstime: children it has waited for. */
  childTicks: bigint;
  /** num_threads (field 20). */
  threads: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields are taken after the last ')'. */
export function parsePidStat(text: string): PidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state): field N is f[N - 3].
  if (f.length < 15 || !Number.isInteger(pid)) return null;
  const num = (field: number) => BigInt(f[field - 3]);
  return {
    pid,
    ppid: Number(f[4 - 3]),
    ownTicks: num(14) + num(15),
    childTicks: num(16) + num(17),
    threads: Number(f[20 - 3]),
  };
}

function readText(reader: ProcReader, file: string): string | null {
  const r = reader.read(file);
  return typeof r === 'string' ? r : null;
}

/** Every process's stat, keyed by pid: the walk for kernels without /proc/<pid>/task/<tid>/children. */
function readAllPidStats(procRoot: string): Map<number, PidStat> {
  const out = new Map<number, PidStat>();
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const text = readText(oneShotReader, join(procRoot, name, 'stat'));
    const st = text === null ? null : parsePidStat(text);
    if (st) out.set(st.pid, st);
  }
  return out;
}

/** Whether this kernel has /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN); learnt once per /proc root. */
const childrenFilesByRoot = new Map<string, boolean>();

function hasChildrenFiles(procRoot: string, alivePid: number): boolean {
  let known = childrenFilesByRoot.get(procRoot);
  if (known === undefined) {
    known = existsSync(join(procRoot, String(alivePid), 'task', String(alivePid), 'children'));
    childrenFilesByRoot.set(procRoot, known);
  }
  return known;
}

/**
 * Thread ids of multi-threaded members from the previous sample, with the thread count they were
 * listed at. A list is used again only while the count is the same and every one of its threads'
 * children files still reads: a thread that exited (replaced or not) fails its read (ESRCH), a
 * new one changes the count; either way the task/ folder is listed again.
 */
export type TidCache = Map<number, { threads: number; tids: string[] }>;

function listTids(procRoot: string, st: PidStat, cache: TidCache | null): string[] | null {
  if (st.threads === 1) return [String(st.pid)]; // the common case (a shell, FFmpeg without threads): no directory listing
  const known = cache?.get(st.pid);
  if (known && known.threads === st.threads) return known.tids;
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${st.pid}/task`);
  } catch {
    return null; // exited
  }
  cache?.set(st.pid, { threads: st.threads, tids });
  return tids;
}

/** Pids of the direct children of every thread of `pid` (a child belongs to the thread that forked it). */
function childPids(reader: ProcReader, procRoot: string, st: PidStat, cache: TidCache | null, fresh = false): number[] {
  if (fresh) cache?.delete(st.pid);
  const tids = listTids(procRoot, st, cache);
  if (tids === null) return [];
  const out: number[] = [];
  for (const tid of tids) {
    const r = reader.read(`${procRoot}/${st.pid}/task/${tid}/children`);
    if (typeof r !== 'string') {
      // A thread of a cached list is gone: list the threads again (once).
      if (!fresh && st.threads > 1 && cache?.has(st.pid)) return childPids(reader, procRoot, st, cache, true);
      continue;
    }
    if (!r) continue;
    // "2101 2107 " (each pid followed by a space); fs/proc/array.c children_seq_show
    for (const p of r.split(' ')) if (p.trim().length > 0) out.push(Number(p));
  }
  return out;
}

/** How a sample finds the root's descendants: `auto` walks children files where the kernel has them, else scans. */
export type TreeWalk = 'auto' | 'scan';

/**
 * The root and its descendants, root first (breadth first), from the root's own descendants only:
 * each member's stat and its threads' children files. A process that exits during the walk is left
 * out with its subtree (its children are being reparented outside the tree anyway).
 */
function walkTree(
  rootPid: number,
  procRoot: string,
  walk: TreeWalk,
  reader: ProcReader,
  tids: TidCache | null = null,
): PidStat[] {
  if (walk === 'scan') return treeOf(rootPid, readAllPidStats(procRoot));
  const rootText = readText(reader, `${procRoot}/${rootPid}/stat`);
  const root = rootText === null ? null : parsePidStat(rootText);
  if (!root) return [];
  if (!hasChildrenFiles(procRoot, rootPid)) return treeOf(rootPid, readAllPidStats(procRoot));
  const out: PidStat[] = [root];
  const seen = new Set<number>([rootPid]);
  for (let i = 0; i < out.length; i++) {
    for (const pid of childPids(reader, procRoot, out[i], tids)) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const text = readText(reader, `${procRoot}/${pid}/stat`);
      const st = text === null ? null : parsePidStat(text);
      if (st) out.push(st);
    }
  }
  if (tids) for (const pid of tids.keys()) if (!seen.has(pid)) tids.delete(pid); // left the tree
  return out;
}

/** The root pid and all its descendants that are alive now (root first); empty when the root is gone. */
export function processTreePids(rootPid: number, procRoot = '/proc', walk: TreeWalk = 'auto'): number[] {
  return walkTree(rootPid, procRoot, walk, oneShotReader).map((s) => s.pid);
}

/** The tree from a full scan of every process's stat (ppid links). */
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
const STATUS_KB = { VmRSS: /^VmRSS:\s+(\d+)\s+kB/m, VmHWM: /^VmHWM:\s+(\d+)\s+kB/m };
const IO_FIELD = {
  read_bytes: /^read_bytes:\s+(\d+)/m,
  write_bytes: /^write_bytes:\s+(\d+)/m,
  rchar: /^rchar:\s+(\d+)/m,
  wchar: /^wchar:\s+(\d+)/m,
};

function statusBytes(text: string, key: keyof typeof STATUS_KB): number | null {
  const m = STATUS_KB[key].exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

function ioField(text: string, key: keyof typeof IO_FIELD): bigint | null {
  const m = IO_FIELD[key].exec(text);
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
export function sampleProcessTree(
  rootPid: number,
  procRoot = '/proc',
  walk: TreeWalk = 'auto',
  reader: ProcReader = oneShotReader,
  tids: TidCache | null = null,
): ProcTreeSample | null {
  const members = walkTree(rootPid, procRoot, walk, reader, tids);
  if (members.length === 0) return null;
  let cpuTicks = 0n;
  let rssBytes = 0;
  let maxHwm = 0;
  let io: ProcTreeSample['io'] = { readBytes: 0n, writeBytes: 0n, readChars: 0n, writeChars: 0n };
  for (const st of members) {
    cpuTicks += st.ownTicks + st.childTicks;
    const status = readText(reader, `${procRoot}/${st.pid}/status`);
    if (status) {
      rssBytes += statusBytes(status, 'VmRSS') ?? 0; // kernel threads have no VmRSS line
      maxHwm = Math.max(maxHwm, statusBytes(status, 'VmHWM') ?? 0);
    }
    if (io === null) continue;
    const read = reader.read(`${procRoot}/${st.pid}/io`);
    // A member that exited since the walk adds nothing now; once reaped, its counts are in its parent's.
    // Only an io file that is there but not ours to read makes the tree's I/O unknown.
    if (typeof read !== 'string' && read.gone) continue;
    const ioText = typeof read === 'string' ? read : null;
    const r = ioText === null ? null : ioField(ioText, 'read_bytes');
    const w = ioText === null ? null : ioField(ioText, 'write_bytes');
    const rc = ioText === null ? null : ioField(ioText, 'rchar');
    const wc = ioText === null ? null : ioField(ioText, 'wchar');
    if (r === null || w === null || rc === null || wc === null) io = null;
    else
      io = {
        readBytes: io.readBytes + r,
        writeBytes: io.writeBytes + w,
        readChars: io.readChars + rc,
        writeChars: io.writeChars + wc,
      };
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
  /** `scan` forces the full /proc scan (for comparing against it); default `auto`. */
  walk?: TreeWalk;
  clockTicksPerS?: number;
}

/**
 * Follows one process tree over time. Call sample() periodically (1–10 Hz is plenty);
 * usage() gives the deltas since the first sample. Between samples the members' /proc files
 * stay open (energy/proc-files.ts): they are closed when a member leaves the tree, when the
 * root is gone, and by usage(). Counters are kept monotonic: CPU time of a
 * child that exits and is reaped outside the tree would otherwise make the sum go down.
 */
export class ProcTreeMonitor {
  readonly procRoot: string;
  private readonly walk: TreeWalk;
  private readonly ticksPerS: number;
  private first: { tree: ProcTreeSample; machineBusy: bigint } | null = null;
  private maxCpuTicks = 0n;
  private machineBusy = 0n;
  private peakRss = 0;
  private io: NonNullable<ProcTreeSample['io']> | null = null;
  private ioLost = false;
  private count = 0;
  private lastAlive = false;
  /** Descriptors of the members' /proc files and /proc/stat, kept open between samples. */
  private readonly files = new KeptOpenReader();
  /** /proc/stat, of which only the first line is parsed (the rest is the long interrupt lists). */
  private readonly machineStat: CounterFile;
  /** Thread lists of multi-threaded members, kept between samples (walk: auto). */
  private readonly tids: TidCache = new Map();

  constructor(
    readonly rootPid: number,
    opts: ProcTreeMonitorOptions = {},
  ) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.walk = opts.walk ?? 'auto';
    this.ticksPerS = opts.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
    this.machineStat = new CounterFile(join(this.procRoot, 'stat'));
  }

  /** Takes one sample; returns false once the root process is gone (nothing recorded then). */
  sample(): boolean {
    const tree = sampleProcessTree(this.rootPid, this.procRoot, this.walk, this.files, this.tids);
    this.lastAlive = tree !== null;
    if (!tree) {
      this.close();
      return false;
    }
    const busy = BigInt(this.machineStat.readProcStatBusy()); // throws naming the file
    this.files.sweep();
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

  private close(): void {
    this.tids.clear();
    this.files.close();
    this.machineStat.close();
  }

  /** Usage so far. Also closes the descriptors kept open for sampling (a later sample() reopens them), so a monitor read last with usage() leaves nothing open. */
  usage(): ProcTreeUsage {
    this.close();
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
          : {
              ioNote: `/proc/<pid>/io of a process in the tree of ${this.rootPid} was unreadable (another user's process: run as that user or root)`,
            }),
    };
  }
}
