/**
 * Child processes, run safely: every child gets its own process group and sits in a
 * registry, so SIGINT/SIGTERM/SIGHUP or exit of this process stops them all (ffmpeg,
 * nginx and nginx's workers). A finished run is one `ProcessResult`, both the value
 * returned and the error thrown (zx style), with a filtered stderr tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';

export interface ProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Aborting stops the process (see stopWith / graceMs). */
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Keep the whole stdout in the result (for short commands such as `ffmpeg -encoders`). */
  captureStdout?: boolean;
  /**
   * Leave stdout an unread pipe, exposed as `RunningProcess.stdout`, to be handed to another
   * process as its stdin (a pipeline: `a | b`).
   */
  pipeStdout?: boolean;
  /** The child's stdin: a pipe (default; needed for stopWith 'q'), nothing, or another process's `stdout`. */
  stdin?: 'pipe' | 'ignore' | Readable;
  /** How a stop begins: 'q' on stdin (ffmpeg's own quit key) or a signal. Default SIGTERM. */
  stopWith?: 'q' | NodeJS.Signals;
  /** Milliseconds between the polite stop, SIGTERM, and SIGKILL. Default 3000. */
  graceMs?: number;
  /** Bytes of stderr kept. Default 4096. */
  tailBytes?: number;
  /** Return failures instead of throwing them. */
  nothrow?: boolean;
}

export class ProcessResult extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly durationS: number,
    readonly stderrTail: string,
    readonly pid: number | null,
    readonly stdout: string,
    /** True when stopped on purpose (abort or stop()). */
    readonly stopped: boolean,
    /** Set when the process could not be started at all (e.g. ENOENT). */
    readonly spawnError: string | null,
  ) {
    super(describe(argv, exitCode, signal, stderrTail, spawnError));
    this.name = 'ProcessResult';
  }

  get ok(): boolean {
    return this.exitCode === 0 && this.spawnError === null;
  }
}

function describe(argv: string[], code: number | null, signal: string | null, tail: string, spawnError: string | null): string {
  const cmd = argv[0] ?? '?';
  if (spawnError) return `${cmd} could not be started: ${spawnError}`;
  const how = code === 0 ? 'exited with code 0' : signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const last = tail.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
  return `${cmd} ${how}${code === 0 || !last ? '' : `: ${last}`}`;
}

/** Lines that say nothing once a run is over: FFmpeg's stats and progress lines. */
const NOISE = [/^\s*frame=\s*\d+/, /^\s*size=\s*\S+\s+time=/, /^(fps|bitrate|total_size|out_time\w*|dup_frames|drop_frames|speed|progress|stream_\d+_\d+_q)=/];

/** The last `limit` bytes of stderr, without progress noise, kept line by line. */
export class StderrTail {
  private lines: string[] = [];
  private bytes = 0;
  private partial = '';
  constructor(private readonly limit = 4096) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
    if (this.partial.length > this.limit) {
      this.add(this.partial);
      this.partial = '';
    }
  }

  private add(line: string): void {
    if (line.trim() === '' || NOISE.some((re) => re.test(line))) return;
    const l = line.length > this.limit ? line.slice(-this.limit) : line;
    this.lines.push(l);
    this.bytes += l.length + 1;
    while (this.bytes > this.limit && this.lines.length > 1) this.bytes -= this.lines.shift()!.length + 1;
  }

  text(): string {
    if (this.partial) {
      this.add(this.partial);
      this.partial = '';
    }
    return this.lines.join('\n');
  }
}

// ---- registry of live children -------------------------------------------------------

interface Entry {
  child: ChildProcess;
  argv: string[];
}
const live = new Map<number, Entry>();
let handlersInstalled = false;
let stoppingAll = false;

/** True once stopAllProcesses ran (a signal to this program): children failing now were stopped, not broken. */
export function stoppingAllProcesses(): boolean {
  return stoppingAll;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Processes started here and not yet exited. */
export function liveProcesses(): Array<{ pid: number; argv: string[] }> {
  return [...live.entries()].map(([pid, e]) => ({ pid, argv: e.argv }));
}

/** SIGTERM every registered process group, wait up to graceMs, then SIGKILL the rest. */
export async function stopAllProcesses(graceMs = 2000): Promise<void> {
  stoppingAll = true;
  for (const pid of live.keys()) killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
}

function killAllNow(): void {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
}

function onSignal(sig: NodeJS.Signals): void {
  // Decided when the signal arrives: a handler of the program that is gone 1.5 s later (it
  // finished its own shutdown) still owned this signal, and the program exits as it chose.
  const onlyOurs = process.listenerCount(sig) <= 1;
  void stopAllProcesses(1500).then(() => {
    // Only ours listening: behave as the default would and die by the same signal.
    if (onlyOurs) {
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
    }
  });
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  process.on('exit', killAllNow);
}

// ---- running --------------------------------------------------------------------------

export interface RunningProcess {
  readonly pid: number | null;
  readonly argv: string[];
  /** Settles when the process has exited and its output is drained; never rejects. */
  readonly done: Promise<ProcessResult>;
  /** Stops it (polite first, then SIGTERM, then SIGKILL) and waits for the result. */
  stop(): Promise<ProcessResult>;
  /** Writes to its stdin (ignored once it has exited). */
  write(data: string): void;
  /** The unread stdout pipe when started with `pipeStdout`, else null. */
  readonly stdout: Readable | null;
}

/** Starts a process; its result comes through `done` (never rejects). */
export function startProcess(command: string, args: string[], opts: ProcessOptions = {}): RunningProcess {
  const argv = [command, ...args];
  const t0 = performance.now();
  const tail = new StderrTail(opts.tailBytes ?? 4096);
  const stdoutParts: string[] = [];
  const graceMs = opts.graceMs ?? 3000;
  let stopped = false;

  if (opts.signal?.aborted) {
    const r = new ProcessResult(argv, null, null, 0, '', null, '', true, 'aborted before start');
    return { pid: null, argv, done: Promise.resolve(r), stop: async () => r, write: () => {}, stdout: null };
  }

  installHandlers();
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true, // own process group: killable as a group, and Ctrl-C reaches us, not it
    stdio: [opts.stdin ?? 'pipe', opts.onStdout || opts.captureStdout || opts.pipeStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  const pid = child.pid ?? null;
  if (pid !== null) live.set(pid, { child, argv });

  child.stdin?.on('error', () => {}); // EPIPE after the child exited
  child.stdout?.on('data', (c: Buffer) => {
    if (opts.captureStdout) stdoutParts.push(c.toString('utf8'));
    opts.onStdout?.(c);
  });
  child.stderr?.on('data', (c: Buffer) => {
    tail.push(c.toString('utf8'));
    opts.onStderr?.(c);
  });

  const done = new Promise<ProcessResult>((resolve) => {
    let settled = false;
    let spawnError: string | null = null;
    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (pid !== null) live.delete(pid);
      clearTimers();
      opts.signal?.removeEventListener('abort', onAbort);
      const durationS = (performance.now() - t0) / 1000;
      resolve(new ProcessResult(argv, code, sig, durationS, tail.text(), pid, stdoutParts.join(''), stopped, spawnError));
    };
    child.on('error', (err) => {
      spawnError = err.message;
      if (pid === null) finish(null, null);
    });
    child.on('exit', (code, sig) => {
      if (pid !== null) live.delete(pid);
      // Normally 'close' follows once the pipes drain; a grandchild holding them open must not hang us.
      setTimeout(() => finish(code, sig), 2000).unref();
    });
    child.on('close', (code, sig) => finish(code, sig));
  });

  const timers: NodeJS.Timeout[] = [];
  const clearTimers = () => timers.splice(0).forEach(clearTimeout);
  let stopping: Promise<ProcessResult> | null = null;
  const stop = (): Promise<ProcessResult> => {
    if (stopping) return stopping;
    stopped = true;
    if (pid !== null && live.has(pid)) {
      const first = opts.stopWith ?? 'SIGTERM';
      if (first === 'q' && child.stdin) {
        child.stdin?.write('q\n');
        timers.push(setTimeout(() => killGroup(pid, 'SIGTERM'), graceMs));
        timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs * 2));
      } else {
        const sig = first === 'q' ? 'SIGTERM' : first; // no stdin to send 'q' to
        killGroup(pid, sig);
        if (sig !== 'SIGKILL') timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs));
      }
    }
    stopping = done;
    return done;
  };
  const onAbort = () => void stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  return {
    pid,
    argv,
    done,
    stop,
    write: (data: string) => {
      if (child.stdin && !child.stdin.destroyed) child.stdin.write(data);
    },
    stdout: opts.pipeStdout ? child.stdout : null,
  };
}

/** Runs a process to the end. Resolves with the result; a failure (non-zero exit, signal,
 * spawn error, stop) is thrown as that same ProcessResult unless `nothrow` is set. */
export async function runProcess(command: string, args: string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const r = await startProcess(command, args, opts).done;
  if (!r.ok && !opts.nothrow) throw r;
  return r;
}
