import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ZoneRole } from '../core/types.ts';
import type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
import { joulesFromUj, secondsFromNs, WrapCounter } from './units.ts';

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
  /** Contents of the zone's `name` file, e.g. `package-0`, `core`, `dram`, `psys`. */
  name: string;
  parentId: string | null;
  maxRangeUj: bigint;
  /** Socket number for package zones and their sub-zones. */
  socket: number | null;
}

export interface RaplOptions {
  /** Root of sysfs (default /sys); the powercap tree is `<sysfsRoot>/class/powercap`. */
  sysfsRoot?: string;
  reader?: SysfsReader;
  /** Monotonic clock in ns, used for power and wrap-period figures (default process.hrtime.bigint). */
  now?: () => bigint;
}

/** Why the RAPL meter could not be used. */
const RAPL_FIX_PERMISSION =
  'run the agent with the read access the worker role installs (its udev and tmpfiles rules make energy_uj readable to the ffwatt-rapl group, ffwatt_rapl_group; put the agent user in that group), or run it as root';
const RAPL_FIX_MISSING = 'run on bare metal with the RAPL driver loaded (modprobe intel_rapl_msr; AMD Zen uses the same driver); VMs and most containers have no RAPL';

const ID_RE = /^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$/;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export interface RaplDiscovery {
  dir: string;
  zones: RaplZoneInfo[];
  /** Files that could not be used; `permission` marks EACCES/EPERM. */
  problems: Array<{ path: string; reason: string; permission: boolean }>;
}

/** Finds every RAPL zone and checks that its files can be read. */
export function discoverRaplZones(sysfsRoot = '/sys', reader: SysfsReader = nodeSysfsReader): RaplDiscovery {
  const dir = join(sysfsRoot, 'class', 'powercap');
  const problems: RaplDiscovery['problems'] = [];
  const raw: Array<{ id: string; type: string; top: number; sub: number | null; path: string; name: string; maxRangeUj: bigint }> = [];
  const entries = reader.exists(dir) ? reader.readdir(dir).sort() : [];
  for (const id of entries) {
    const m = ID_RE.exec(id);
    if (!m) continue; // the `intel-rapl` control-type directory, other powercap drivers
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
      problems.push({ path: join(path, 'max_energy_range_uj'), permission: false, reason: `not a positive integer: "${range}"` });
      continue;
    }
    if (!/^\d+$/.test(energy)) {
      problems.push({ path: join(path, 'energy_uj'), permission: false, reason: `not an integer: "${energy}"` });
      continue;
    }
    raw.push({ id, type: m[1], top: Number(m[2]), sub: m[3] === undefined ? null : Number(m[3]), path, name, maxRangeUj: BigInt(range) });
  }

  const byId = new Map(raw.map((z) => [z.id, z]));
  const topName = (z: (typeof raw)[number]) => {
    const parent = z.sub === null ? z : byId.get(`${z.type}:${z.top}`);
    return parent?.name ?? `${z.type}:${z.top}`;
  };
  const zones: RaplZoneInfo[] = raw.map((z) => {
    const parentId = z.sub === null ? null : `${z.type}:${z.top}`;
    const mmio = z.type === 'intel-rapl-mmio';
    // psys covers the whole platform (packages included): reported, never added. The MMIO
    // interface is a second view of a package: never added. Sub-zones lie inside their package.
    const role: ZoneRole = z.sub !== null || mmio ? 'component' : z.name === 'psys' ? 'platform' : 'total';
    const base = z.sub === null ? z.name : `${topName(z)}/${z.name}`;
    const socketMatch = /^package-(\d+)/.exec(topName(z));
    return {
      meter: 'rapl',
      zone: mmio ? `mmio:${base}` : base,
      source: 'rapl',
      role,
      maxRangeUj: z.maxRangeUj,
      id: z.id,
      path: z.path,
      name: z.name,
      parentId,
      socket: socketMatch ? Number(socketMatch[1]) : null,
    };
  });
  // Zone labels must be unique (two sockets both reporting a bare `dram` sibling, say): add the id.
  const counts = new Map<string, number>();
  for (const z of zones) counts.set(z.zone, (counts.get(z.zone) ?? 0) + 1);
  for (const z of zones) if ((counts.get(z.zone) ?? 0) > 1) z.zone = `${z.zone}@${z.id}`;
  return { dir, zones, problems };
}

/** Monotonic, wrap-corrected RAPL counters of every zone of one machine. */
export class RaplMeter implements Meter {
  readonly name = 'rapl';
  readonly source = 'rapl' as const;
  private readonly counters: WrapCounter[];
  private readonly lastT: Array<bigint | null>;
  private readonly lastUj: Array<bigint | null>;
  private readonly peakW: number[];

  constructor(
    private readonly info: RaplZoneInfo[],
    private readonly reader: SysfsReader = nodeSysfsReader,
    private readonly now: () => bigint = () => process.hrtime.bigint(),
  ) {
    this.counters = info.map((z) => new WrapCounter(z.maxRangeUj));
    this.lastT = info.map(() => null);
    this.lastUj = info.map(() => null);
    this.peakW = info.map(() => 0);
  }

  zones(): ZoneInfo[] {
    return this.info.map(({ meter, zone, source, role, maxRangeUj }) => ({ meter, zone, source, role, maxRangeUj }));
  }

  /** Zones with their powercap id, path, name, parent and socket. */
  details(): RaplZoneInfo[] {
    return this.info.map((z) => ({ ...z }));
  }

  read(): ZoneSample[] {
    return this.info.map((z, i) => {
      const file = join(z.path, 'energy_uj');
      let text: string;
      try {
        text = this.reader.readFile(file).trim();
      } catch (err) {
        throw new Error(`cannot read ${file}: ${(err as Error).message}`);
      }
      if (!/^\d+$/.test(text)) throw new Error(`${file}: not an integer: "${text}"`);
      const uj = this.counters[i].update(BigInt(text));
      const t = this.now();
      const prevT = this.lastT[i];
      const prevUj = this.lastUj[i];
      if (prevT !== null && prevUj !== null && t > prevT) {
        const w = joulesFromUj(uj - prevUj) / secondsFromNs(t - prevT);
        if (w > this.peakW[i]) this.peakW[i] = w;
      }
      this.lastT[i] = t;
      this.lastUj[i] = uj;
      return { zone: z.zone, uj };
    });
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

  close(): void {}
}

/** Opens the RAPL meter from the powercap tree, or says why there is none (never a silent zero). */
export function openRaplMeter(opts: RaplOptions = {}): MeterProbe {
  const reader = opts.reader ?? nodeSysfsReader;
  const sysfsRoot = opts.sysfsRoot ?? '/sys';
  const found = discoverRaplZones(sysfsRoot, reader);
  const refuse = (reason: string, fix: string): MeterProbe => ({ ok: false, meter: 'rapl', source: 'rapl', reason, fix });
  if (!reader.exists(found.dir)) {
    return refuse(`no RAPL: ${found.dir} does not exist (a VM, a container without /sys, or a CPU without RAPL)`, RAPL_FIX_MISSING);
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
    return refuse(`RAPL tree incomplete, counters cannot be corrected for wraps: ${list}`, 'check the kernel powercap driver (intel_rapl_common) and the --sysfs root');
  }
  if (found.zones.length === 0) return refuse(`no RAPL zones in ${found.dir}`, RAPL_FIX_MISSING);
  if (!found.zones.some((z) => z.role === 'total')) {
    return refuse(`no package zone in ${found.dir} (only ${found.zones.map((z) => z.zone).join(', ')})`, RAPL_FIX_MISSING);
  }
  const meter = new RaplMeter(found.zones, reader, opts.now);
  try {
    meter.read(); // first reading: proves the counters are readable now, and starts wrap tracking
  } catch (err) {
    return refuse(`RAPL counters unreadable: ${(err as Error).message}`, RAPL_FIX_PERMISSION);
  }
  return { ok: true, meter };
}
