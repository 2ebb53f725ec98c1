// Reading small /proc files cheaply: one shared buffer, and optionally descriptors kept open
// between samples (a pread from offset 0 regenerates a /proc file, at about half the CPU of
// open + read + close). A descriptor of /proc/<pid>/… stays bound to the process it was opened
// for: once that process is gone it reads ESRCH, never a newer process that reuses the pid.
import { closeSync, openSync, readSync } from 'node:fs';

/** Why a read failed: the process is gone (ENOENT, ESRCH), or the file is not ours to read (EACCES, …). */
export interface ReadFailure {
  gone: boolean;
}
const GONE: ReadFailure = { gone: true };
const DENIED: ReadFailure = { gone: false };

function failureOf(e: unknown): ReadFailure {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH' ? GONE : DENIED;
}

/** These files are a few hundred bytes to a few KiB; the buffer grows for a longer one. */
let buf = Buffer.allocUnsafe(8192);

function readAll(fd: number): string {
  let len = 0;
  for (;;) {
    if (len === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, len);
      buf = bigger;
    }
    const n = readSync(fd, buf, len, buf.length - len, len);
    if (n === 0) return buf.toString('latin1', 0, len);
    len += n;
  }
}

export interface ProcReader {
  read(file: string): string | ReadFailure;
}

/** Opens, reads and closes on every call. */
export const oneShotReader: ProcReader = {
  read(file) {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      return failureOf(e);
    }
    try {
      return readAll(fd);
    } catch (e) {
      return failureOf(e);
    } finally {
      closeSync(fd);
    }
  },
};

/**
 * Keeps each file's descriptor open between calls. sweep() closes those not read since the
 * previous sweep (members that left the tree); close() closes all (a later read reopens).
 */
export class KeptOpenReader implements ProcReader {
  private readonly fds = new Map<string, number>();
  private readonly used = new Set<string>();

  read(file: string): string | ReadFailure {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = openSync(file, 'r');
      } catch (e) {
        return failureOf(e);
      }
      this.fds.set(file, fd);
    }
    this.used.add(file);
    try {
      return readAll(fd);
    } catch (e) {
      this.drop(file);
      return failureOf(e);
    }
  }

  sweep(): void {
    for (const file of [...this.fds.keys()]) if (!this.used.has(file)) this.drop(file);
    this.used.clear();
  }

  close(): void {
    for (const file of [...this.fds.keys()]) this.drop(file);
    this.used.clear();
  }

  get openCount(): number {
    return this.fds.size;
  }

  private drop(file: string): void {
    const fd = this.fds.get(file);
    this.fds.delete(file);
    if (fd !== undefined) closeSync(fd);
  }
}
