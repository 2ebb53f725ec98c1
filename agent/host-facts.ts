import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import type { InputSpec, Provenance } from '../core/types.ts';
import type { Meter, MeterRefusal } from '../energy/index.ts';
import type { EncoderReport } from '../media/encoders.ts';
import type { NodeRegistration } from './client.ts';
import { readPreflight, type Preflight } from '../energy/preflight.ts';

/** Facts about this machine that go into every run's provenance. */
export interface HostFacts {
  hostname: string;
  kernel: string;
  cpuModel: string;
  cores: number;
  gpu: string | null;
  meters: Provenance['meters'];
  hybridMaster: boolean;
  /** Governor, turbo and temperatures now (energy/preflight.ts). */
  preflight(): Preflight;
}

const fileHashes = new Map<string, string>();

/** SHA-256 of an input: of the file's bytes (once per path+size+mtime), or of a synthetic source's description. */
export async function inputHash(input: InputSpec): Promise<string> {
  if (input.kind === 'synthetic') {
    return createHash('sha256').update(`lavfi:${input.source}:${input.resolution.width}x${input.resolution.height}:${input.fps}`).digest('hex');
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

export function hostFacts(opts: { sysfsRoot?: string; meters: Provenance['meters']; gpu?: string | null; hybridMaster?: boolean }): HostFacts {
  const sys = opts.sysfsRoot ?? process.env.FFWATT_SYSFS ?? '/sys';
  const cpu = cpus();
  return {
    hostname: hostname(),
    kernel: release(),
    cpuModel: cpu[0]?.model?.trim() || 'unknown',
    cores: cpu.length,
    gpu: opts.gpu ?? null,
    meters: opts.meters,
    hybridMaster: opts.hybridMaster ?? false,
    preflight: () => readPreflight({ sysfsRoot: sys }),
  };
}

/** Every meter tried on this host, used or refused (with the reason), as provenance records them. */
export function provenanceMeters(meters: Meter[], refused: MeterRefusal[]): Provenance['meters'] {
  return [
    ...meters.map((m) => ({ meter: m.name, source: m.source, valid: true, state: 'in-use' as const })),
    ...refused.map((r) => ({ meter: r.meter, source: r.source, valid: false, note: r.reason, state: r.state })),
  ];
}

/** What this host tells the master when it registers: hardware, usable encoders, meters. */
export function nodeRegistration(id: string, host: HostFacts, encoders: EncoderReport, labels: string[]): NodeRegistration {
  return {
    id,
    hostname: host.hostname,
    hardware: { cpuModel: host.cpuModel, cores: host.cores, kernel: host.kernel },
    encoders: encoders.codecMap as Record<string, string>,
    meters: host.meters.map((m) => ({ meter: m.meter, source: m.source, ok: m.valid, ...(m.note ? { reason: m.note } : {}), ...(m.state ? { state: m.state } : {}) })),
    labels,
  };
}
