import { describe, expect, it } from 'vitest';
import { cleanCpuModel, gpuSummary, hardwareClassId, memoryGib, type MachineFacts } from './hardware-class.ts';

// Figures as Linux reports them: `model name` lines of /proc/cpuinfo and MemTotal of
// /proc/meminfo (kB × 1024) of real machines; NVML device names as nvmlDeviceGetName gives them.
const EPYC: MachineFacts = {
  cpuModel: 'AMD EPYC 7R13 Processor',
  sockets: 1,
  physicalCores: 2,
  logicalCores: 2,
  memoryBytes: 25_276_071_936, // this CI machine's MemTotal (24 GiB installed less the kernel's share)
  gpus: [],
};
// NVML's framebuffer totals: A10 23028 MiB, T4 15360 MiB (nvidia-smi shows the same MiB).
const XEON_A10: MachineFacts = {
  cpuModel: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
  sockets: 2,
  physicalCores: 64,
  logicalCores: 128,
  memoryBytes: 263_724_376 * 1024, // MemTotal of the order a 256 GiB two-socket server reports (firmware and kernel hold ~2 % back)
  gpus: [
    { model: 'NVIDIA A10', vramBytes: 24_146_608_128, driver: '550.54.15', source: 'nvml' },
    { model: 'NVIDIA A10', vramBytes: 24_146_608_128, driver: '550.54.15', source: 'nvml' },
  ],
};

describe('hardware class id', () => {
  it('is readable, made of [a-z0-9-] only, and names CPU, sockets × cores, memory and GPUs', () => {
    expect(hardwareClassId(EPYC)).toMatch(/^amd-epyc-7r13-1s2c-24g-[0-9a-f]{8}$/);
    expect(hardwareClassId(XEON_A10)).toMatch(/^intel-xeon-gold-6338-2s64c-252g-nvidia-a10x2-[0-9a-f]{8}$/);
  });

  it('does not change with what varies between boots: kernel reservations in MemTotal, GPU driver, NVML order', () => {
    const id = hardwareClassId(XEON_A10);
    expect(hardwareClassId({ ...XEON_A10, memoryBytes: XEON_A10.memoryBytes - 48 * 1024 * 1024 })).toBe(id);
    expect(hardwareClassId({ ...XEON_A10, gpus: XEON_A10.gpus.map((g) => ({ ...g, driver: '535.161.08' })) })).toBe(id);
    expect(hardwareClassId({ ...XEON_A10, gpus: [...XEON_A10.gpus].reverse() })).toBe(id);
  });

  it('changes with the hardware: another CPU, SMT off, another GPU, a GPU removed', () => {
    const id = hardwareClassId(XEON_A10);
    expect(
      hardwareClassId({
        ...XEON_A10,
        cpuModel: 'Intel(R) Xeon(R) Gold 6348 CPU @ 2.60GHz',
        physicalCores: 56,
        logicalCores: 112,
      }),
    ).not.toBe(id);
    expect(hardwareClassId({ ...XEON_A10, logicalCores: 64 })).not.toBe(id);
    expect(
      hardwareClassId({
        ...XEON_A10,
        gpus: [{ model: 'Tesla T4', vramBytes: 16_106_127_360, driver: '550.54.15', source: 'nvml' }],
      }),
    ).not.toBe(id);
    expect(hardwareClassId({ ...XEON_A10, gpus: XEON_A10.gpus.slice(1) })).not.toBe(id);
  });

  it('rounds MemTotal up to whole GiB and strips vendor marks from the CPU name', () => {
    expect(memoryGib(16_270_000 * 1024)).toBe(16); // 15.5 GiB visible of 16 installed
    expect(memoryGib(16 * 1024 ** 3)).toBe(16);
    expect(cleanCpuModel('Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz')).toBe('Intel Xeon Gold 6338 @ 2.00GHz');
  });

  it('summarizes GPUs for provenance, null without one', () => {
    expect(gpuSummary([])).toBeNull();
    expect(gpuSummary(XEON_A10.gpus)).toBe(
      'NVIDIA A10 (22 GiB, driver 550.54.15); NVIDIA A10 (22 GiB, driver 550.54.15)',
    );
  });
});
