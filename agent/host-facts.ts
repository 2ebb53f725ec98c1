import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import si from 'systeminformation';
import type { InputSpec, Provenance } from '../core/types.ts';
import { gpuSummary, hardwareClassId, type GpuFacts, type MachineFacts } from '../core/hardware-class.ts';
import { DEFAULT_NVML_LIBRARY } from '../energy/nvml.ts';
import { loadNvml } from '../energy/nvml-lib.ts';
import type { Meter, MeterRefusal } from '../energy/index.ts';
import type { EncoderReport } from '../media/encoders.ts';
import type { NodeRegistration } from './client.ts';
import { PreflightReader, type Preflight } from '../energy/preflight.ts';

/** Facts about this machine that go into every run's provenance. */
export interface HostFacts {
  hostname: string;
  kernel: string;
  cpuModel: string;
  cores: number;
  /** GPU models, VRAM and driver in one line (gpuSummary); null without GPU. */
  gpu: string | null;
  /** The hardware the class is derived from (CPU, sockets, cores, memory, GPUs). */
  machine: MachineFacts;
  /** Hardware class id (core/hardware-class.ts). */
  hardwareClass: string;
  meters: NonNullable<Provenance['meters']>;
  hybridMaster: boolean;
  /** Governor, turbo and temperatures now (energy/preflight.ts). */
  preflight(): Preflight;
}

const fileHashes = new Map<string, string>();

/** One preflight reader per sysfs root for the process: its descriptors stay open between runs. */
const preflightReaders = new Map<string, PreflightReader>();

function preflightReaderFor(sysfsRoot: string): PreflightReader {
  let reader = preflightReaders.get(sysfsRoot);
  if (reader === undefined) {
    reader = new PreflightReader({ sysfsRoot });
    preflightReaders.set(sysfsRoot, reader);
  }
  return reader;
}

/** SHA-256 of an input: of the file's bytes (once per path+size+mtime), or of a synthetic source's description. */
export async function inputHash(input: InputSpec): Promise<string> {
  if (input.kind === 'synthetic') {
    return createHash('sha256')
      .update(`lavfi:${input.source}:${input.resolution.width}x${input.resolution.height}:${input.fps}`)
      .digest('hex');
  }
  return hashInputFile(input.path);
}

async function hashInputFile(path: string): Promise<string> {
  const st = statSync(path);
  const key = `${path}:${st.size}:${st.mtimeMs}`;
  const known = fileHashes.get(key);
  if (known) return known;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  const digest = h.digest('hex');
  fileHashes.set(key, digest);
  return digest;
}

const orNull = <T>(f: () => T): T | null => {
  try {
    return f();
  } catch {
    return null;
  }
};

/**
 * GPUs through NVML (name, framebuffer size, driver). Reads and shuts NVML down again, so call
 * it before the NVML meter is opened. null when there is no NVML or it lists no GPU.
 */
export function nvmlGpuFacts(library: string = DEFAULT_NVML_LIBRARY): GpuFacts[] | null {
  const loaded = loadNvml(library);
  if (!loaded.ok) return null;
  const lib = loaded.lib;
  if (orNull(() => lib.init()) === null) return null;
  try {
    const driver = orNull(() => lib.driverVersion());
    const gpus: GpuFacts[] = [];
    const count = orNull(() => lib.deviceCount()) ?? 0;
    for (let i = 0; i < count; i++) {
      const d = orNull(() => lib.device(i));
      if (!d) continue;
      const vram = orNull(() => lib.memoryTotalBytes(d));
      gpus.push({
        model: orNull(() => lib.name(d)) ?? `NVIDIA GPU ${i}`,
        vramBytes: vram === null ? null : Number(vram),
        driver,
        source: 'nvml',
      });
    }
    return gpus.length > 0 ? gpus : null;
  } finally {
    orNull(() => lib.shutdown());
  }
}

/** Display controllers that encode (NVIDIA, AMD, Intel); a server's BMC VGA (ASPEED, Matrox) is not one. */
const ENCODING_GPU_VENDOR = /nvidia|amd|advanced micro devices|\bati\b|intel/i;

export interface MachineFactsOptions {
  /** NVML library path (null: do not try NVML). */
  nvmlLibrary?: string | null;
}

/**
 * CPU, sockets, cores, memory and GPUs from systeminformation (GPUs from NVML where it works:
 * it names the model, VRAM and driver without nvidia-smi). Read once at start.
 */
export async function readMachineFacts(opts: MachineFactsOptions = {}): Promise<MachineFacts> {
  const [cpu, mem] = await Promise.all([si.cpu(), si.mem()]);
  const nvml = opts.nvmlLibrary === null ? null : nvmlGpuFacts(opts.nvmlLibrary ?? DEFAULT_NVML_LIBRARY);
  let gpus: GpuFacts[];
  if (nvml) gpus = nvml;
  else {
    const graphics = await si
      .graphics()
      .catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] }));
    gpus = graphics.controllers
      .filter((c) => ENCODING_GPU_VENDOR.test(`${c.vendor} ${c.model}`))
      .map((c) => ({
        model: c.model || c.name || c.vendor,
        vramBytes: c.vram ? c.vram * 1024 * 1024 : null,
        driver: c.driverVersion || null,
        source: 'systeminformation' as const,
      }));
  }
  const logical = cpus();
  return {
    // si.cpu().brand is only the family ("EPYC"); /proc/cpuinfo's model name is the full one.
    cpuModel: logical[0]?.model?.trim() || [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ') || 'unknown',
    sockets: cpu.processors || 1,
    physicalCores: cpu.physicalCores || logical.length,
    logicalCores: cpu.cores || logical.length,
    memoryBytes: mem.total,
    gpus,
  };
}

/** Machine facts from node:os alone (no sockets, no GPUs): for callers that cannot wait for readMachineFacts. */
export function basicMachineFacts(): MachineFacts {
  const logical = cpus();
  return {
    cpuModel: logical[0]?.model?.trim() || 'unknown',
    sockets: 1,
    physicalCores: logical.length,
    logicalCores: logical.length,
    memoryBytes: totalmem(),
    gpus: [],
  };
}

export function hostFacts(opts: {
  sysfsRoot?: string;
  meters: NonNullable<Provenance['meters']>;
  machine?: MachineFacts;
  hybridMaster?: boolean;
}): HostFacts {
  const sys = opts.sysfsRoot ?? process.env.FFWATT_SYSFS ?? '/sys';
  const machine = opts.machine ?? basicMachineFacts();
  return {
    hostname: hostname(),
    kernel: release(),
    cpuModel: machine.cpuModel,
    cores: machine.logicalCores,
    gpu: gpuSummary(machine.gpus),
    machine,
    hardwareClass: hardwareClassId(machine),
    meters: opts.meters,
    hybridMaster: opts.hybridMaster ?? false,
    preflight: () => preflightReaderFor(sys).read(),
  };
}

/** Every meter tried on this host, used or refused (with the reason), as provenance records them. */
export function provenanceMeters(meters: Meter[], refused: MeterRefusal[]): NonNullable<Provenance['meters']> {
  return [
    ...meters.map((m) => ({ meter: m.name, source: m.source, valid: true, state: 'in-use' as const })),
    ...refused.map((r) => ({ meter: r.meter, source: r.source, valid: false, note: r.reason, state: r.state })),
  ];
}

/** What this host tells the master when it registers: hardware, usable encoders, meters. */
export function nodeRegistration(
  id: string,
  host: HostFacts,
  encoders: EncoderReport,
  labels: string[],
): NodeRegistration {
  return {
    id,
    hostname: host.hostname,
    hardware: {
      cpuModel: host.cpuModel,
      cores: host.cores,
      sockets: host.machine.sockets,
      physicalCores: host.machine.physicalCores,
      logicalCores: host.machine.logicalCores,
      memoryBytes: host.machine.memoryBytes,
      gpus: host.machine.gpus,
      gpu: host.gpu,
      kernel: host.kernel,
      ffmpegVersion: encoders.ffmpegVersion,
      ffmpegBuildconfHash: encoders.buildconfHash,
    },
    hardwareClass: host.hardwareClass,
    encoders: encoders.codecMap as Record<string, string>,
    meters: host.meters.map((m) => ({
      meter: m.meter,
      source: m.source,
      ok: m.valid,
      ...(m.note ? { reason: m.note } : {}),
      ...(m.state ? { state: m.state } : {}),
    })),
    labels,
  };
}
