import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import koffi from 'koffi';
import { InputError, RunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

/**
 * One measurer per machine. Energy counters (RAPL, NVML) and the estimate are machine-wide: a
 * second agent, or a local run, measuring on the same host at the same time corrupts both
 * figures. Whoever measures holds an exclusive flock(2) on one file for the whole job (cooldown,
 * idle baseline, encode, quality scoring). flock locks belong to the open file description,
 * so the kernel drops the lock when the holder dies, however it dies (kill -9 included); Node
 * opens files close-on-exec, so FFmpeg children never inherit it. The file holds the holder's
 * name (pid, node id, since) for the others' log lines; it is never unlinked (unlinking a flock
 * file lets two processes lock two different inodes).
 */

/** /run/lock is the FHS place for lock files: tmpfs, world-writable and sticky on Debian/Ubuntu/RHEL. */
export const DEFAULT_HOST_LOCK_PATH = '/run/lock/ffwatt-measure.lock';
export const HOST_LOCK_ENV = 'FFWATT_HOST_LOCK';
export const HOST_LOCK_WAIT_ENV = 'FFWATT_HOST_LOCK_WAIT_S';
/** How long a measurer waits for the lock before it gives up with HostLockBusyError. */
export const DEFAULT_HOST_LOCK_WAIT_S = 600;

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11; // == EAGAIN on Linux
const EINTR = 4;

let flockFn: ((fd: number, op: number) => number) | null = null;
function flock(fd: number, op: number): number {
  if (!flockFn) {
    if (process.platform !== 'linux')
      throw new RunError(`host lock: flock(2) through libc is only wired for Linux (this is ${process.platform})`);
    flockFn = koffi.load('libc.so.6').func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
  }
  return flockFn(fd, op);
}

export interface HostLockHolder {
  pid: number;
  nodeId: string;
  /** ISO time the holder took the lock. */
  since: string;
  /** What holds it: `agent`, `local run`, … */
  role: string;
}

export interface HostLockOptions {
  path?: string;
  nodeId: string;
  role: string;
  /** Seconds to wait for a busy lock before refusing (default 600). */
  waitS?: number;
  /** Poll interval while waiting (flock is taken non-blocking so the wait can be aborted). */
  pollMs?: number;
  log?: Logger;
}

export class HostLockBusyError extends RunError {
  constructor(
    readonly path: string,
    readonly holder: HostLockHolder | null,
    waitedS: number,
  ) {
    super(
      `another measurer holds this machine (${describeHolder(holder)}; lock ${path}) and did not release it within ${waitedS} s: two measurers on one host corrupt each other's energy figures. Wait for it to finish or stop it; a different lock file (--host-lock / ${HOST_LOCK_ENV}) is only right for a different machine`,
    );
  }
}

export function describeHolder(h: HostLockHolder | null): string {
  if (!h) return 'holder unknown: it has not written its name yet';
  return `pid ${h.pid}, node ${h.nodeId}, ${h.role}, since ${h.since}`;
}

/** The lock path from an explicit value, else FFWATT_HOST_LOCK, else DEFAULT_HOST_LOCK_PATH. */
export function hostLockPath(explicit?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env[HOST_LOCK_ENV] || DEFAULT_HOST_LOCK_PATH;
}

/** The wait bound from FFWATT_HOST_LOCK_WAIT_S (seconds ≥ 0), else the default 600 s. */
export function hostLockWaitS(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[HOST_LOCK_WAIT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_HOST_LOCK_WAIT_S;
  const n = Number(raw);
  if (!(n >= 0) || !Number.isFinite(n))
    throw new InputError(`${HOST_LOCK_WAIT_ENV} must be a number of seconds ≥ 0, got "${raw}"`, {
      field: HOST_LOCK_WAIT_ENV,
    });
  return n;
}

/** A held lock; release() is idempotent. */
export interface HostLockLease {
  readonly holder: HostLockHolder;
  release(): void;
}

export class HostLock {
  readonly path: string;
  private readonly waitMs: number;
  private readonly pollMs: number;

  constructor(readonly opts: HostLockOptions) {
    this.path = hostLockPath(opts.path);
    const waitS = opts.waitS ?? DEFAULT_HOST_LOCK_WAIT_S;
    if (!(waitS >= 0) || !Number.isFinite(waitS))
      throw new InputError(`--host-lock-wait-s must be a non-negative number of seconds, got ${waitS}`, {
        field: '--host-lock-wait-s',
      });
    this.waitMs = waitS * 1000;
    this.pollMs = opts.pollMs ?? 100;
  }

  /** Throws the InputError of an unusable lock path now, before anything is measured. */
  check(): void {
    closeSync(this.open());
  }

  /** Takes the lock now or returns null when another measurer holds it. */
  tryAcquire(): HostLockLease | null {
    const fd = this.open();
    let rc: number;
    do rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc !== 0 && koffi.errno() === EINTR);
    if (rc !== 0) {
      const errno = koffi.errno();
      closeSync(fd);
      if (errno === EWOULDBLOCK) return null;
      throw new RunError(`host lock ${this.path}: flock failed (errno ${errno})`);
    }
    const holder: HostLockHolder = {
      pid: process.pid,
      nodeId: this.opts.nodeId,
      since: new Date().toISOString(),
      role: this.opts.role,
    };
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(holder) + '\n', 0);
    } catch {
      // Opened read-only (another user's file): the lock holds all the same, only the name is missing.
    }
    let released = false;
    return {
      holder,
      release: () => {
        if (released) return;
        released = true;
        try {
          ftruncateSync(fd, 0);
        } catch {
          /* read-only fd */
        }
        flock(fd, LOCK_UN);
        closeSync(fd);
      },
    };
  }

  /**
   * Takes the lock, waiting up to waitS while another measurer holds it (one log line naming
   * the holder when the wait starts, another each minute); throws HostLockBusyError after that.
   */
  async acquire(signal?: AbortSignal): Promise<HostLockLease> {
    const start = Date.now();
    let lastLog = 0;
    for (;;) {
      signal?.throwIfAborted();
      const lease = this.tryAcquire();
      if (lease) {
        if (lastLog)
          this.opts.log?.info('host lock taken: measuring', {
            lock: this.path,
            waitedS: Math.round((Date.now() - start) / 100) / 10,
          });
        return lease;
      }
      const waited = Date.now() - start;
      if (waited >= this.waitMs) throw new HostLockBusyError(this.path, this.holder(), Math.round(waited / 1000));
      if (!lastLog || Date.now() - lastLog >= 60_000) {
        lastLog = Date.now();
        const holder = this.holder();
        this.opts.log?.warn(
          `waiting for the host lock: another measurer is using this machine (${describeHolder(holder)})`,
          {
            lock: this.path,
            holderPid: holder?.pid ?? null,
            holderNode: holder?.nodeId ?? null,
            holderSince: holder?.since ?? null,
            waitLimitS: this.waitMs / 1000,
          },
        );
      }
      await sleep(this.pollMs, undefined, { signal }).catch((err) => {
        throw signal?.aborted ? signal.reason : err;
      });
    }
  }

  /** Who holds the lock, from the lock file; checked against the kernel's /proc/locks when the file names nobody. */
  holder(): HostLockHolder | null {
    try {
      const text = readFileSync(this.path, 'utf8').trim();
      if (text) {
        const h = JSON.parse(text) as HostLockHolder;
        if (Number.isInteger(h.pid) && typeof h.nodeId === 'string') return h;
      }
    } catch {
      /* not written yet, or unreadable */
    }
    const pid = flockHolderPid(this.path);
    return pid === null ? null : { pid, nodeId: 'unknown', since: 'unknown', role: 'unknown (lock file names nobody)' };
  }

  private open(): number {
    let first: Error;
    try {
      const fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o666);
      // umask usually strips group/other write: measurers running as other users must open it too.
      try {
        fchmodSync(fd, 0o666);
      } catch {
        /* not our file */
      }
      return fd;
    } catch (err) {
      first = err as Error;
    }
    // Another user's file in sticky /run/lock (fs.protected_regular refuses O_CREAT on it), or a
    // read-only mount around an existing file: open it without creating; flock(2) needs no write access.
    const code = (first as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      for (const flags of [constants.O_RDWR, constants.O_RDONLY]) {
        try {
          return openSync(this.path, flags);
        } catch {
          /* try the next */
        }
      }
    }
    throw new InputError(
      `host lock file ${this.path} (--host-lock / ${HOST_LOCK_ENV}) cannot be opened: ${first.message}`,
      {
        field: '--host-lock',
        fix: `create its directory or point --host-lock / ${HOST_LOCK_ENV} at a writable file shared by every measurer on this machine`,
      },
    );
  }
}

/** Pid of the FLOCK WRITE lock on `path`'s inode in /proc/locks (the kernel's own record), or null. */
export function flockHolderPid(path: string, procLocks = '/proc/locks'): number | null {
  let ino: number;
  try {
    ino = statSync(path).ino;
  } catch {
    return null;
  }
  let text: string;
  try {
    text = readFileSync(procLocks, 'utf8');
  } catch {
    return null;
  }
  // e.g. "3: FLOCK  ADVISORY  WRITE 4711 00:1a:123456 0 EOF"
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && Number(m[2]) === ino) return Number(m[1]);
  }
  return null;
}
