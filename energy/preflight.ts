import { join } from 'node:path';
import type { RunEnergy } from '../core/types.ts';
import type { ProcTreeUsage } from './proctree.ts';
import { KeptOpenReader } from './proc-files.ts';
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

/** The files a preflight reads, found by listing sysfs once; sensor names are read then too. */
interface PreflightPlan {
  cpuDir: string;
  thermal: string;
  hwmon: string;
  /** `cpuN/cpufreq/scaling_governor` of every CPU that had one when listed. */
  governorFiles: string[];
  /** The turbo switches, null where the file was not there when listed. */
  noTurbo: string | null;
  boost: string | null;
  temperatures: Array<{ file: string; sensor: string }>;
}

function planPreflight(root: string, reader: SysfsReader): PreflightPlan {
  const present = (file: string) => (reader.exists(file) ? file : null);
  const cpuDir = join(root, 'devices/system/cpu');
  const governorFiles: string[] = [];
  for (const cpu of tryList(reader, cpuDir)) {
    if (!/^cpu\d+$/.test(cpu)) continue;
    const file = present(join(cpuDir, cpu, 'cpufreq/scaling_governor'));
    if (file !== null) governorFiles.push(file);
  }
  const temperatures: PreflightPlan['temperatures'] = [];
  const thermal = join(root, 'class/thermal');
  for (const z of tryList(reader, thermal).filter((n) => n.startsWith('thermal_zone')))
    temperatures.push({
      file: join(thermal, z, 'temp'),
      sensor: `${z}/${tryRead(reader, join(thermal, z, 'type')) ?? 'unknown'}`,
    });
  const hwmon = join(root, 'class/hwmon');
  for (const h of tryList(reader, hwmon)) {
    const name = tryRead(reader, join(hwmon, h, 'name')) ?? h;
    for (const f of tryList(reader, join(hwmon, h)).filter((n) => /^temp\d+_input$/.test(n))) {
      const label = tryRead(reader, join(hwmon, h, f.replace('_input', '_label'))) ?? f.replace('_input', '');
      temperatures.push({ file: join(hwmon, h, f), sensor: `${h}/${name}/${label}` });
    }
  }
  return {
    cpuDir,
    thermal,
    hwmon,
    governorFiles,
    noTurbo: present(join(cpuDir, 'intel_pstate/no_turbo')),
    boost: present(join(cpuDir, 'cpufreq/boost')),
    temperatures,
  };
}

export interface PreflightReaderOptions extends PreflightOptions {
  /** How old the list of files may get before sysfs is listed again (default 60 s). */
  replanMs?: number;
  /** Monotonic clock, ms (default performance.now). */
  nowMs?: () => number;
}

/**
 * Reads the preflight again and again on one machine, as an agent does three times a run. sysfs
 * is listed, and sensor names read, at most once a minute (a CPU, cpufreq driver or sensor that
 * appears later is seen from the next listing); each read is then one pread per governor, turbo
 * switch and temperature on descriptors kept open (a sysfs attribute regenerates on a read from
 * offset 0). On a 2-socket, 224-thread tree a fresh preflight costs about 8 ms of CPU, three a run
 * (docs/PERFORMANCE.md, harness overhead). With a custom `reader` (tests), files are read through it.
 */
export class PreflightReader {
  private readonly root: string;
  private readonly reader: SysfsReader;
  private readonly kept: KeptOpenReader | null;
  private readonly replanMs: number;
  private readonly nowMs: () => number;
  private plan: PreflightPlan | null = null;
  private plannedAt = 0;

  constructor(opts: PreflightReaderOptions = {}) {
    this.root = opts.sysfsRoot ?? '/sys';
    this.reader = opts.reader ?? nodeSysfsReader;
    this.kept = opts.reader === undefined ? new KeptOpenReader() : null;
    this.replanMs = opts.replanMs ?? 60_000;
    this.nowMs = opts.nowMs ?? (() => performance.now());
  }

  private text(file: string): string | null {
    if (this.kept === null) return tryRead(this.reader, file);
    const r = this.kept.read(file);
    return typeof r === 'string' ? r.trim() : null;
  }

  read(): Preflight {
    const now = this.nowMs();
    if (this.plan === null || now - this.plannedAt >= this.replanMs) {
      this.plan = planPreflight(this.root, this.reader);
      this.plannedAt = now;
    }
    const plan = this.plan;
    const notes: string[] = [];

    const governors: Record<string, number> = {};
    for (const file of plan.governorFiles) {
      const g = this.text(file);
      if (g) governors[g] = (governors[g] ?? 0) + 1;
    }
    const names = Object.keys(governors);
    const governor = names.length === 0 ? null : names.length === 1 ? names[0] : 'mixed';
    if (governor === null)
      notes.push(
        `CPU governor unknown: no readable ${plan.cpuDir}/cpu*/cpufreq/scaling_governor (VMs often have no cpufreq)`,
      );

    let turbo: Preflight['turbo'] = null;
    let turboSource: string | null = null;
    const noTurbo = plan.noTurbo === null ? null : this.text(plan.noTurbo);
    const boost = noTurbo === '0' || noTurbo === '1' || plan.boost === null ? null : this.text(plan.boost);
    if (noTurbo === '0' || noTurbo === '1') {
      turbo = noTurbo === '1' ? 'off' : 'on';
      turboSource = 'intel_pstate/no_turbo';
    } else if (boost === '0' || boost === '1') {
      turbo = boost === '1' ? 'on' : 'off';
      turboSource = 'cpufreq/boost';
    } else
      notes.push(
        `turbo state unknown: neither ${plan.cpuDir}/intel_pstate/no_turbo nor ${plan.cpuDir}/cpufreq/boost is readable`,
      );

    const temperatures: Preflight['temperatures'] = [];
    for (const t of plan.temperatures) {
      const v = this.text(t.file);
      if (v !== null && /^-?\d+$/.test(v)) temperatures.push({ sensor: t.sensor, celsius: Number(v) / 1000 });
    }
    if (temperatures.length === 0) notes.push(`no readable temperature in ${plan.thermal} or ${plan.hwmon}`);
    // Descriptors of files that left the plan (a sensor gone at the last listing) are closed.
    this.kept?.sweep();
    let maxTemperatureC: number | null = null;
    for (const t of temperatures)
      if (maxTemperatureC === null || t.celsius > maxTemperatureC) maxTemperatureC = t.celsius;
    return { governor, governors, turbo, turboSource, temperatures, maxTemperatureC, notes };
  }

  /** Closes the kept descriptors; a later read() opens them again. */
  close(): void {
    this.kept?.close();
  }
}

/** Reads governor, turbo and temperatures under `<sysfsRoot>` once (PreflightReader for repeated reads). */
export function readPreflight(opts: PreflightOptions = {}): Preflight {
  const reader = new PreflightReader(opts);
  try {
    return reader.read();
  } finally {
    reader.close();
  }
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
