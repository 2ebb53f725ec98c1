import { createHash } from 'node:crypto';

/**
 * The hardware of a machine, as far as it decides the energy of an encode. Two machines with
 * the same facts are one hardware class: their runs are compared with each other and never
 * pooled with another class (docs/fleet.md).
 */
export interface MachineFacts {
  /** `model name` of /proc/cpuinfo, e.g. "AMD EPYC 7R13 Processor". */
  cpuModel: string;
  sockets: number;
  physicalCores: number;
  logicalCores: number;
  /** MemTotal of /proc/meminfo, bytes. */
  memoryBytes: number;
  gpus: GpuFacts[];
}

export interface GpuFacts {
  model: string;
  /** Framebuffer memory, bytes; null where the driver does not say. */
  vramBytes: number | null;
  /** Driver version (provenance only: a driver upgrade does not make a new class). */
  driver: string | null;
  /** Where the figures came from: NVML, or systeminformation's PCI/driver listing. */
  source: 'nvml' | 'systeminformation';
}

const GIB = 1024 ** 3;

/**
 * MemTotal is the installed memory less what firmware and the kernel keep back, and that
 * share moves by a few MiB between kernels and boots; whole GiB rounded up absorb it
 * (16 GiB installed reads 15.5 GiB → 16).
 */
export function memoryGib(bytes: number): number {
  return Math.ceil(bytes / GIB - 1e-9);
}

/** VRAM in whole GiB (rounded to nearest: the driver reports the usable framebuffer, a little under the board size). */
export function vramGib(bytes: number | null): number | null {
  return bytes == null ? null : Math.round(bytes / GIB);
}

/** CPU model without vendor decorations: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz" → "Intel Xeon Gold 6338 @ 2.00GHz". */
export function cleanCpuModel(model: string): string {
  return model
    .replace(/\((R|TM|tm|r)\)/g, '')
    .replace(/\bCPU\b/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * What the class is made of, in a fixed order. Left out on purpose because they change
 * without the hardware changing: hostname, kernel, CPU microcode, governor and clocks,
 * GPU driver version, free memory, NVML's device order (GPUs are sorted), exact MemTotal.
 */
export function classFacts(m: MachineFacts): Record<string, unknown> {
  const gpus = m.gpus
    .map((g) => ({ model: g.model.trim(), vramGib: vramGib(g.vramBytes) }))
    .sort((a, b) => (a.model + a.vramGib).localeCompare(b.model + b.vramGib));
  return {
    cpu: cleanCpuModel(m.cpuModel),
    sockets: m.sockets,
    physicalCores: m.physicalCores,
    logicalCores: m.logicalCores,
    memoryGib: memoryGib(m.memoryBytes),
    gpus,
  };
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/@.*$/, '')
    .replace(/\b(processor|with radeon graphics|\d+-core)\b/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

/**
 * The class id: a readable part (CPU, sockets × physical cores, memory, GPUs) and 8 hex of the
 * SHA-256 of classFacts, e.g. "amd-epyc-7r13-1s2c-24g-3b0c6f1e" or
 * "intel-xeon-gold-6338-2s64c-256g-nvidia-a10x1-9f2e11aa". Only letters, digits and '-'.
 */
export function hardwareClassId(m: MachineFacts): string {
  const facts = classFacts(m);
  const hash = createHash('sha256').update(JSON.stringify(facts)).digest('hex').slice(0, 8);
  const counts = new Map<string, number>();
  for (const g of facts.gpus as Array<{ model: string }>) counts.set(g.model, (counts.get(g.model) ?? 0) + 1);
  const gpuPart = [...counts].map(([model, n]) => `${slug(model).slice(0, 24)}x${n}`).join('-');
  const readable = [
    slug(String(facts.cpu)).slice(0, 32),
    `${m.sockets}s${m.physicalCores}c`,
    `${facts.memoryGib}g`,
    gpuPart,
  ]
    .filter(Boolean)
    .join('-');
  return `${readable}-${hash}`;
}

/** One line for provenance and reports: "NVIDIA A10 (24 GiB, driver 550.54.15)", several joined by "; "; null without GPU. */
export function gpuSummary(gpus: GpuFacts[]): string | null {
  if (gpus.length === 0) return null;
  return gpus
    .map((g) => {
      const extra = [g.vramBytes != null ? `${vramGib(g.vramBytes)} GiB` : null, g.driver ? `driver ${g.driver}` : null]
        .filter(Boolean)
        .join(', ');
      return extra ? `${g.model} (${extra})` : g.model;
    })
    .join('; ');
}
