import { join } from 'node:path';
import type { RunEnergy } from '../core/types.ts';
import type { ProcTreeUsage } from './proctree.ts';
import { nodeSysfsReader, type SysfsReader } from './rapl.ts';
import { VALIDITY_FLAGS, type ValidityFlag } from '../core/contracts/flags.ts';

/**
 * Validity preflight: the machine state that changes energy figures (CPU governor, turbo,
 * temperatures), read from sysfs before a campaign and around each run, and the flags a run
 * gets from it. Anything unreadable is recorded as unknown with a note, never guessed.
 */

export interface Preflight {
  /** The governor of every CPU when they agree, `mixed` when not, null when unreadable. */
  governor: string | null;
  /** CPUs per governor. */
  governors: Record<string, number>;
  /** `on` / `off`, null when no turbo/boost switch is readable. */
  turbo: 'on' | 'off' | null;
  /** Where the turbo state came from. */
  turboSource: string | null;
  temperatures: Array<{ sensor: string; celsius: number }>;
  maxTemperatureC: number | null;
  /** What could not be read, in words. */
  notes: string[];
}

export interface PreflightOptions {
  sysfsRoot?: string;
  reader?: SysfsReader;
}

function tryRead(reader: SysfsReader, path: string): string | null {
  try {
    return reader.readFile(path).trim();
  } catch {
    return null;
  }
}

/**
 * cpu2 before cpu10. One collator for every sort: `localeCompare` with a locale or options builds
 * a new one per comparison (~160 µs per sort of /sys/devices/system/cpu, three preflights a run).
 */
const byNumericName = new Intl.Collator('en', { numeric: true }).compare;

function tryList(reader: SysfsReader, path: string): string[] {
  try {
    return reader.exists(path) ? reader.readdir(path).sort(byNumericName) : [];
  } catch {
    return [];
  }
}

/** Reads governor, turbo and temperatures under `<sysfsRoot>`. */
export function readPreflight(opts: PreflightOptions = {}): Preflight {
  const root = opts.sysfsRoot ?? '/sys';
  const reader = opts.reader ?? nodeSysfsReader;
  const notes: string[] = [];
  const cpuDir = join(root, 'devices/system/cpu');

  const governors: Record<string, number> = {};
  for (const cpu of tryList(reader, cpuDir).filter((n) => /^cpu\d+$/.test(n))) {
    const g = tryRead(reader, join(cpuDir, cpu, 'cpufreq/scaling_governor'));
    if (g) governors[g] = (governors[g] ?? 0) + 1;
  }
  const names = Object.keys(governors);
  const governor = names.length === 0 ? null : names.length === 1 ? names[0] : 'mixed';
  if (governor === null)
    notes.push(`CPU governor unknown: no readable ${cpuDir}/cpu*/cpufreq/scaling_governor (VMs often have no cpufreq)`);

  let turbo: Preflight['turbo'] = null;
  let turboSource: string | null = null;
  const noTurbo = tryRead(reader, join(cpuDir, 'intel_pstate/no_turbo'));
  const boost = tryRead(reader, join(cpuDir, 'cpufreq/boost'));
  if (noTurbo === '0' || noTurbo === '1') {
    turbo = noTurbo === '1' ? 'off' : 'on';
    turboSource = 'intel_pstate/no_turbo';
  } else if (boost === '0' || boost === '1') {
    turbo = boost === '1' ? 'on' : 'off';
    turboSource = 'cpufreq/boost';
  } else
    notes.push(`turbo state unknown: neither ${cpuDir}/intel_pstate/no_turbo nor ${cpuDir}/cpufreq/boost is readable`);

  const temperatures: Preflight['temperatures'] = [];
  const milli = (v: string | null) => (v !== null && /^-?\d+$/.test(v) ? Number(v) / 1000 : null);
  const thermal = join(root, 'class/thermal');
  for (const z of tryList(reader, thermal).filter((n) => n.startsWith('thermal_zone'))) {
    const c = milli(tryRead(reader, join(thermal, z, 'temp')));
    if (c !== null)
      temperatures.push({ sensor: `${z}/${tryRead(reader, join(thermal, z, 'type')) ?? 'unknown'}`, celsius: c });
  }
  const hwmon = join(root, 'class/hwmon');
  for (const h of tryList(reader, hwmon)) {
    const name = tryRead(reader, join(hwmon, h, 'name')) ?? h;
    for (const f of tryList(reader, join(hwmon, h)).filter((n) => /^temp\d+_input$/.test(n))) {
      const c = milli(tryRead(reader, join(hwmon, h, f)));
      const label = tryRead(reader, join(hwmon, h, f.replace('_input', '_label'))) ?? f.replace('_input', '');
      if (c !== null) temperatures.push({ sensor: `${h}/${name}/${label}`, celsius: c });
    }
  }
  if (temperatures.length === 0) notes.push(`no readable temperature in ${thermal} or ${hwmon}`);
  const maxTemperatureC = temperatures.length ? Math.max(...temperatures.map((t) => t.celsius)) : null;
  return { governor, governors, turbo, turboSource, temperatures, maxTemperatureC, notes };
}

/**
 * The CPU package temperature among the sensors of a preflight, from the kernel drivers' own
 * naming: hwmon `coretemp` labels `Package id N` (drivers/hwmon/coretemp.c), `k10temp` temp1,
 * labelled `Tctl` or `Tdie` where labels exist (drivers/hwmon/k10temp.c), and the thermal zone
 * of type `x86_pkg_temp` (drivers/thermal/intel/x86_pkg_temp_thermal.c). The hottest package
 * when there are several; null (with the reason) when none is exposed, e.g. in VMs.
 */
export function packageTemperature(
  p: Pick<Preflight, 'temperatures'>,
): { celsius: number; sensor: string } | { celsius: null; note: string } {
  const isPackage = (sensor: string) => {
    const parts = sensor.split('/');
    if (parts.length === 2) return parts[1] === 'x86_pkg_temp';
    const [, name, label] = parts;
    return (
      (name === 'coretemp' && /^Package id \d+$/.test(label)) ||
      (name === 'k10temp' && (label === 'temp1' || label === 'Tctl' || label === 'Tdie'))
    );
  };
  const pkgs = p.temperatures.filter((t) => isPackage(t.sensor));
  if (pkgs.length === 0) {
    return {
      celsius: null,
      note: 'no package temperature sensor (hwmon coretemp "Package id N", k10temp Tctl/Tdie, thermal zone x86_pkg_temp) is readable here',
    };
  }
  const hottest = pkgs.reduce((a, b) => (b.celsius > a.celsius ? b : a));
  return { celsius: hottest.celsius, sensor: hottest.sensor };
}

/** Default noisy-neighbour threshold: other processes' CPU, in average busy cores, above which a window is not quiet. */
export const NOISY_NEIGHBOUR_CORES = 0.25;

export interface ValidityThresholds {
  /** CPU of other processes, as average busy cores over the window, above which a run is `noisy_neighbour` (default 0.25). */
  otherCores?: number;
  /** Rise of the hottest sensor between the preflight before and after a run, °C (default 10). */
  thermalDriftC?: number;
}

export interface ValidityInputs {
  before: Preflight;
  after?: Preflight | null;
  energy?: (Pick<RunEnergy, 'source' | 'idleW'> & Partial<Pick<RunEnergy, 'netJ' | 'baseline'>>) | null;
  /** Job process-tree usage over the measured window (ProcTreeMonitor.usage()). */
  usage?: ProcTreeUsage | null;
  windowS?: number;
}

export { VALIDITY_FLAGS, type ValidityFlag };

/**
 * Flags for one run:
 * - `estimated`: some total energy is modelled, not measured (source estimate or mixed);
 * - `noisy_neighbour`: other processes used more than `otherCores` busy cores on average
 *   (machine busy CPU − job CPU, over the window);
 * - `thermal_drift`: the hottest sensor rose more than `thermalDriftC` during the run;
 * - `governor_not_performance` / `governor_unknown`, `turbo_on`: frequency may wander;
 * - `no_idle_baseline`: no idle baseline was measured (none asked for, or a zone without one);
 * - `idle-baseline-dirty`: a baseline was measured but never clean within its attempts (other
 *   CPU load above the noisy-neighbour threshold, or a zone missing): the run has no net figure;
 * - `net-energy-nonpositive`: net energy ≤ 0 (the encode drew no more than the baseline says the
 *   machine draws idle): the figure is explained in `energy.netExplanation` and never ranked.
 */
export function validityFlags(input: ValidityInputs, thresholds: ValidityThresholds = {}): ValidityFlag[] {
  const flags: ValidityFlag[] = [];
  const { before, after, energy, usage, windowS } = input;
  if (energy && (energy.source === 'estimate' || energy.source === 'mixed')) flags.push('estimated');
  if (
    usage &&
    windowS &&
    windowS > 0 &&
    usage.otherCpuSeconds / windowS > (thresholds.otherCores ?? NOISY_NEIGHBOUR_CORES)
  )
    flags.push('noisy_neighbour');
  if (
    after &&
    before.maxTemperatureC !== null &&
    after.maxTemperatureC !== null &&
    after.maxTemperatureC - before.maxTemperatureC > (thresholds.thermalDriftC ?? 10)
  ) {
    flags.push('thermal_drift');
  }
  if (before.governor === null) flags.push('governor_unknown');
  else if (before.governor !== 'performance') flags.push('governor_not_performance');
  if (before.turbo === 'on') flags.push('turbo_on');
  if (energy?.baseline && !energy.baseline.clean) flags.push('idle-baseline-dirty');
  else if (energy && energy.idleW === null) flags.push('no_idle_baseline');
  if (energy && energy.netJ != null && energy.netJ <= 0) flags.push('net-energy-nonpositive');
  return flags;
}
