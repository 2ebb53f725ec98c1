import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyPowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { energyProbeCommand, type EnergyProbeReport } from './probe-cli.ts';

const empty = mkdtempSync(join(tmpdir(), 'ffwatt-probe-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function probe(opts: Parameters<typeof energyProbeCommand>[0]) {
  let text = '';
  const code = await energyProbeCommand({ ...opts, out: (s) => (text += s) });
  return { code, text };
}

describe('ffwatt energy probe', () => {
  it('on this machine: no RAPL, no NVML, the estimate, said plainly, with a 2-second reading', async () => {
    const { code, text } = await probe({ env: {} });
    expect(code).toBe(0);
    expect(text).toMatch(/Zones, and a 2\.0-second reading:/);
    expect(text).toMatch(/CPU governor: /);
    expect(text).toMatch(/NVML \(NVIDIA GPUs\): (IN USE|not available\. no NVIDIA driver library)/);
    if (!existsSync('/sys/class/powercap')) {
      // the development box and CI containers: no powercap tree
      expect(text).toMatch(/RAPL \(CPU energy counters\): not available\. no RAPL: \/sys\/class\/powercap does not exist/);
      expect(text).toMatch(/Estimate \(CPU time model\): IN USE\. ESTIMATE, not a measurement/);
      expect(text).toMatch(/estimate\/cpu: total, source estimate, does not wrap; \d+\.\d{3} J, \d+\.\d{2} W average/);
      if (!text.includes('NVML (NVIDIA GPUs): IN USE')) expect(text).toMatch(/No hardware energy counter here: energy figures will be ESTIMATES/);
    } else {
      // bare metal: RAPL in use, or refused with its reason (then the estimate stands in)
      expect(text).toMatch(/RAPL \(CPU energy counters\): (IN USE|not available\. .+\n    fix: )/);
    }
  });

  it('on a RAPL fixture whose counters move: zones, wrap ranges and the watts put in', async () => {
    const f = copyPowercapFixture('intel-2socket');
    const timer = setInterval(() => f.run({ 'intel-rapl:0': 80, 'intel-rapl:1': 60, 'intel-rapl:0:0': 10, 'intel-rapl:1:0': 8 }, 0.05), 50);
    try {
      const { code, text } = await probe({ sysfs: f.sysfs, json: true, nvmlLibrary: join(empty, 'none.so'), seconds: 1 });
      expect(code).toBe(0);
      const r = JSON.parse(text) as EnergyProbeReport;
      expect(r.sysfs).toBe(f.sysfs);
      expect(r.meters.map((m) => m.meter)).toEqual(['rapl']);
      expect(r.refused.map((x) => x.meter)).toEqual(['nvml']);
      const zones = r.meters[0].zones;
      expect(zones.map((z) => [z.zone, z.role, z.readable])).toEqual([
        ['package-0', 'total', true],
        ['package-0/dram', 'component', true],
        ['package-1', 'total', true],
        ['package-1/dram', 'component', true],
      ]);
      expect(zones[0].wrapRangeJ).toBeCloseTo(262143.32885, 5);
      // the writer runs on wall-clock timers: allow for its jitter
      expect(r.reading.totalW).toBeGreaterThan(140 * 0.6);
      expect(r.reading.totalW).toBeLessThan(140 * 1.4);
      expect(r.reading.source).toBe('rapl');
      expect(r.preflight).toMatchObject({ governor: 'performance', turbo: 'off' });
    } finally {
      clearInterval(timer);
      f.cleanup();
    }
  });

  it('takes the sysfs root from FFWATT_SYSFS', async () => {
    const { text } = await probe({ env: { FFWATT_SYSFS: empty }, nvmlLibrary: join(empty, 'none.so'), seconds: 0.2 });
    expect(text).toContain(`sysfs root ${empty}`);
    expect(text).toContain(`no RAPL: ${empty}/class/powercap does not exist`);
  });

  it('exits 1 when no meter at all can be used, and says so', async () => {
    const { code, text } = await probe({ sysfs: empty, nvmlLibrary: join(empty, 'none.so'), procRoot: join(empty, 'proc'), seconds: 0.1 });
    expect(code).toBe(1);
    expect(text).toMatch(/Estimate \(CPU time model\): not available\. cannot read .*proc\/stat/);
    expect(text).toMatch(/No meter can be used here/);
  });
});
