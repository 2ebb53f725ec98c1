import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeNvmlLibrary, fakeNvmlState } from '../test/fixtures/fake-nvml/fake-nvml.ts';
import { hostFacts, inputHash, nodeRegistration, nvmlGpuFacts, readMachineFacts } from './host-facts.ts';

describe('inputHash', () => {
  it('is the SHA-256 of a file input and changes when the file does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-hash-'));
    const path = join(dir, 'in.mp4');
    writeFileSync(path, 'first');
    const input = { kind: 'file' as const, path, resolution: { width: 320, height: 240 }, fps: 30 };
    expect(await inputHash(input)).toBe(createHash('sha256').update('first').digest('hex'));
    writeFileSync(path, 'second, longer');
    expect(await inputHash(input)).toBe(createHash('sha256').update('second, longer').digest('hex'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is stable for a synthetic source and differs between sources', async () => {
    const a = {
      kind: 'synthetic' as const,
      source: 'testsrc2' as const,
      resolution: { width: 320, height: 240 },
      fps: 30,
    };
    expect(await inputHash(a)).toBe(await inputHash({ ...a }));
    expect(await inputHash(a)).not.toBe(await inputHash({ ...a, source: 'smptehdbars' }));
  });
});

describe('host facts with an NVIDIA GPU (fake NVML library)', () => {
  const A10 = {
    name: 'NVIDIA A10',
    uuid: 'GPU-3f1c2a8e-5d7b-4c09-9e61-0a2b4c6d8e10',
    energyMj: 1_000_000n,
    powerMw: 62_000,
    memoryTotalBytes: 24_146_608_128n,
  };

  it('names the GPU model, VRAM and driver, and puts it in the class, provenance line and node registration', async () => {
    const state = fakeNvmlState();
    state.set([A10]);
    const before = { ...process.env };
    Object.assign(process.env, state.env, { FAKE_NVML_DRIVER_VERSION: '550.54.15' });
    try {
      const lib = fakeNvmlLibrary('with-energy');
      const gpus = nvmlGpuFacts(lib);
      expect(gpus).toEqual([{ model: 'NVIDIA A10', vramBytes: 24_146_608_128, driver: '550.54.15', source: 'nvml' }]);
      expect(state.log()).toMatch(/nvmlInit_v2\n[\s\S]*nvmlShutdown\n$/); // NVML left as found, for the meter to open

      const machine = await readMachineFacts({ nvmlLibrary: lib });
      expect(machine.gpus.map((g) => g.model)).toEqual(['NVIDIA A10']);
      expect(machine.logicalCores).toBe(cpus().length);
      expect(machine.sockets).toBeGreaterThanOrEqual(1);
      expect(machine.memoryBytes).toBeGreaterThan(0);

      const host = hostFacts({ meters: [], machine });
      expect(host.gpu).toBe('NVIDIA A10 (22 GiB, driver 550.54.15)');
      expect(host.hardwareClass).toMatch(/-nvidia-a10x1-[0-9a-f]{8}$/);
      const without = hostFacts({ meters: [], machine: { ...machine, gpus: [] } });
      expect(without.hardwareClass).not.toBe(host.hardwareClass);
      expect(without.gpu).toBeNull();

      const reg = nodeRegistration(
        'n1',
        host,
        {
          ffmpegPath: 'ffmpeg',
          ffmpegVersion: '5.1.6',
          buildconfHash: 'ab'.repeat(32),
          listed: [],
          usable: ['libx264'],
          refused: [],
          codecMap: { h264: 'libx264' },
        } as never,
        [],
      );
      expect(reg.hardwareClass).toBe(host.hardwareClass);
      expect(reg.hardware).toMatchObject({
        gpu: host.gpu,
        gpus: machine.gpus,
        ffmpegBuildconfHash: 'ab'.repeat(32),
        sockets: machine.sockets,
      });
    } finally {
      process.env = before;
      state.cleanup();
    }
  });

  it('without NVML (no library) reads no NVIDIA GPU from it', () => {
    expect(nvmlGpuFacts('/nonexistent/libnvidia-ml.so.1')).toBeNull();
  });
});
