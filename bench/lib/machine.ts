/** The machine a run happened on, for the results file and docs/PERFORMANCE.md. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  os: string | null;
  node: string;
  ffmpeg: string | null;
  nodeExporter: string | null;
  loadAverage: number[];
  /** RAPL readable on this machine itself (the benchmarks use fixture trees either way). */
  raplHere: boolean;
}

function firstLine(cmd: string, args: string[]): string | null {
  try {
    return (
      execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
        .split('\n')[0]
        .trim() || null
    );
  } catch (err) {
    const e = err as { stderr?: string };
    return e.stderr?.split('\n')[0]?.trim() || null;
  }
}

export function machineInfo(): MachineInfo {
  let os: string | null = null;
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    os = null;
  }
  let raplHere = false;
  try {
    readFileSync('/sys/class/powercap/intel-rapl:0/energy_uj', 'utf8');
    raplHere = true;
  } catch {
    raplHere = false;
  }
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    os,
    node: process.version,
    ffmpeg: firstLine('ffmpeg', ['-hide_banner', '-version']),
    nodeExporter: firstLine('/usr/bin/prometheus-node-exporter', ['--version']),
    loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
    raplHere,
  };
}
