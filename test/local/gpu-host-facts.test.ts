// A local run on a host with an NVIDIA GPU (the fake NVML library standing in for the driver):
// the GPU model lands in every run's provenance and in the node's facts, with the hardware class.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeNvmlLibrary, fakeNvmlState } from '../fixtures/fake-nvml/fake-nvml.ts';
import { startFfwatt } from '../fleet/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-gpu-'));
const nvml = fakeNvmlState();
afterAll(() => {
  nvml.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('local run on a GPU host (fake NVML)', () => {
  it('records the GPU model in provenance.gpu and the node facts, and the hardware class on both', async () => {
    nvml.set([
      {
        name: 'NVIDIA A10',
        uuid: 'GPU-3f1c2a8e-5d7b-4c09-9e61-0a2b4c6d8e10',
        energyMj: 5_000_000n,
        powerMw: 61_250,
        memoryTotalBytes: 24_146_608_128n,
      },
    ]);
    const matrix = join(dir, 'm.yml');
    writeFileSync(
      matrix,
      `name: gpu-facts
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 1, max: 1}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - {mode: file, codec: h264, preset: ultrafast, rate: {crf: 30}, duration_s: 1}
`,
    );
    const out = join(dir, 'out');
    const p = startFfwatt(
      ['run', matrix, '--out', out, '--no-report', '--nvml-library', fakeNvmlLibrary('with-energy'), '--json'],
      {
        ...nvml.env,
        FAKE_NVML_DRIVER_VERSION: '550.54.15',
      },
    );
    expect(await p.exited, p.output()).toBe(0);
    const db = new Database(join(out, 'ffwatt.sqlite'), { readonly: true });
    try {
      const run = db.prepare('SELECT provenance FROM run').get() as { provenance: string };
      const prov = JSON.parse(run.provenance);
      expect(prov.gpu).toBe('NVIDIA A10 (22 GiB, driver 550.54.15)');
      expect(prov.hardwareClass).toMatch(/-nvidia-a10x1-[0-9a-f]{8}$/);
      const node = db.prepare('SELECT hardware, hardware_class FROM node').get() as {
        hardware: string;
        hardware_class: string;
      };
      expect(node.hardware_class).toBe(prov.hardwareClass);
      const hw = JSON.parse(node.hardware);
      expect(hw.gpus).toEqual([
        { model: 'NVIDIA A10', vramBytes: 24_146_608_128, driver: '550.54.15', source: 'nvml' },
      ]);
      expect(hw.gpu).toBe(prov.gpu);
    } finally {
      db.close();
    }
  }, 120_000);
});
