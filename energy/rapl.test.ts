import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  copyPowercapFixture,
  type PowercapFixture,
  type PowercapFixtureName,
} from '../test/fixtures/powercap/fixture.ts';
import { LAYOUTS } from '../test/fixtures/powercap/layouts.ts';
import {
  discoverRaplZones,
  nodeSysfsReader,
  openRaplMeter,
  type RaplMeter,
  TOPOLOGY_SUSPECT_FLAG,
  type SysfsReader,
} from './rapl.ts';
import { Sampler } from './sampler.ts';
import { computeRunEnergy } from './run-energy.ts';

const open: PowercapFixture[] = [];
const fixture = (name: PowercapFixtureName) => {
  const f = copyPowercapFixture(name);
  open.push(f);
  return f;
};
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

function openOk(sysfsRoot: string, extra: { reader?: SysfsReader; now?: () => bigint } = {}): RaplMeter {
  const p = openRaplMeter({ sysfsRoot, ...extra });
  if (!p.ok) throw new Error(`expected a meter, got: ${p.reason}`);
  return p.meter as RaplMeter;
}

const roles = (m: RaplMeter) => Object.fromEntries(m.zones().map((z) => [z.zone, z.role]));

describe('RAPL zone discovery', () => {
  it('walks the real symlinked layout: package and its nested dram are totals, core/uncore components, psys platform', () => {
    const f = fixture('intel-laptop');
    const m = openOk(f.sysfs);
    expect(roles(m)).toEqual({
      'package-0': 'total',
      'package-0/core': 'component',
      'package-0/uncore': 'component',
      'package-0/dram': 'total',
      psys: 'platform',
    });
    const d = m.details().find((z) => z.id === 'intel-rapl:0:2')!;
    expect(d).toMatchObject({
      name: 'dram',
      parentId: 'intel-rapl:0',
      socket: 0,
      maxRangeUj: 65712999613n,
      iface: 'msr',
    });
    // the counter is the hardware counter until it wraps
    expect(m.read().find((s) => s.zone === 'package-0')!.uj).toBe(73214556123n);
  });

  it('handles two sockets in a flat tree, each package a total with its own dram, also a total', () => {
    const f = fixture('intel-2socket');
    const m = openOk(f.sysfs);
    expect(roles(m)).toEqual({
      'package-0': 'total',
      'package-0/dram': 'total',
      'package-1': 'total',
      'package-1/dram': 'total',
    });
    expect(m.details().map((z) => z.socket)).toEqual([0, 0, 1, 1]);
  });

  it('reads AMD packages and cores through the same driver', () => {
    const f = fixture('amd-2socket');
    const m = openOk(f.sysfs);
    expect(roles(m)).toEqual({
      'package-0': 'total',
      'package-0/core': 'component',
      'package-1': 'total',
      'package-1/core': 'component',
    });
    expect(m.zones()[0].maxRangeUj).toBe(65532610987n);
  });

  it('refuses a tree where a zone lacks max_energy_range_uj, naming the file', () => {
    const f = fixture('missing-range');
    const p = openRaplMeter({ sysfsRoot: f.sysfs });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(/intel-rapl:0:0\/max_energy_range_uj: missing/);
  });

  it('says there is no RAPL when class/powercap is absent', () => {
    const p = openRaplMeter({ sysfsRoot: '/nonexistent-sysfs' });
    expect(p).toMatchObject({ ok: false, meter: 'rapl', source: 'rapl' });
    if (!p.ok) {
      expect(p.reason).toMatch(/no RAPL: \/nonexistent-sysfs\/class\/powercap does not exist/);
      expect(p.fix).toMatch(/bare metal/);
    }
  });

  it('refuses unreadable energy_uj with the fix, never a zero', () => {
    const f = fixture('intel-2socket');
    const denying: SysfsReader = {
      ...nodeSysfsReader,
      readFile: (p) => {
        if (p.endsWith('energy_uj'))
          throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
        return nodeSysfsReader.readFile(p);
      },
    };
    const found = discoverRaplZones(f.sysfs, denying);
    expect(found.zones).toEqual([]);
    expect(found.problems.every((p) => p.permission)).toBe(true);
    const p = openRaplMeter({ sysfsRoot: f.sysfs, reader: denying });
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.reason).toMatch(/permission denied on 4 file\(s\), e\.g\. .*intel-rapl:0\/energy_uj/);
      expect(p.fix).toMatch(/worker role .*udev and tmpfiles rules.*ffwatt-rapl group.*or run it as root/);
    }
  });
});

describe('RAPL counters', () => {
  it('stays monotonic across wraps of a small range and sums to the energy put in', () => {
    const f = fixture('amd-2socket');
    f.setRange('intel-rapl:0', 1_000_000n); // 1 J range: wraps every few steps
    f.setEnergy('intel-rapl:0', 900_000n);
    const m = openOk(f.sysfs);
    const start = m.read()[0].uj;
    let put = 0n;
    for (let i = 0; i < 20; i++) {
      f.advance('intel-rapl:0', 450_000n);
      put += 450_000n;
      expect(m.read()[0].uj - start).toBe(put);
    }
    expect(m.wraps()['package-0']).toBe(9);
  });

  it('never decreases and tracks every step under one range (property)', () => {
    const f = fixture('intel-laptop');
    f.setRange('intel-rapl:0', 5_000_000n);
    f.setEnergy('intel-rapl:0', 0n);
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 4_999_999n }), { maxLength: 30 }), (steps) => {
        const m = openOk(f.sysfs);
        const first = m.read()[0].uj;
        let last = first;
        let put = 0n;
        for (const s of steps) {
          f.advance('intel-rapl:0', s);
          put += s;
          const cur = m.read()[0].uj;
          expect(cur).toBeGreaterThanOrEqual(last);
          last = cur;
        }
        expect(last - first).toBe(put);
      }),
      { numRuns: 40 },
    );
  });

  it('recommends a sampling rate of at least 4 reads per wrap period from the power seen', () => {
    const f = fixture('amd-2socket');
    let t = 0n;
    f.setRange('intel-rapl:0', 100_000_000n); // 100 J
    f.setEnergy('intel-rapl:0', 0n);
    const m = openOk(f.sysfs, { now: () => t });
    // before any power is seen: assume 500 W → 100 J wraps in 0.2 s → 20 Hz
    expect(m.recommendedHz()).toBeCloseTo(20, 6);
    t += 100_000_000n;
    f.run({ 'intel-rapl:0': 250, 'intel-rapl:1': 200, 'intel-rapl:0:0': 100, 'intel-rapl:1:0': 90 }, 0.1); // within one wrap
    m.read();
    // seen 250 W: 100 J lasts 0.4 s → 10 Hz; the real AMD ranges need far less
    expect(m.wrapPeriodS()['package-0']).toBeCloseTo(0.4, 6);
    expect(m.recommendedHz()).toBeCloseTo(10, 6);
    expect(m.recommendedHz({ minHz: 25 })).toBe(25);
  });

  it('feeds the sampler: a job window across a wrap has the energy put in, per zone and in total', () => {
    const f = fixture('xeon-2socket-psys');
    let t = 0n;
    f.setRange('intel-rapl:0', 30_000_000n);
    f.setEnergy('intel-rapl:0', 29_000_000n);
    const now = () => t;
    const m = openOk(f.sysfs, { now });
    const s = new Sampler([m], { now });
    const a = s.mark();
    for (let i = 0; i < 10; i++) {
      t += 100_000_000n;
      f.run(
        {
          'intel-rapl:0': 40,
          'intel-rapl:0:0': 5,
          'intel-rapl:1': 90,
          'intel-rapl:2': 30,
          'intel-rapl:2:0': 4,
          'intel-rapl:3': 20,
        },
        0.1,
      );
      s.tick();
    }
    const w = s.window(a, s.mark());
    const j = Object.fromEntries(w.zones.map((z) => [z.zone, z.joules]));
    expect(j).toEqual({
      'package-0': 40,
      'package-0/dram': 5,
      psys: 90,
      'package-1': 30,
      'package-1/dram': 4,
      'psys-1': 20,
    });
    const e = computeRunEnergy(w, null, { mediaSeconds: 60, frames: 1800, megapixels: 1800 * 0.0768 });
    expect(e.grossJ).toBe(79); // packages + their dram; not psys, psys-1
    expect(e.platformJ).toBe(110);
    expect(e.flags).toEqual([]);
    expect(e.jPerEncodedMinute).toBe(79);
    expect(e.source).toBe('rapl');
    expect(e.peakW).toBeCloseTo(79, 6);
    expect(m.wraps()['package-0']).toBe(2); // 29 J + 40 J over a 30 J range
  });
});

/** One second at the layout's powers, on an injected clock: the window's figures are exact. */
function oneSecond(f: PowercapFixture, watts: Record<string, number>, extra: { reader?: SysfsReader } = {}) {
  let t = 0n;
  const now = () => t;
  const m = openOk(f.sysfs, { now, ...extra });
  const s = new Sampler([m], { now });
  const a = s.mark();
  for (let i = 0; i < 10; i++) {
    t += 100_000_000n;
    f.run(watts, 0.1);
    s.tick();
  }
  const w = s.window(a, s.mark());
  return { m, w, e: computeRunEnergy(w, null, { mediaSeconds: 60, frames: 1800, megapixels: 100 }) };
}

describe('RAPL topologies, by the kernel rules', () => {
  for (const L of LAYOUTS) {
    it(`${L.fixture}: ${L.what} → ${L.totalW} W`, () => {
      const f = fixture(L.fixture);
      const { m, w, e } = oneSecond(f, L.watts);
      expect(roles(m)).toEqual(L.roles);
      expect(w.seconds).toBe(1);
      expect(e.grossJ).toBeCloseTo(L.totalW, 9);
      expect(e.avgW).toBeCloseTo(L.totalW, 9);
      if (L.wrongW !== undefined) expect(Math.abs(e.avgW - L.wrongW)).toBeGreaterThan(0.5);
      if (L.platformW === null) expect(e.platformJ).toBeNull();
      else expect(e.platformJ).toBeCloseTo(L.platformW, 9);
      expect(e.flags).toEqual([]);
    });
  }

  it('names the kernel ids and the interface of each zone, numeric id order (intel-rapl:10 after :9)', () => {
    const f = fixture('laptop-psys-mmio');
    const m = openOk(f.sysfs);
    expect(m.details().map((z) => [z.id, z.iface, z.zone])).toEqual([
      ['intel-rapl:0', 'msr', 'package-0'],
      ['intel-rapl:0:0', 'msr', 'package-0/core'],
      ['intel-rapl:0:1', 'msr', 'package-0/uncore'],
      ['intel-rapl:1', 'msr', 'psys'],
      ['intel-rapl-mmio:0', 'mmio', 'mmio:package-0'],
    ]);
    expect(m.zones().find((z) => z.zone === 'mmio:package-0')!.note).toMatch(/second view \(MMIO interface\)/);
  });

  it('counts mirrored per-die package counters once, and names the dedup', () => {
    const f = fixture('amd-1socket-2die-mirror');
    const m = openOk(f.sysfs);
    expect(m.details().find((z) => z.id === 'intel-rapl:1')).toMatchObject({
      role: 'component',
      mirrorOf: 'intel-rapl:0',
    });
    expect(m.topologyNotes).toEqual([
      'package-0-die-0 (intel-rapl:0), package-0-die-1 (intel-rapl:1) read one counter (identical raw energy_uj in 5 reads): counted once, as package-0-die-0',
    ]);
  });

  it('a pass in which the counter moved proves nothing: skipped, the mirror is still found', () => {
    const f = fixture('amd-1socket-2die-mirror');
    let reads = 0;
    const racing: SysfsReader = {
      ...nodeSysfsReader,
      readFile: (p) => {
        // the hardware updates during the first mirror pass (read 0 is discovery's): die-1 and the
        // re-read of die-0 see the new value, die-0's first read the old one
        if (p.endsWith('intel-rapl:1/energy_uj') && reads++ === 1) {
          f.advance('intel-rapl:0', 15n);
          f.advance('intel-rapl:1', 15n);
        }
        return nodeSysfsReader.readFile(p);
      },
    };
    const p = openRaplMeter({ sysfsRoot: f.sysfs, reader: racing });
    expect(reads).toBeGreaterThan(2);
    expect(p.ok && (p.meter as RaplMeter).details()[2]).toMatchObject({ id: 'intel-rapl:1', mirrorOf: 'intel-rapl:0' });
  });

  it('per-die counters that differ (Intel CLX-AP) are both added', () => {
    const f = fixture('amd-1socket-2die-mirror');
    f.setEnergy('intel-rapl:1', 11_000_000_000n);
    const { m, e } = oneSecond(f, { 'intel-rapl:0': 60, 'intel-rapl:1': 55 });
    expect(m.topologyNotes).toEqual([]);
    expect(roles(m)['package-0-die-1']).toBe('total');
    expect(e.grossJ).toBeCloseTo(115, 9);
  });

  it('distinct sockets with equal power, even identical raw counters, are never merged', () => {
    const f = fixture('xeon-2socket-psys');
    f.setEnergy('intel-rapl:2', f.energy('intel-rapl:0'));
    const { m, e } = oneSecond(f, { 'intel-rapl:0': 50, 'intel-rapl:2': 50 });
    expect(m.topologyNotes).toEqual([]);
    expect(e.grossJ).toBeCloseTo(100, 9);
  });

  it('a RAPL total more than 5 % above the platform zone flags the run topology-suspect', () => {
    const f = fixture('laptop-psys-mmio');
    expect(oneSecond(f, { 'intel-rapl:0': 12, 'intel-rapl-mmio:0': 12, 'intel-rapl:1': 11.5 }).e.flags).toEqual([]); // 12 ≤ 11.5 × 1.05
    const g = fixture('laptop-psys-mmio');
    const { e } = oneSecond(g, { 'intel-rapl:0': 12, 'intel-rapl-mmio:0': 12, 'intel-rapl:1': 10 });
    expect(e.flags).toEqual([TOPOLOGY_SUSPECT_FLAG]);
    expect(TOPOLOGY_SUSPECT_FLAG).toBe('topology-suspect');
    expect(e.grossJ).toBeCloseTo(12, 9);
  });

  it('a top-level zone the kernel never registers (a bare dram) is not added', () => {
    const f = fixture('intel-2socket');
    // rename the nested dram of socket 1 into a made-up top-level zone
    const p = openOk(f.sysfs);
    expect(roles(p)['package-1/dram']).toBe('total');
    const found = discoverRaplZones(f.sysfs, {
      ...nodeSysfsReader,
      readdir: (d) => nodeSysfsReader.readdir(d).map((x) => (x === 'intel-rapl:1:0' ? 'intel-rapl:7' : x)),
      readFile: (q) => nodeSysfsReader.readFile(q.replace('intel-rapl:7', 'intel-rapl:1:0')),
    });
    expect(found.zones.find((z) => z.id === 'intel-rapl:7')).toMatchObject({
      zone: 'dram',
      role: 'component',
      note: expect.stringMatching(/not one the kernel's RAPL driver registers/),
    });
  });
});

describe('RAPL permissions, for real', () => {
  it('as an unprivileged user, a root-only energy_uj is a refusal naming the file and the fix', async () => {
    const { buildSync } = await import('esbuild');
    const { execFileSync } = await import('node:child_process');
    const { chmodSync, mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const f = fixture('intel-2socket');
    for (const id of ['intel-rapl:0', 'intel-rapl:0:0', 'intel-rapl:1', 'intel-rapl:1:0'])
      f.chmod(id, 'energy_uj', 0o400);
    // the fixture copy and a bundled probe must be reachable by uid 65534 (nobody)
    const work = mkdtempSync(join(tmpdir(), 'ffwatt-perm-'));
    try {
      chmodSync(work, 0o755);
      for (let d = f.sysfs; d.length > tmpdir().length; d = join(d, '..')) chmodSync(d, 0o755);
      const entry = join(work, 'entry.ts');
      writeFileSync(
        entry,
        `import { openRaplMeter } from ${JSON.stringify(join(process.cwd(), 'energy/rapl.ts'))};\nconsole.log(JSON.stringify(openRaplMeter({ sysfsRoot: process.argv[2] })));\n`,
      );
      buildSync({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: join(work, 'probe.mjs'),
        logLevel: 'silent',
      });
      chmodSync(join(work, 'probe.mjs'), 0o644);
      const out = execFileSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(work, 'probe.mjs'), f.sysfs],
        { encoding: 'utf8' },
      );
      const probe = JSON.parse(out);
      expect(probe.ok).toBe(false);
      expect(probe.reason).toMatch(/permission denied on 4 file\(s\), e\.g\. .*intel-rapl:0\/energy_uj/);
      expect(probe.fix).toMatch(/or run it as root/);
      // the same tree is fine for root
      expect(openRaplMeter({ sysfsRoot: f.sysfs }).ok).toBe(process.getuid?.() === 0);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
