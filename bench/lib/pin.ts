import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { bounded } from './args.ts';

/**
 * Where a master benchmark runs the master and its load generator: on two different CPUs (taskset)
 * when the machine has two or more, so the generator never takes the master's core (issue 17).
 */
export interface Pinning {
  /** Whether the two are pinned at all (--pin auto: with 2 or more CPUs). */
  readonly on: boolean;
  readonly masterCpu: number;
  readonly generatorCpu: number;
}

/** The flags of the pinning, for parseArgsOrExit. */
export const PIN_FLAGS = {
  'master-cpu': { type: 'string', default: '0' },
  'generator-cpu': { type: 'string', default: '1' },
  pin: { type: 'string', default: 'auto' },
} as const;

/** Reads --pin, --master-cpu and --generator-cpu, or exits 2 naming the flag. */
export function pinningFrom(args: { pin?: string; 'master-cpu'?: string; 'generator-cpu'?: string }): Pinning {
  const pin = args.pin ?? 'auto';
  if (!['auto', 'yes', 'no'].includes(pin)) {
    process.stderr.write(`--pin must be auto, yes or no (got ${pin})\n`);
    process.exit(2);
  }
  const masterCpu = bounded('master-cpu', args['master-cpu'] ?? '0', 0, 1023);
  const generatorCpu = bounded('generator-cpu', args['generator-cpu'] ?? '1', 0, 1023);
  const on = pin === 'yes' || (pin === 'auto' && cpus().length >= 2);
  if (on && masterCpu === generatorCpu) {
    process.stderr.write(
      '--master-cpu and --generator-cpu must differ: the load generator must never share a core with the master\n',
    );
    process.exit(2);
  }
  return { on, masterCpu, generatorCpu };
}

/** The CPU list a process (every thread) may run on, as taskset reads it back; null without taskset. */
export function affinity(pid: number): string | null {
  try {
    return (
      execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' })
        .trim()
        .split(': ')
        .at(-1) ?? null
    );
  } catch {
    return null;
  }
}

/** Pins every thread of a process to one CPU (taskset -a). */
export function pinAll(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
}

/**
 * Pins this process (every thread) to one CPU on Linux: the CPU, or null where it could not be
 * pinned (no taskset, or no such CPU), which the caller records in its output.
 */
export function pinSelf(cpu: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    pinAll(process.pid, cpu);
    return cpu;
  } catch {
    return null;
  }
}

/** The command line that starts argv on the master's CPU when pinned (taskset -c), else argv itself. */
export function onMasterCpu(p: Pinning, argv: string[]): string[] {
  return p.on ? ['taskset', '-c', String(p.masterCpu), ...argv] : argv;
}

/** What the result records about the pinning: each side's CPU and the affinity taskset reads back. */
export function pinningRecord(p: Pinning, masterPid: number, generatorPid = process.pid) {
  return p.on
    ? {
        master: { cpu: p.masterCpu, affinity: affinity(masterPid) },
        generator: { cpu: p.generatorCpu, affinity: affinity(generatorPid) },
      }
    : null;
}
