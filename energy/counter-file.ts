// Counter files read many times a second (a RAPL `energy_uj`, /proc/stat): the descriptor stays
// open and every read is one pread from offset 0 into a buffer shared by all of them, parsed
// from the bytes without building a string. A sysfs attribute or /proc file regenerates its
// contents on a read at offset 0, so this sees the value of now; open + read + close on every
// read costs about twice the CPU (docs/PERFORMANCE.md, "Sampler tick").
import { closeSync, openSync, readSync } from 'node:fs';

/** energy_uj is one line of at most 20 digits; the "cpu " line of /proc/stat fits in 512 bytes. */
const buf = Buffer.allocUnsafe(512);

const ZERO = 0x30;
const NINE = 0x39;

export class CounterFile {
  private fd: number | null = null;

  constructor(readonly path: string) {}

  /** Reads up to `max` bytes from offset 0 (opening the file on first use); returns the byte count. */
  private pread(max: number): number {
    if (this.fd === null) this.fd = openSync(this.path, 'r');
    return readSync(this.fd, buf, 0, max, 0);
  }

  /**
   * The file's one unsigned decimal integer followed by a newline or the end (sysfs `energy_uj`).
   * Throws an Error naming the file and its text when it holds anything else. Exact up to 2^53
   * (RAPL ranges are below 2^40 µJ).
   */
  readUint(): number {
    const n = this.pread(64);
    // A sysfs attribute never reads empty; a file emptied or removed under a kept descriptor does.
    if (n === 0) throw new Error('read no data (the counter file is empty or was removed)');
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = buf[i];
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
    }
    const end = i;
    if (end > 0 && end < n && buf[i] === 0x0a) i++;
    if (end === 0 || i !== n) throw new Error(`${this.path}: not an integer: "${buf.toString('latin1', 0, n).trim()}"`);
    if (end > 15)
      throw new Error(
        `${this.path}: ${buf.toString('latin1', 0, end)} has more digits than an energy counter can (RAPL ranges are below 2^40 µJ)`,
      );
    return v;
  }

  /**
   * Busy clock ticks (user + nice + system + irq + softirq) from the aggregate "cpu " line that
   * starts /proc/stat, the same sum as procstat.ts parseProcStat().
   */
  readProcStatBusy(): number {
    const n = this.pread(buf.length);
    const bad = () => new Error(`${this.path}: malformed "cpu " line: ${buf.toString('latin1', 0, n).split('\n')[0]}`);
    if (n < 5 || buf[0] !== 0x63 || buf[1] !== 0x70 || buf[2] !== 0x75 || buf[3] !== 0x20) throw bad();
    // Fields: user nice system idle iowait irq softirq steal guest guest_nice
    let i = 4;
    let field = 0;
    let busy = 0;
    while (i < n && buf[i] !== 0x0a) {
      while (i < n && buf[i] === 0x20) i++;
      if (i >= n || buf[i] === 0x0a) break;
      let v = 0;
      const start = i;
      for (; i < n; i++) {
        const c = buf[i];
        if (c < ZERO || c > NINE) break;
        v = v * 10 + (c - ZERO);
      }
      if (i === start || (i < n && buf[i] !== 0x20 && buf[i] !== 0x0a)) throw bad();
      if (field <= 2 || field === 5 || field === 6) busy += v;
      field++;
    }
    if (field < 4 || i >= n) throw bad();
    return busy;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
