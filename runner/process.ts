/**
 * Starting and stopping child processes, on execa. Every child gets its own process group and
 * sits in the registry (registry.ts), so a signal to this program stops them all; a stop goes
 * polite first ('q' or a signal), then SIGTERM, then SIGKILL to the whole group.
 */
import { execa } from 'execa';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { ProcessResult } from './result.ts';
import { StderrTail } from './stderr-tail.ts';
import { isLive, killGroup, register, unregister } from './registry.ts';

export interface ProcessOptions {
  cwd?: string;
  /** The child's whole environment. Default: this program's. */
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
  /** Return failures instead of throwing them (runProcess). */
  nothrow?: boolean;
}

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

/** After the child exits, how long its pipes may stay open (a grandchild holding them) before we stop waiting. */
const DRAIN_AFTER_EXIT_MS = 2000;

/** Starts a process; its result comes through `done` (never rejects). */
export function startProcess(command: string, args: string[], opts: ProcessOptions = {}): RunningProcess {
  const argv = [command, ...args];
  const t0 = performance.now();
  const tail = new StderrTail(opts.tailBytes ?? 4096);
  const stdoutParts: string[] = [];
  const graceMs = opts.graceMs ?? 3000;
  let stopped = false;

  if (opts.signal?.aborted) {
    const r = new ProcessResult({
      argv,
      exitCode: null,
      signal: null,
      durationS: 0,
      stderrTail: '',
      pid: null,
      stdout: '',
      stopped: true,
      spawnError: 'aborted before start',
    });
    return { pid: null, argv, done: Promise.resolve(r), stop: async () => r, write: () => {}, stdout: null };
  }

  const child = execa(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    extendEnv: false,
    detached: true, // own process group: killable as a group, and Ctrl-C reaches us, not it
    stdin: opts.stdin ?? 'pipe',
    stdout: opts.onStdout || opts.captureStdout || opts.pipeStdout ? 'pipe' : 'ignore',
    stderr: 'pipe',
    buffer: false, // read here: stderr into the tail, stdout to the caller
    reject: false,
    cleanup: false, // the registry stops children on exit and on signals
  });
  const pid = child.pid ?? null;
  if (pid !== null) register(pid, argv);

  child.stdin?.on('error', () => {}); // EPIPE after the child exited
  if (!opts.pipeStdout) {
    child.stdout?.on('data', (c: Buffer) => {
      if (opts.captureStdout) stdoutParts.push(c.toString('utf8'));
      opts.onStdout?.(c);
    });
  }
  child.stderr?.on('data', (c: Buffer) => {
    tail.push(c.toString('utf8'));
    opts.onStderr?.(c);
  });

  const timers: NodeJS.Timeout[] = [];
  const clearTimers = () => timers.splice(0).forEach(clearTimeout);

  const done = new Promise<ProcessResult>((resolve) => {
    let settled = false;
    const finish = (f: {
      exitCode: number | null;
      signal: string | null;
      spawnError: string | null;
      durationS?: number;
    }) => {
      if (settled) return;
      settled = true;
      if (pid !== null) unregister(pid);
      clearTimers();
      opts.signal?.removeEventListener('abort', onAbort);
      const durationS = f.durationS ?? (performance.now() - t0) / 1000;
      resolve(
        new ProcessResult({
          argv,
          ...f,
          durationS,
          stderrTail: tail.text(),
          pid,
          stdout: stdoutParts.join(''),
          stopped,
        }),
      );
    };
    child.on('exit', (code, sig) => {
      if (pid !== null) unregister(pid);
      if (settled) return;
      // Normally execa settles once the pipes drain; a grandchild holding them open must not hang us.
      // Cleared when it does (finish), so a normal exit costs no later wake-up.
      const drain = setTimeout(() => {
        finish({ exitCode: code, signal: sig, spawnError: null });
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, DRAIN_AFTER_EXIT_MS);
      drain.unref();
      timers.push(drain);
    });
    void child.then((r) => {
      // execa's result: an exit (code or signal), or a failure to start (then no pid, code ENOENT…).
      const started = pid !== null;
      const spawnError = started
        ? null
        : r.cause instanceof Error
          ? r.cause.message
          : (r.shortMessage ?? 'could not be started');
      finish({ exitCode: r.exitCode ?? null, signal: r.signal ?? null, spawnError, durationS: r.durationMs / 1000 });
    });
  });

  let stopping: Promise<ProcessResult> | null = null;
  const stop = (): Promise<ProcessResult> => {
    if (stopping) return stopping;
    stopped = true;
    if (pid !== null && isLive(pid)) {
      const first = opts.stopWith ?? 'SIGTERM';
      if (first === 'q' && child.stdin) {
        child.stdin.write('q\n');
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
