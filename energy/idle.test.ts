import { rmSync, truncateSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { copyPowercapFixture, type PowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { startCpuHogs } from '../test/cpu-hog.ts';
import { explainNet, measureCleanIdle } from './idle.ts';
import { openMeters } from './open.ts';
import { packageTemperature, readPreflight } from './preflight.ts';
import { processTreePids } from './proctree.ts';
import { Sampler } from './sampler.ts';

const FIXTURES = new URL('../test/fixtures/powercap/', import.meta.url).pathname;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** The 2-socket Xeon fixture, its counters moving at `watts` per package in real time (as the hardware would). */
function liveXeon(watts: number): { fixture: PowercapFixture; sampler: Sampler } {
  const fixture = copyPowercapFixture('intel-2socket');
  const { meters } = openMeters({ sysfsRoot: fixture.sysfs, nvmlLibrary: null });
  expect(meters.map((m) => m.source)).toEqual(['rapl']);
  // ignoreMissing: a test removes a counter on purpose
  const stop = fixture.runLive(() => ({ 'intel-rapl:0': watts, 'intel-rapl:1': watts }), { ignoreMissing: true });
  cleanups.push(() => {
    stop();
    for (const m of meters) m.close();
    fixture.cleanup();
  });
  return { fixture, sampler: new Sampler(meters) };
}

/** A threshold no other load can pass: /proc/stat busy time over all CPUs never exceeds their count. */
const UNREACHABLE_LOAD = cpus().length + 1;

describe('measureCleanIdle', () => {
  it('refuses a baseline taken beside a real CPU hog, re-measures, and gives up dirty after the bounded attempts', async () => {
    const hog = startCpuHogs(1);
    cleanups.push(() => hog.stop());
    expect(processTreePids(process.pid)).not.toContain(hog.pids[0]); // another process's load, not ours
    const { sampler, fixture } = liveXeon(20);
    const refused: string[] = [];
    const started = Date.now();
    const m = await measureCleanIdle(sampler, 0.6, { sysfsRoot: fixture.sysfs, onRefused: (_n, r) => refused.push(r) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 600 - 5);
    expect(m.info).toMatchObject({
      clean: false,
      attempts: 3,
      maxAttempts: 3,
      maxLoadCores: 0.25,
      reused: false,
      tempC: 61,
      tempSensor: 'hwmon1/coretemp/Package id 0',
      notes: [],
    });
    expect(m.info.loadCores).toBeGreaterThanOrEqual(0.8); // the hog holds about one core
    expect(m.info.refusals).toHaveLength(3);
    expect(refused).toEqual(m.info.refusals);
    for (const [i, r] of m.info.refusals.entries())
      expect(r).toMatch(
        new RegExp(
          `^attempt ${i + 1}: other processes kept \\d+\\.\\d\\d CPU cores busy \\(noisy-neighbour threshold 0\\.25\\)$`,
        ),
      );
    // Its watts stay on record (what the counters said), for the record only.
    expect(m.info.watts).toBeGreaterThan(30);
    expect(m.info.watts).toBeLessThan(50);
    expect(Date.parse(m.info.endedAt) - Date.parse(m.info.startedAt)).toBeGreaterThanOrEqual(595);
  });

  it('keeps the first attempt when other load stays under the threshold, with the package temperature', async () => {
    const { sampler, fixture } = liveXeon(15);
    const m = await measureCleanIdle(sampler, 0.5, { sysfsRoot: fixture.sysfs, maxLoadCores: UNREACHABLE_LOAD });
    expect(m.info).toMatchObject({ clean: true, attempts: 1, refusals: [], tempC: 61 });
    // 2 × 15 W; the simulated counters move in timer steps (≥ 20 ms, later on a loaded box), so the edges blur.
    expect(m.baseline.totalW).toBeGreaterThan(24);
    expect(m.baseline.totalW).toBeLessThan(36);
    expect(m.info.watts).toBe(m.baseline.totalW);
    // Nested dram is a total zone (package energy does not include DRAM; docs/methodology.md); its counters stand still here.
    expect(m.baseline.zones.filter((z) => z.role === 'total').map((z) => z.zone)).toEqual([
      'package-0',
      'package-0/dram',
      'package-1',
      'package-1/dram',
    ]);
  });

  it('refuses an attempt in which a total zone could not be read (counter gone), never averaging over the rest', async () => {
    const { sampler, fixture } = liveXeon(10);
    const counter = join(realpathSync(fixture.zoneDir('intel-rapl:1')), 'energy_uj');
    // The meter keeps energy_uj open: on sysfs a removed attribute then reads ENODEV, while an
    // unlinked tmpfs file stays readable, so the fixture's counter is emptied as it goes.
    setTimeout(() => {
      truncateSync(counter);
      rmSync(counter);
    }, 150);
    const m = await measureCleanIdle(sampler, 0.4, {
      sysfsRoot: fixture.sysfs,
      maxLoadCores: UNREACHABLE_LOAD,
      maxAttempts: 2,
    });
    expect(m.info).toMatchObject({ clean: false, attempts: 2 });
    // A meter reads all its zones at once: one counter gone, the whole RAPL reading is missing.
    expect(m.info.refusals[0]).toMatch(
      /^attempt 1: zone missing: .*rapl\/package-1 \(meter could not be read at the end of the window: cannot read \S+intel-rapl:1\/energy_uj/,
    );
    expect(m.info.refusals[1]).toMatch(
      /^attempt 2: zone missing: .*rapl\/package-1 \(meter could not be read at the start of the window/,
    );
  });

  it('says when the machine has no package temperature sensor (null, never a guess)', async () => {
    const { sampler } = liveXeon(10);
    const m = await measureCleanIdle(sampler, 0.2, {
      sysfsRoot: `${FIXTURES}missing-range/sys`,
      maxLoadCores: UNREACHABLE_LOAD,
    });
    expect(m.info.tempC).toBeNull();
    expect(m.info.tempSensor).toBeNull();
    expect(m.info.notes).toEqual([expect.stringMatching(/no package temperature sensor/)]);
  });

  it('refuses bad attempt counts naming the setting', async () => {
    const { sampler } = liveXeon(10);
    await expect(measureCleanIdle(sampler, 1, { maxAttempts: 0 })).rejects.toThrow(
      /idle baseline attempts must be a whole number/,
    );
    await expect(measureCleanIdle(sampler, 0)).rejects.toThrow(/idle_baseline_s|idle baseline duration/);
  });
});

describe('packageTemperature', () => {
  it("reads the kernel drivers' package sensors and prefers the hottest package", () => {
    // Laptop: x86_pkg_temp 52 °C and coretemp "Package id 0" 53 °C; acpitz and "Core 0" are not the package.
    expect(packageTemperature(readPreflight({ sysfsRoot: `${FIXTURES}intel-laptop/sys` }))).toEqual({
      celsius: 53,
      sensor: 'hwmon0/coretemp/Package id 0',
    });
    // AMD: k10temp temp1 is Tctl (unlabelled on this kernel).
    expect(packageTemperature(readPreflight({ sysfsRoot: `${FIXTURES}amd-2socket/sys` }))).toEqual({
      celsius: 47.25,
      sensor: 'hwmon2/k10temp/temp1',
    });
    expect(
      packageTemperature({
        temperatures: [
          { sensor: 'thermal_zone0/x86_pkg_temp', celsius: 44 },
          { sensor: 'thermal_zone1/acpitz', celsius: 70 },
        ],
      }),
    ).toEqual({ celsius: 44, sensor: 'thermal_zone0/x86_pkg_temp' });
    expect(
      packageTemperature({
        temperatures: [
          { sensor: 'hwmon3/k10temp/Tctl', celsius: 60.5 },
          { sensor: 'hwmon3/k10temp/Tccd1', celsius: 70 },
        ],
      }),
    ).toEqual({ celsius: 60.5, sensor: 'hwmon3/k10temp/Tctl' });
    expect(packageTemperature({ temperatures: [{ sensor: 'thermal_zone1/acpitz', celsius: 41 }] })).toMatchObject({
      celsius: null,
      note: expect.stringMatching(/no package temperature sensor/),
    });
  });
});

describe('explainNet', () => {
  const base = { grossJ: 40, idleW: 12, windowS: 4 };
  it('explains a net figure ≤ 0 with the numbers behind it', () => {
    const text = explainNet({ ...base, netJ: -8 }, null)!;
    expect(text).toMatch(
      /^net energy -8\.00 J ≤ 0: the window drew 40\.00 J in 4\.00 s, no more than the idle baseline \(12\.00 W × 4\.00 s = 48\.00 J\)/,
    );
    expect(text).toMatch(/never ranked/);
    expect(explainNet({ ...base, netJ: 0 }, null)).toMatch(/^net energy 0\.00 J ≤ 0/);
  });
  it('is null for a positive net figure, and names the refusals of a dirty baseline', () => {
    expect(explainNet({ ...base, netJ: 5 }, null)).toBeNull();
    const dirty = {
      watts: 30,
      seconds: 1,
      loadCores: 1.1,
      maxLoadCores: 0.25,
      tempC: null,
      tempSensor: null,
      attempts: 3,
      maxAttempts: 3,
      clean: false,
      startedAt: new Date().toISOString(),
      endedAt: new Date().toISOString(),
      reused: false,
      refusals: ['attempt 1: x', 'attempt 2: y', 'attempt 3: z'],
      notes: [],
    };
    expect(explainNet({ ...base, netJ: null }, dirty)).toBe(
      'no net figure: the idle baseline was not clean in 3 attempt(s) of 1.0 s (attempt 1: x; attempt 2: y; attempt 3: z); flagged idle-baseline-dirty, gross figures only',
    );
  });
});
