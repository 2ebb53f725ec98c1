import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ZoneRole } from '../core/types.ts';
import { CounterFile } from './counter-file.ts';
import type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
import { joulesFromUj, secondsFromNs, WrapCounter } from './units.ts';
import { TOPOLOGY_SUSPECT_FLAG } from '../core/contracts/flags.ts';

/**
 * RAPL energy counters from the Linux powercap tree (`<sysfs>/class/powercap/intel-rapl:*`),
 * which AMD CPUs expose through the same driver. Works on the real layout (symlinks into
 * devices/virtual/powercap/...) and on a flat tree of directories: zones are found from the
 * top level of class/powercap and their nesting from the id (`intel-rapl:N` is a top-level
 * zone, `intel-rapl:N:M` a sub-zone of it), as node_exporter does.
 */

/** The only file-system access of this module, so tests can inject failures such as EACCES. */
export interface SysfsReader {
  readFile(path: string): string;
  readdir(path: string): string[];
  exists(path: string): boolean;
}

export const nodeSysfsReader: SysfsReader = {
  readFile: (p) => readFileSync(p, 'utf8'),
  readdir: (p) => readdirSync(p),
  exists: (p) => existsSync(p),
};

export interface RaplZoneInfo extends ZoneInfo {
  /** powercap id, e.g. `intel-rapl:0:1`. */
  id: string;
  /** Directory of the zone under class/powercap. */
  path: string;
  /** Contents of the zone's `name` file, e.g. `package-0`, `core`, `dram`, `psys`, `psys-1`. */
  name: string;
  parentId: string | null;
  maxRangeUj: bigint;
  /** Socket number for package zones and their sub-zones, and for `psys-N` (N); null for `psys`. */
  socket: number | null;
  /** powercap control type: `msr` (intel-rapl, MSR or TPMI), `mmio` (intel-rapl-mmio), `tpmi` (intel-rapl-tpmi). */
  iface: 'msr' | 'mmio' | 'tpmi';
  /** Set on a package zone whose raw counter is identical to this earlier zone's, read after read. */
  mirrorOf?: string;
}

export interface RaplOptions {
  /** Root of sysfs (default /sys); the powercap tree is `<sysfsRoot>/class/powercap`. */
  sysfsRoot?: string;
  reader?: SysfsReader;
  /** Monotonic clock in ns, used for power and wrap-period figures (default process.hrtime.bigint). */
  now?: () => bigint;
  /** Read passes over the package counters used to recognise mirrored zones (default 5). */
  mirrorPasses?: number;
}

/** Why the RAPL meter could not be used. */
const RAPL_FIX_PERMISSION =
  'run the agent with the read access the worker role installs (its udev and tmpfiles rules make energy_uj readable to the ffwatt-rapl group, ffwatt_rapl_group; put the agent user in that group), or run it as root';
const RAPL_FIX_MISSING =
  'run on bare metal with the RAPL driver loaded (modprobe intel_rapl_msr; AMD Zen uses the same driver); VMs and most containers have no RAPL';

const ID_RE = /^(intel-rapl(?:-mmio|-tpmi)?):(\d+)(?::(\d+))?$/;
/** Package zone names the kernel writes: `package-%d`, or `package-%d-die-%d` on multi-die parts (rapl_add_package_cpuslocked). */
const PACKAGE_RE = /^package-(\d+)(?:-die-(\d+))?$/;
/** Platform zone names: `psys` on the first package, `psys-%d` (physical package id) on later ones (rapl_init_domains). */
const PLATFORM_RE = /^psys(?:-(\d+))?$/;
const IFACE: Record<string, RaplZoneInfo['iface']> = {
  'intel-rapl': 'msr',
  'intel-rapl-mmio': 'mmio',
  'intel-rapl-tpmi': 'tpmi',
};

/** The flag a run gets when its measured total exceeds the platform zone by more than this fraction. */
export { TOPOLOGY_SUSPECT_FLAG };
export const TOPOLOGY_SUSPECT_MARGIN = 0.05;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export interface RaplDiscovery {
  dir: string;
  zones: RaplZoneInfo[];
  /** Files that could not be used; `permission` marks EACCES/EPERM. */
  problems: Array<{ path: string; reason: string; permission: boolean }>;
}

type RawZone = {
  id: string;
  iface: RaplZoneInfo['iface'];
  top: number;
  sub: number | null;
  path: string;
  name: string;
  maxRangeUj: bigint;
};

/**
 * The role of one zone, from the kernel's rules (drivers/powercap/intel_rapl_common.c,
 * rapl_package_register_powercap(): the package zone is registered at the top, every other
 * domain as its child, except the platform domain, registered at the top with no parent):
 * - a top-level `package-N[-die-M]` is a total;
 * - a nested `dram` is a total: DRAM energy is not part of the package counter;
 * - other nested zones (`core` = PP0, `uncore` = PP1) are inside the package: components;
 * - `psys`/`psys-N` is the platform domain, covering packages and more: reported, never added;
 * - the MMIO (processor_thermal_rapl.c) and TPMI control types read the same package
 *   registers again: components wherever the MSR interface has that socket's package;
 * - any other top-level name is not something the kernel registers: a component, named in the probe.
 */
function roleOf(z: RawZone, parent: RawZone | undefined, msrSockets: Set<number>): { role: ZoneRole; note?: string } {
  const topName = z.sub === null ? z.name : (parent?.name ?? '');
  const socketOfTop = PACKAGE_RE.exec(topName);
  if (z.iface !== 'msr' && socketOfTop && msrSockets.has(Number(socketOfTop[1]))) {
    return {
      role: 'component',
      note: `second view (${z.iface.toUpperCase()} interface) of the package counter read through intel-rapl: never added`,
    };
  }
  if (z.sub === null) {
    if (PACKAGE_RE.test(z.name)) return { role: 'total' };
    if (PLATFORM_RE.test(z.name))
      return { role: 'platform', note: 'platform domain (psys): covers the packages and more; reported, never added' };
    return {
      role: 'component',
      note: `top-level zone named "${z.name}" is not one the kernel's RAPL driver registers: not added`,
    };
  }
  if (z.name === 'dram')
    return { role: 'total', note: 'DRAM: a domain of its own, not inside the package counter; added' };
  return { role: 'component' };
}

/** Finds every RAPL zone, gives it its role, and checks that its files can be read. */
export function discoverRaplZones(sysfsRoot = '/sys', reader: SysfsReader = nodeSysfsReader): RaplDiscovery {
  const dir = join(sysfsRoot, 'class', 'powercap');
  const problems: RaplDiscovery['problems'] = [];
  const raw: RawZone[] = [];
  const entries = reader.exists(dir) ? reader.readdir(dir).sort(byPowercapId) : [];
  for (const id of entries) {
    const m = ID_RE.exec(id);
    if (!m) continue; // the control-type directories (intel-rapl, intel-rapl-mmio), other powercap drivers
    const path = join(dir, id);
    const read = (file: string): string | null => {
      try {
        return reader.readFile(join(path, file)).trim();
      } catch (err) {
        const code = errCode(err);
        const permission = code === 'EACCES' || code === 'EPERM';
        problems.push({
          path: join(path, file),
          permission,
          reason: permission ? 'permission denied' : code === 'ENOENT' ? 'missing' : (err as Error).message,
        });
        return null;
      }
    };
    const name = read('name');
    const range = read('max_energy_range_uj');
    const energy = read('energy_uj');
    if (name === null || range === null || energy === null) continue;
    if (!/^\d+$/.test(range) || BigInt(range) <= 0n) {
      problems.push({
        path: join(path, 'max_energy_range_uj'),
        permission: false,
        reason: `not a positive integer: "${range}"`,
      });
      continue;
    }
    if (!/^\d+$/.test(energy)) {
      problems.push({ path: join(path, 'energy_uj'), permission: false, reason: `not an integer: "${energy}"` });
      continue;
    }
    raw.push({
      id,
      iface: IFACE[m[1]],
      top: Number(m[2]),
      sub: m[3] === undefined ? null : Number(m[3]),
      path,
      name,
      maxRangeUj: BigInt(range),
    });
  }

  const byId = new Map(raw.map((z) => [z.id, z]));
  const parentOf = (z: RawZone) => (z.sub === null ? undefined : byId.get(z.id.slice(0, z.id.lastIndexOf(':'))));
  const msrSockets = new Set(
    raw
      .filter((z) => z.iface === 'msr' && z.sub === null)
      .flatMap((z) => {
        const m = PACKAGE_RE.exec(z.name);
        return m ? [Number(m[1])] : [];
      }),
  );
  const zones: RaplZoneInfo[] = raw.map((z) => {
    const parent = parentOf(z);
    const topName = z.sub === null ? z.name : (parent?.name ?? `${z.id.slice(0, z.id.lastIndexOf(':'))}`);
    const base = z.sub === null ? z.name : `${topName}/${z.name}`;
    const pkg = PACKAGE_RE.exec(topName);
    const psys = PLATFORM_RE.exec(topName);
    const { role, note } = roleOf(z, parent, msrSockets);
    return {
      meter: 'rapl',
      zone: z.iface === 'msr' ? base : `${z.iface}:${base}`,
      source: 'rapl',
      role,
      ...(note ? { note } : {}),
      maxRangeUj: z.maxRangeUj,
      id: z.id,
      path: z.path,
      name: z.name,
      parentId: z.sub === null ? null : z.id.slice(0, z.id.lastIndexOf(':')),
      socket: pkg ? Number(pkg[1]) : psys?.[1] !== undefined ? Number(psys[1]) : null,
      iface: z.iface,
    };
  });
  // Zone labels must be unique (two top-level zones with one name, say): add the id.
  const counts = new Map<string, number>();
  for (const z of zones) counts.set(z.zone, (counts.get(z.zone) ?? 0) + 1);
  for (const z of zones) if ((counts.get(z.zone) ?? 0) > 1) z.zone = `${z.zone}@${z.id}`;
  return { dir, zones, problems };
}

/** powercap ids in numeric order (intel-rapl:10 after intel-rapl:9), MSR interface first. */
function byPowercapId(a: string, b: string): number {
  const ka = ID_RE.exec(a);
  const kb = ID_RE.exec(b);
  if (!ka || !kb) return a < b ? -1 : a > b ? 1 : 0;
  return ka[1].localeCompare(kb[1]) || Number(ka[2]) - Number(kb[2]) || Number(ka[3] ?? -1) - Number(kb[3] ?? -1);
}

/**
 * Marks mirrored package counters: package zones of one socket (`package-S-die-D`, one
 * interface) whose raw `energy_uj` values are identical read after read are one counter
 * seen several times. On AMD the package energy MSR has package scope (the kernel's
 * rapl_msrs_are_pkg_scope()), yet kernels that registered one zone per die (naming them
 * package-%d-die-%d) read that one socket counter through each die. Such zones are counted
 * once: the first stays a total, the others become components with `mirrorOf`. Intel
 * multi-die parts with per-die counters (CLX-AP) read different values and are all added;
 * zones of different sockets are never compared, so equal power on two sockets is never merged.
 *
 * A pass reads every zone of the group and then the first one again; a pass in which the first
 * counter moved (the hardware updated mid-pass, about every 1 ms) proves nothing and is
 * skipped. Zones are mirrors when they read identical in every one of `passes` conclusive
 * passes (at most 10 × passes tries). Returns one line per merged group, for the probe.
 */
export function markMirroredPackages(
  zones: RaplZoneInfo[],
  reader: SysfsReader = nodeSysfsReader,
  passes = 5,
): string[] {
  const groups = new Map<string, RaplZoneInfo[]>();
  for (const z of zones) {
    if (z.role !== 'total' || z.parentId !== null || z.socket === null || !PACKAGE_RE.test(z.name)) continue;
    const key = `${z.iface}/${z.socket}`;
    groups.set(key, [...(groups.get(key) ?? []), z]);
  }
  const notes: string[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const readRaw = (z: RaplZoneInfo) => reader.readFile(join(z.path, 'energy_uj')).trim();
    const differ = new Set<string>(); // "i,j": zones i and j read different values in a conclusive pass
    let conclusive = 0;
    for (let tries = 0; conclusive < passes && tries < passes * 10; tries++) {
      const values = group.map(readRaw);
      if (readRaw(group[0]) !== values[0]) continue; // the counter moved during the pass
      conclusive += 1;
      for (let i = 0; i < group.length; i++)
        for (let j = i + 1; j < group.length; j++) if (values[i] !== values[j]) differ.add(`${i},${j}`);
    }
    if (conclusive < passes) continue; // could not read a still pass: nothing is merged
    for (let j = 1; j < group.length; j++) {
      for (let i = 0; i < j; i++) {
        if (group[i].mirrorOf !== undefined || differ.has(`${i},${j}`)) continue;
        group[j].mirrorOf = group[i].id;
        group[j].role = 'component';
        group[j].note =
          `mirror of ${group[i].zone} (${group[i].id}): identical raw energy_uj read after read, counted once`;
        break;
      }
    }
    for (const head of group.filter((z) => z.mirrorOf === undefined)) {
      const copies = group.filter((z) => z.mirrorOf === head.id);
      if (copies.length) {
        notes.push(
          `${[head, ...copies].map((z) => `${z.zone} (${z.id})`).join(', ')} read one counter (identical raw energy_uj in ${passes} reads): counted once, as ${head.zone}`,
        );
      }
    }
  }
  return notes;
}

/** Monotonic, wrap-corrected RAPL counters of every zone of one machine. */
export class RaplMeter implements Meter {
  readonly name = 'rapl';
  readonly source = 'rapl' as const;
  private readonly counters: WrapCounter[];
  private readonly lastT: Array<bigint | null>;
  private readonly lastUj: Array<bigint | null>;
  private readonly peakW: number[];
  /** Kept-open energy_uj files, when reading through the real file system (null: an injected reader, read through it every time). */
  private readonly files: CounterFile[] | null;
  /** The samples read() returns, one object per zone, updated in place. */
  private readonly samples: ZoneSample[];

  constructor(
    private readonly info: RaplZoneInfo[],
    private readonly reader: SysfsReader = nodeSysfsReader,
    private readonly now: () => bigint = () => process.hrtime.bigint(),
    /** How the zones were counted (mirrored counters merged), for the probe. */
    readonly topologyNotes: string[] = [],
  ) {
    this.counters = info.map((z) => new WrapCounter(z.maxRangeUj));
    this.lastT = info.map(() => null);
    this.lastUj = info.map(() => null);
    this.peakW = info.map(() => 0);
    this.files = reader === nodeSysfsReader ? info.map((z) => new CounterFile(join(z.path, 'energy_uj'))) : null;
    this.samples = info.map((z) => ({ zone: z.zone, uj: 0n }));
  }

  zones(): ZoneInfo[] {
    return this.info.map(({ meter, zone, source, role, maxRangeUj, note }) => ({
      meter,
      zone,
      source,
      role,
      maxRangeUj,
      ...(note ? { note } : {}),
    }));
  }

  /** Zones with their powercap id, path, name, parent and socket. */
  details(): RaplZoneInfo[] {
    return this.info.map((z) => ({ ...z }));
  }

  /** One raw energy_uj reading of zone i. */
  private raw(i: number): bigint {
    const files = this.files;
    if (files !== null) {
      let v: number;
      try {
        v = files[i].readUint();
      } catch (err) {
        const msg = (err as Error).message;
        if (msg.includes('not an integer') || msg.includes('more digits')) throw err;
        throw new Error(`cannot read ${files[i].path}: ${msg}`);
      }
      return BigInt(v);
    }
    const file = join(this.info[i].path, 'energy_uj');
    let text: string;
    try {
      text = this.reader.readFile(file).trim();
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as Error).message}`);
    }
    if (!/^\d+$/.test(text)) throw new Error(`${file}: not an integer: "${text}"`);
    return BigInt(text);
  }

  /**
   * Reads every zone. The returned array and its objects are reused by the next read(): copy
   * what must outlive it.
   */
  read(): ZoneSample[] {
    const n = this.info.length;
    for (let i = 0; i < n; i++) {
      const uj = this.counters[i].update(this.raw(i));
      const t = this.now();
      const prevT = this.lastT[i];
      const prevUj = this.lastUj[i];
      if (prevT !== null && prevUj !== null && t > prevT) {
        const w = joulesFromUj(uj - prevUj) / secondsFromNs(t - prevT);
        if (w > this.peakW[i]) this.peakW[i] = w;
      }
      this.lastT[i] = t;
      this.lastUj[i] = uj;
      this.samples[i].uj = uj;
    }
    return this.samples;
  }

  /** Wraps seen so far per zone. */
  wraps(): Record<string, number> {
    return Object.fromEntries(this.info.map((z, i) => [z.zone, this.counters[i].wraps]));
  }

  /** Seconds until a zone's counter wraps at `watts` (default: highest power seen, else assumeW). */
  wrapPeriodS(opts: { assumeW?: number } = {}): Record<string, number> {
    const assumeW = opts.assumeW ?? 500;
    return Object.fromEntries(
      this.info.map((z, i) => {
        const w = Math.max(this.peakW[i], this.lastT[i] === null || this.peakW[i] === 0 ? assumeW : 0);
        return [z.zone, joulesFromUj(z.maxRangeUj) / w];
      }),
    );
  }

  /**
   * Lowest sampling rate that reads every counter at least 4× per wrap period, from the highest
   * power seen on each zone (before any reading: `assumeW`, default 500 W, above any one socket's
   * power today), and never below `minHz` (default 1).
   */
  recommendedHz(opts: { assumeW?: number; minHz?: number } = {}): number {
    const periods = Object.values(this.wrapPeriodS(opts));
    const need = periods.length ? Math.max(...periods.map((p) => 4 / p)) : 0;
    return Math.max(opts.minHz ?? 1, need);
  }

  close(): void {
    for (const f of this.files ?? []) f.close();
  }
}

/** Opens the RAPL meter from the powercap tree, or says why there is none (never a silent zero). */
export function openRaplMeter(opts: RaplOptions = {}): MeterProbe {
  const reader = opts.reader ?? nodeSysfsReader;
  const sysfsRoot = opts.sysfsRoot ?? '/sys';
  const found = discoverRaplZones(sysfsRoot, reader);
  const refuse = (reason: string, fix: string, state: 'absent' | 'unusable' = 'unusable'): MeterProbe => ({
    ok: false,
    meter: 'rapl',
    source: 'rapl',
    reason,
    fix,
    state,
  });
  if (!reader.exists(found.dir)) {
    return refuse(
      `no RAPL: ${found.dir} does not exist (a VM, a container without /sys, or a CPU without RAPL)`,
      RAPL_FIX_MISSING,
      'absent',
    );
  }
  const denied = found.problems.filter((p) => p.permission);
  if (denied.length > 0) {
    const files = denied.map((p) => p.path);
    return refuse(
      `RAPL present but unreadable: permission denied on ${files.length} file(s), e.g. ${files[0]} (energy_uj is readable by root only on current kernels)`,
      RAPL_FIX_PERMISSION,
    );
  }
  if (found.problems.length > 0) {
    const list = found.problems.map((p) => `${p.path}: ${p.reason}`).join('; ');
    return refuse(
      `RAPL tree incomplete, counters cannot be corrected for wraps: ${list}`,
      'check the kernel powercap driver (intel_rapl_common) and the --sysfs root',
    );
  }
  if (found.zones.length === 0) return refuse(`no RAPL zones in ${found.dir}`, RAPL_FIX_MISSING, 'absent');
  if (!found.zones.some((z) => z.role === 'total')) {
    return refuse(
      `no package zone in ${found.dir} (only ${found.zones.map((z) => z.zone).join(', ')})`,
      RAPL_FIX_MISSING,
    );
  }
  let notes: string[];
  try {
    notes = markMirroredPackages(found.zones, reader, opts.mirrorPasses);
  } catch (err) {
    return refuse(`RAPL counters unreadable: ${(err as Error).message}`, RAPL_FIX_PERMISSION);
  }
  const meter = new RaplMeter(found.zones, reader, opts.now, notes);
  try {
    meter.read(); // first reading: proves the counters are readable now, and starts wrap tracking
  } catch (err) {
    return refuse(`RAPL counters unreadable: ${(err as Error).message}`, RAPL_FIX_PERMISSION);
  }
  return { ok: true, meter };
}
