import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as energy from './index.ts';
import { copyPowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { nodeSysfsReader } from './rapl.ts';

const empty = mkdtempSync(join(tmpdir(), 'ffwatt-sysfs-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('openMeters', () => {
  it('falls back to the labelled estimate when no RAPL tree exists, keeping every refusal with its reason', () => {
    const { meters, refused } = energy.openMeters({ sysfsRoot: empty, nvmlLibrary: join(empty, 'libnvidia-ml.so.1') });
    expect(meters.map((m) => [m.name, m.source])).toEqual([['estimate', 'estimate']]);
    expect(refused.map((r) => r.meter)).toEqual(['rapl', 'nvml']);
    expect(refused[0].reason).toContain(join(empty, 'class', 'powercap'));
    expect(refused[0].fix).toBeTruthy();
    expect(refused[1].reason).toMatch(/no NVIDIA driver library/);
    for (const m of meters) m.close();
  });

  it('takes the sysfs root from FFWATT_SYSFS and can skip NVML', () => {
    const { meters, refused } = energy.openMeters({
      env: { FFWATT_SYSFS: empty },
      nvmlLibrary: null,
      wattsPerLogicalCpu: 7,
    });
    expect(refused.map((r) => r.meter)).toEqual(['rapl']);
    expect(refused[0].reason).toContain(empty);
    expect((meters[0] as energy.EstimateMeter).wattsPerLogicalCpu).toBe(7);
  });

  it('on this machine gives RAPL exactly when a package counter in /sys reads, else the estimate', () => {
    // Decided from the machine, not from what openMeters returned: a top-level zone whose energy_uj reads as a number.
    const powercap = '/sys/class/powercap';
    const zones = existsSync(powercap) ? readdirSync(powercap).filter((z) => /^intel-rapl:\d+$/.test(z)) : [];
    const readable = zones.some((z) => {
      try {
        return /^\d+$/.test(readFileSync(join(powercap, z, 'energy_uj'), 'utf8').trim());
      } catch {
        return false;
      }
    });
    const { meters, refused } = energy.openMeters({ env: {}, nvmlLibrary: null });
    expect(meters.map((m) => m.source)).toEqual([readable ? 'rapl' : 'estimate']);
    expect(refused.map((r) => r.meter)).toEqual(readable ? [] : ['rapl']);
    for (const m of meters) m.close();
  });

  it('prefers RAPL and then opens no estimate', () => {
    const f = copyPowercapFixture('intel-2socket');
    try {
      const { meters, refused } = energy.openMeters({ sysfsRoot: f.sysfs, nvmlLibrary: null });
      expect(meters.map((m) => m.name)).toEqual(['rapl']);
      expect(refused).toEqual([]);
      expect(energy.samplingHz(meters)).toBe(10);
      expect(energy.samplingHz(meters, 0.5)).toBeGreaterThanOrEqual(1);
    } finally {
      f.cleanup();
    }
  });

  it('falls back to the estimate when RAPL exists but cannot be read, and says why', () => {
    const f = copyPowercapFixture('amd-2socket');
    try {
      const denying = {
        ...nodeSysfsReader,
        readFile: (p: string) => {
          if (p.endsWith('energy_uj')) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
          return nodeSysfsReader.readFile(p);
        },
      };
      const { meters, refused } = energy.openMeters({ sysfsRoot: f.sysfs, nvmlLibrary: null, sysfsReader: denying });
      expect(meters.map((m) => m.source)).toEqual(['estimate']);
      expect(refused[0].reason).toMatch(/permission denied/);
      expect(refused[0].fix).toMatch(/root/);
    } finally {
      f.cleanup();
    }
  });

  it('exports the API other parts call', () => {
    for (const name of [
      'openMeters',
      'Sampler',
      'measureIdle',
      'computeRunEnergy',
      'ProcTreeMonitor',
      'EstimateMeter',
      'wrapSafeDelta',
      'joulesFromUj',
    ]) {
      expect(typeof (energy as Record<string, unknown>)[name]).toBe('function');
    }
  });
});
