import { rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { copyPowercapFixture, type PowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { PreflightReader, readPreflight, validityFlags, type Preflight } from './preflight.ts';
import type { ProcTreeUsage } from './proctree.ts';

const FIXTURES = new URL('../test/fixtures/powercap/', import.meta.url).pathname;
const open: PowercapFixture[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

describe('readPreflight', () => {
  it('reads governor, turbo and temperatures from a laptop-like tree', () => {
    const p = readPreflight({ sysfsRoot: `${FIXTURES}intel-laptop/sys` });
    expect(p).toMatchObject({
      governor: 'powersave',
      governors: { powersave: 4 },
      turbo: 'on',
      turboSource: 'intel_pstate/no_turbo',
      maxTemperatureC: 53,
      notes: [],
    });
    expect(p.temperatures).toEqual([
      { sensor: 'thermal_zone0/x86_pkg_temp', celsius: 52 },
      { sensor: 'thermal_zone1/acpitz', celsius: 41 },
      { sensor: 'hwmon0/coretemp/Package id 0', celsius: 53 },
      { sensor: 'hwmon0/coretemp/Core 0', celsius: 50 },
    ]);
  });

  it('sees a server set up for measuring: performance governor, turbo off', () => {
    const p = readPreflight({ sysfsRoot: `${FIXTURES}intel-2socket/sys` });
    expect(p).toMatchObject({ governor: 'performance', turbo: 'off', maxTemperatureC: 61 });
  });

  it('reports mixed governors and AMD boost, unlabelled hwmon sensors', () => {
    const p = readPreflight({ sysfsRoot: `${FIXTURES}amd-2socket/sys` });
    expect(p).toMatchObject({
      governor: 'mixed',
      governors: { performance: 1, schedutil: 1 },
      turbo: 'on',
      turboSource: 'cpufreq/boost',
    });
    expect(p.temperatures).toEqual([{ sensor: 'hwmon2/k10temp/temp1', celsius: 47.25 }]);
  });

  it('says what it could not read instead of guessing (this machine has no cpufreq or sensors)', () => {
    const p = readPreflight({ sysfsRoot: `${FIXTURES}missing-range/sys` });
    expect(p).toMatchObject({ governor: null, turbo: null, temperatures: [], maxTemperatureC: null });
    expect(p.notes.join('\n')).toMatch(/governor unknown[\s\S]*turbo state unknown[\s\S]*no readable temperature/);
    const here = readPreflight();
    expect(Array.isArray(here.notes)).toBe(true);
  });
});

describe('PreflightReader', () => {
  it('reads what a fresh preflight reads, on every fixture, again and again', () => {
    for (const name of ['intel-laptop', 'intel-2socket', 'amd-2socket', 'missing-range', 'xeon-4socket'] as const) {
      const sysfsRoot = `${FIXTURES}${name}/sys`;
      const reader = new PreflightReader({ sysfsRoot });
      try {
        const fresh = readPreflight({ sysfsRoot });
        expect(reader.read(), name).toEqual(fresh);
        expect(reader.read(), name).toEqual(fresh);
      } finally {
        reader.close();
      }
    }
  });

  it('sees values of now through its kept descriptors, and new or removed sensors from the next listing', () => {
    const f = copyPowercapFixture('intel-laptop');
    open.push(f);
    let now = 0;
    const reader = new PreflightReader({ sysfsRoot: f.sysfs, nowMs: () => now });
    try {
      expect(reader.read()).toMatchObject({ governor: 'powersave', maxTemperatureC: 53 });
      // sysfs rewrites an attribute in place: the kept descriptor reads the new value.
      writeFileSync(`${f.sysfs}/class/hwmon/hwmon0/temp1_input`, '71000\n');
      writeFileSync(`${f.sysfs}/devices/system/cpu/cpu0/cpufreq/scaling_governor`, 'performance\n');
      expect(reader.read()).toMatchObject({
        governor: 'mixed',
        governors: { powersave: 3, performance: 1 },
        maxTemperatureC: 71,
      });
      // A sensor that appears is read once sysfs is listed again (at most a minute later).
      writeFileSync(`${f.sysfs}/class/hwmon/hwmon0/temp3_input`, '48000\n');
      writeFileSync(`${f.sysfs}/class/hwmon/hwmon0/temp3_label`, 'Core 1\n');
      expect(reader.read().temperatures.map((t) => t.sensor)).not.toContain('hwmon0/coretemp/Core 1');
      now += 60_000;
      expect(reader.read().temperatures).toContainEqual({ sensor: 'hwmon0/coretemp/Core 1', celsius: 48 });
      // One that goes away is dropped at the next listing.
      rmSync(`${f.sysfs}/class/hwmon/hwmon0/temp3_input`);
      now += 60_000;
      expect(reader.read().temperatures.map((t) => t.sensor)).not.toContain('hwmon0/coretemp/Core 1');
    } finally {
      reader.close();
    }
  });
});

const usage = (cpu: number, machine: number): ProcTreeUsage => ({
  samples: 10,
  alive: false,
  cpuSeconds: cpu,
  machineCpuSeconds: machine,
  otherCpuSeconds: Math.max(0, machine - cpu),
  peakRssBytes: 0,
  readBytes: 0,
  writeBytes: 0,
  readChars: 0,
  writeChars: 0,
});

describe('validityFlags', () => {
  const good: Preflight = {
    governor: 'performance',
    governors: { performance: 8 },
    turbo: 'off',
    turboSource: 'intel_pstate/no_turbo',
    temperatures: [{ sensor: 'x', celsius: 50 }],
    maxTemperatureC: 50,
    notes: [],
  };

  it('gives no flag to a clean measured run', () => {
    expect(
      validityFlags({
        before: good,
        after: { ...good, maxTemperatureC: 58 },
        energy: { source: 'rapl', idleW: 20 },
        usage: usage(20, 20.5),
        windowS: 10,
      }),
    ).toEqual([]);
  });

  it('flags estimates, noisy neighbours, thermal drift, governor, turbo and a missing baseline', () => {
    const laptop: Preflight = { ...good, governor: 'powersave', turbo: 'on' };
    expect(
      validityFlags({
        before: laptop,
        after: { ...laptop, maxTemperatureC: 75 },
        energy: { source: 'mixed', idleW: null },
        usage: usage(10, 16),
        windowS: 10,
      }),
    ).toEqual([
      'estimated',
      'noisy_neighbour',
      'thermal_drift',
      'governor_not_performance',
      'turbo_on',
      'no_idle_baseline',
    ]);
    expect(validityFlags({ before: { ...good, governor: null }, energy: { source: 'estimate', idleW: 1 } })).toEqual([
      'estimated',
      'governor_unknown',
    ]);
  });

  it('flags a dirty idle baseline (not as a missing one) and a net figure ≤ 0', () => {
    const dirty = {
      watts: 31,
      seconds: 5,
      loadCores: 1.02,
      maxLoadCores: 0.25,
      tempC: 48,
      tempSensor: 'hwmon1/coretemp/Package id 0',
      attempts: 3,
      maxAttempts: 3,
      clean: false,
      startedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:00:05.000Z',
      reused: false,
      refusals: [],
      notes: [],
    };
    expect(
      validityFlags({ before: good, energy: { source: 'rapl', idleW: null, netJ: null, baseline: dirty } }),
    ).toEqual(['idle-baseline-dirty']);
    expect(
      validityFlags({
        before: good,
        energy: { source: 'rapl', idleW: 20, netJ: -3.5, baseline: { ...dirty, clean: true } },
      }),
    ).toEqual(['net-energy-nonpositive']);
    expect(validityFlags({ before: good, energy: { source: 'rapl', idleW: 20, netJ: 0 } })).toEqual([
      'net-energy-nonpositive',
    ]);
    expect(validityFlags({ before: good, energy: { source: 'rapl', idleW: 20, netJ: 0.01 } })).toEqual([]);
  });

  it('uses the thresholds given', () => {
    const input = { before: good, after: { ...good, maxTemperatureC: 55 }, usage: usage(10, 11), windowS: 10 };
    expect(validityFlags(input)).toEqual([]);
    expect(validityFlags(input, { otherCores: 0.05, thermalDriftC: 3 })).toEqual(['noisy_neighbour', 'thermal_drift']);
  });

  it('reads flags of a real fixture pair: laptop before, a hotter laptop after', () => {
    const f = copyPowercapFixture('intel-laptop');
    open.push(f);
    const before = readPreflight({ sysfsRoot: f.sysfs });
    writeFileSync(`${f.sysfs}/class/hwmon/hwmon0/temp1_input`, '71000\n');
    const after = readPreflight({ sysfsRoot: f.sysfs });
    expect(validityFlags({ before, after })).toEqual(['thermal_drift', 'governor_not_performance', 'turbo_on']);
  });
});
