/**
 * A finished run: one object that is both the value returned and the error thrown (zx style).
 */
export interface ProcessResultFields {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  durationS: number;
  /** The filtered last bytes of stderr (see StderrTail). */
  stderrTail: string;
  pid: number | null;
  /** The whole stdout when captured (`captureStdout`), else ''. */
  stdout: string;
  /** True when stopped on purpose (abort or stop()). */
  stopped: boolean;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  spawnError: string | null;
}

export class ProcessResult extends Error implements ProcessResultFields {
  readonly argv: string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationS: number;
  readonly stderrTail: string;
  readonly pid: number | null;
  readonly stdout: string;
  readonly stopped: boolean;
  readonly spawnError: string | null;

  constructor(f: ProcessResultFields) {
    super(describe(f));
    this.name = 'ProcessResult';
    this.argv = f.argv;
    this.exitCode = f.exitCode;
    this.signal = f.signal;
    this.durationS = f.durationS;
    this.stderrTail = f.stderrTail;
    this.pid = f.pid;
    this.stdout = f.stdout;
    this.stopped = f.stopped;
    this.spawnError = f.spawnError;
  }

  get ok(): boolean {
    return this.exitCode === 0 && this.spawnError === null;
  }
}

function describe({ argv, exitCode, signal, stderrTail, spawnError }: ProcessResultFields): string {
  const cmd = argv[0] ?? '?';
  if (spawnError) return `${cmd} could not be started: ${spawnError}`;
  const how =
    exitCode === 0 ? 'exited with code 0' : signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
  const last = stderrTail.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
  return `${cmd} ${how}${exitCode === 0 || !last ? '' : `: ${last}`}`;
}
