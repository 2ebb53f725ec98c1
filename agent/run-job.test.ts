// runJob end to end with a real FFmpeg encode, RAPL counters of a 2-socket Xeon tree moving in real
// time (the fixture stands in for hardware this machine lacks), and real /proc load: the idle
// baseline taken after the cooldown, a dirty baseline leaving no net figure, a net figure ≤ 0
// flagged and explained.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import type { Scenario } from '../core/types.ts';
import { measureCleanIdle } from '../energy/idle.ts';
import { openMeters } from '../energy/open.ts';
import { Sampler } from '../energy/sampler.ts';
import { detectEncoders, type EncoderReport } from '../media/index.ts';
import { RunRecordSchema } from '../core/contracts/index.ts';
import { copyPowercapFixture, type PowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { startCpuHogs } from '../test/cpu-hog.ts';
import type { ClaimedJob } from './client.ts';
import { hostFacts } from './host-facts.ts';
import { runJob, type JobContext } from './run-job.ts';

const scenario: Scenario = {
  key: 'run-job-test',
  label: 'file h264/ultrafast crf30 240p30 x1',
  mode: 'file',
  input: { kind: 'synthetic', source: 'testsrc2', resolution: { width: 320, height: 240 }, fps: 30 },
  codec: 'h264',
  encoder: 'libx264',
  preset: 'ultrafast',
  rate: { kind: 'crf', value: 30 },
  streams: 1,
  warmupS: 0,
  durationS: 1,
  outputs: [{ resolution: { width: 320, height: 240 }, fps: 30 }],
};

function job(n: number, cooldownS: number): ClaimedJob {
  const now = Date.now();
  return {
    id: `run-job-test-${n}`,
    campaignId: 'c',
    scenarioId: 1,
    scenario,
    repetition: n,
    state: 'leased',
    priority: 0,
    queueClass: 'default',
    attempts: 1,
    maxAttempts: 1,
    leaseOwner: 'n',
    leaseExpiresAt: now + 600_000,
    nodeConstraint: [],
    cooldownS,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    leaseId: `lease-${n}`,
    deadlineS: 600,
    campaign: { id: 'c', name: 'c', idleBaselineS: 0.4, cooldownS },
  };
}

let encoders: EncoderReport;
const work = mkdtempSync(join(tmpdir(), 'ffwatt-run-job-'));
let fixture: PowercapFixture;
let sampler: Sampler;
let stopCounters: () => void = () => {};
/** Power of each package of the simulated Xeon, W; the tests change it to stage power states. */
let packageW = 20;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  encoders = await detectEncoders();
  fixture = copyPowercapFixture('intel-2socket');
  const { meters } = openMeters({ sysfsRoot: fixture.sysfs, nvmlLibrary: null });
  sampler = new Sampler(meters);
  sampler.start();
  stopCounters = fixture.runLive(() => ({ 'intel-rapl:0': packageW, 'intel-rapl:1': packageW }));
});
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
afterAll(() => {
  stopCounters();
  sampler?.stop();
  fixture?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function context(idle: JobContext['idle']): JobContext {
  return {
    nodeId: 'n',
    sampler,
    encoders,
    host: hostFacts({ sysfsRoot: fixture.sysfs, meters: [{ meter: 'rapl', source: 'rapl', valid: true }] }),
    workDir: work,
    idle,
    skipQuality: true,
    log: silentLogger,
  };
}

describe('runJob and the idle baseline', () => {
  it('takes the baseline after the cooldown; a baseline dirty from a real CPU hog leaves the run without a net figure, flagged', async () => {
    const hog = startCpuHogs(1);
    cleanups.push(() => hog.stop());
    let askedAt = 0;
    const t0 = Date.now();
    const record = await runJob(
      job(1, 1),
      context(async (signal) => {
        askedAt = Date.now();
        return measureCleanIdle(sampler, 0.4, { signal, sysfsRoot: fixture.sysfs });
      }),
    );
    expect(record.status, record.error ?? '').toBe('succeeded');
    expect(askedAt - t0).toBeGreaterThanOrEqual(1000); // after the 1 s cooldown
    const e = record.energy!;
    expect(e.baseline).toMatchObject({ clean: false, attempts: 3, maxAttempts: 3, tempC: 61, reused: false });
    expect(e.baseline!.loadCores).toBeGreaterThan(0.25);
    expect(Date.parse(e.baseline!.startedAt)).toBeGreaterThanOrEqual(Date.parse(record.startedAt) + 1000);
    expect(e.grossJ).toBeGreaterThan(0);
    expect(e.idleW).toBeNull();
    expect(e.netJ).toBeNull();
    expect(e.netJPerEncodedMinute).toBeNull();
    expect(e.jPerEncodedMinute).toBeGreaterThan(0);
    expect(e.zones.filter((z) => z.role === 'total').every((z) => z.netJ === null && z.idleW === null)).toBe(true);
    expect(e.netExplanation).toMatch(/^no net figure: the idle baseline was not clean in 3 attempt\(s\)/);
    expect(record.flags).toContain('idle-baseline-dirty');
    expect(record.flags).not.toContain('no_idle_baseline');
    expect(record.flags).not.toContain('net-energy-nonpositive');
    expect(RunRecordSchema.safeParse(record).success).toBe(true); // the master accepts it as sent
  });

  it('flags a net figure ≤ 0 (baseline taken in a higher power state than the encode) and explains it', async () => {
    const record = await runJob(
      job(2, 0),
      context(async (signal) => {
        packageW = 60;
        try {
          // A threshold no load can pass: this test is about the power state, not about the neighbours.
          return await measureCleanIdle(sampler, 0.5, {
            signal,
            sysfsRoot: fixture.sysfs,
            maxLoadCores: cpus().length + 1,
          });
        } finally {
          packageW = 5;
        }
      }),
    );
    packageW = 20;
    expect(record.status, record.error ?? '').toBe('succeeded');
    const e = record.energy!;
    expect(e.baseline).toMatchObject({ clean: true, attempts: 1 });
    expect(e.idleW).toBeGreaterThan(100);
    expect(e.netJ).toBeLessThan(0);
    expect(e.netJPerEncodedMinute).toBeLessThan(0); // kept for inspection, never ranked
    expect(record.flags).toContain('net-energy-nonpositive');
    expect(e.netExplanation).toMatch(
      /^net energy -\d+\.\d\d J ≤ 0: the window drew \d+\.\d\d J in \d+\.\d\d s, no more than the idle baseline/,
    );
    expect(RunRecordSchema.safeParse(record).success).toBe(true);
  });

  it('a clean baseline with the encode above it: net figure, no baseline flag, no explanation', async () => {
    const record = await runJob(
      job(3, 0),
      context(async (signal) => {
        packageW = 5;
        try {
          return await measureCleanIdle(sampler, 0.5, {
            signal,
            sysfsRoot: fixture.sysfs,
            maxLoadCores: cpus().length + 1,
          });
        } finally {
          packageW = 40;
        }
      }),
    );
    packageW = 20;
    expect(record.status, record.error ?? '').toBe('succeeded');
    const e = record.energy!;
    expect(e.baseline).toMatchObject({ clean: true });
    expect(e.netJ).toBeGreaterThan(0);
    expect(e.netExplanation).toBeNull();
    expect(record.flags.filter((f) => /baseline|nonpositive/.test(f))).toEqual([]);
  });
});
