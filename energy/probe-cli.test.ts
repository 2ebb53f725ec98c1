import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyPowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { LAYOUTS } from '../test/fixtures/powercap/layouts.ts';
import { energyProbeCommand, type EnergyProbeReport } from './probe-cli.ts';

const empty = mkdtempSync(join(tmpdir(), 'ffwatt-probe-'));
const BIN = new URL('../bin/ffwatt.mjs', import.meta.url).pathname;
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
    expect(text).toMatch(
      /NVML \(NVIDIA GPUs\): (IN USE|ABSENT \(this machine does not have it\)\. no NVIDIA driver library)/,
    );
    if (!existsSync('/sys/class/powercap')) {
      // the development box and CI containers: no powercap tree
      expect(text).toMatch(
        /RAPL \(CPU energy counters\): ABSENT \(this machine does not have it\)\. no RAPL: \/sys\/class\/powercap does not exist/,
      );
      expect(text).toMatch(
        /Estimate \(CPU time model\): IN USE\. ESTIMATE, not a measurement: .* W per busy logical CPU \(default 10 W per busy core ÷ \d+ thread\(s\) per core/,
      );
      expect(text).toMatch(/estimate\/cpu: total, source estimate, does not wrap; \d+\.\d{3} J, \d+\.\d{2} W average/);
      if (!text.includes('NVML (NVIDIA GPUs): IN USE'))
        expect(text).toMatch(/No hardware energy counter here: energy figures will be ESTIMATES/);
    } else {
      // bare metal: RAPL in use, or refused with its reason (then the estimate stands in)
      expect(text).toMatch(/RAPL \(CPU energy counters\): (IN USE|ABSENT|UNUSABLE)/);
    }
  });

  it('on a RAPL fixture whose counters move: zones, wrap ranges and the watts put in', async () => {
    const f = copyPowercapFixture('intel-2socket');
    const timer = setInterval(
      () => f.run({ 'intel-rapl:0': 80, 'intel-rapl:1': 60, 'intel-rapl:0:0': 10, 'intel-rapl:1:0': 8 }, 0.05),
      50,
    );
    try {
      const { code, text } = await probe({
        sysfs: f.sysfs,
        json: true,
        nvmlLibrary: join(empty, 'none.so'),
        seconds: 1,
      });
      expect(code).toBe(0);
      const r = JSON.parse(text) as EnergyProbeReport;
      expect(r.sysfs).toBe(f.sysfs);
      expect(r.meters.map((m) => m.meter)).toEqual(['rapl']);
      expect(r.refused.map((x) => x.meter)).toEqual(['nvml']);
      const zones = r.meters[0].zones;
      expect(zones.map((z) => [z.zone, z.role, z.readable])).toEqual([
        ['package-0', 'total', true],
        ['package-0/dram', 'total', true],
        ['package-1', 'total', true],
        ['package-1/dram', 'total', true],
      ]);
      expect(zones[0].wrapRangeJ).toBeCloseTo(262143.32885, 5);
      // the writer runs on wall-clock timers: allow for its jitter
      expect(r.reading.totalW).toBeGreaterThan(158 * 0.6);
      expect(r.reading.totalW).toBeLessThan(158 * 1.4);
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
    const { text: json } = await probe({
      env: { FFWATT_SYSFS: empty },
      nvmlLibrary: join(empty, 'none.so'),
      seconds: 0.2,
      json: true,
    });
    expect((JSON.parse(json) as EnergyProbeReport).refused.map((x) => [x.meter, x.state])).toEqual([
      ['rapl', 'absent'],
      ['nvml', 'absent'],
    ]);
  });

  it('refuses a bad --seconds with exit 2 naming the flag', async () => {
    const r = await execa('node', [BIN, 'energy', 'probe', '--seconds', 'soon'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--seconds must be a number of seconds/);
  });

  it('exits 1 when no meter at all can be used, and says so', async () => {
    const { code, text } = await probe({
      sysfs: empty,
      nvmlLibrary: join(empty, 'none.so'),
      procRoot: join(empty, 'proc'),
      seconds: 0.1,
    });
    expect(code).toBe(1);
    expect(text).toMatch(
      /Estimate \(CPU time model\): UNUSABLE \(present, cannot be read\)\. cannot read .*proc\/stat/,
    );
    expect(text).toMatch(/No meter can be used here/);
  });
});

describe('ffwatt energy probe --sysfs DIR --json, on every layout (a real CLI process; its counters moved in real time)', () => {
  for (const L of LAYOUTS) {
    it(`${L.fixture}: machine total ${L.totalW} W`, async () => {
      const f = copyPowercapFixture(L.fixture);
      const writer = f.rateWriter(L.watts, { mirrors: L.mirrors });
      try {
        const r = await execa(
          'node',
          [
            ...writer.nodeArgs,
            BIN,
            'energy',
            'probe',
            '--sysfs',
            f.sysfs,
            '--json',
            '--seconds',
            '4',
            '--nvml-library',
            join(empty, 'none.so'),
          ],
          {
            reject: false,
            env: writer.env,
          },
        );
        expect(r.exitCode, r.stderr).toBe(0);
        const report = JSON.parse(r.stdout) as EnergyProbeReport;
        const rapl = report.meters.find((m) => m.meter === 'rapl')!;
        expect(Object.fromEntries(rapl.zones.map((z) => [z.zone, z.role]))).toEqual(L.roles);
        // Counters are fresh at every read (one 10 ms update at most) over a 4 s reading: within 0.5 %
        // on a quiet machine. A probe preempted between reading the counters and stamping the time
        // at one end of the window (100+ ms on the shared 2-CPU box) moves the figure by up to ~3 %;
        // the totals before the kernel's rules were applied are 11 % or more away.
        expect(report.reading.seconds).toBeGreaterThanOrEqual(4);
        expect(report.reading.totalW! / L.totalW).toBeGreaterThan(0.95);
        expect(report.reading.totalW! / L.totalW).toBeLessThan(1.05);
        if (L.wrongW !== undefined)
          expect(Math.abs(report.reading.totalW! - L.wrongW) / L.totalW).toBeGreaterThan(0.08);
        if (L.platformW === null) expect(report.reading.platformW).toBeNull();
        else expect(report.reading.platformW! / L.platformW).toBeCloseTo(1, 1);
        expect(report.reading.flags).toEqual([]);
        if (L.mirrors && L.fixture.startsWith('amd'))
          expect(rapl.notes.join('\n')).toMatch(/read one counter .*counted once/);
      } finally {
        f.cleanup();
      }
    }, 60_000);
  }
});
