import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunError } from '../core/errors.ts';
import { FakeMeter } from './fake.ts';
import { idleFromWindow, measureIdle } from './idle.ts';
import { computeRunEnergy } from './run-energy.ts';
import { Sampler, type WindowEnergy } from './sampler.ts';

const z = (
  meter: string,
  zone: string,
  source: 'rapl' | 'nvml' | 'estimate',
  role: 'total' | 'component' | 'platform',
  joules: number,
  seconds: number,
  peakW?: number,
) => ({
  meter,
  zone,
  source,
  role,
  joules,
  avgW: joules / seconds,
  peakW: peakW ?? joules / seconds,
});

describe('computeRunEnergy', () => {
  const seconds = 60;
  const window: WindowEnergy = {
    seconds,
    zones: [
      z('rapl', 'package-0', 'rapl', 'total', 3000, seconds, 80),
      z('rapl', 'package-1', 'rapl', 'total', 2400, seconds, 60),
      z('rapl', 'package-0/core', 'rapl', 'component', 2000, seconds),
      z('rapl', 'psys', 'rapl', 'platform', 9000, seconds),
    ],
    totalPeakW: 130,
  };
  const idle = idleFromWindow({
    seconds: 30,
    zones: [
      z('rapl', 'package-0', 'rapl', 'total', 600, 30),
      z('rapl', 'package-1', 'rapl', 'total', 450, 30),
      z('rapl', 'package-0/core', 'rapl', 'component', 60, 30),
      z('rapl', 'psys', 'rapl', 'platform', 1200, 30),
    ],
  });

  it('sums total zones only, nets idle per zone and gives the per-unit figures', () => {
    expect(idle.totalW).toBeCloseTo(35); // 20 W + 15 W; core and psys not added
    const e = computeRunEnergy(window, idle, { mediaSeconds: 120, frames: 3600, megapixels: 3600 * 0.9216 });
    expect(e.grossJ).toBe(5400); // 3000 + 2400, not core, not psys
    expect(e.idleW).toBeCloseTo(35);
    expect(e.netJ).toBeCloseTo(5400 - 35 * 60);
    expect(e.source).toBe('rapl');
    expect(e.windowS).toBe(60);
    expect(e.avgW).toBeCloseTo(90);
    expect(e.peakW).toBe(130);
    expect(e.jPerEncodedMinute).toBeCloseTo(2700); // 5400 J over 2 media minutes
    expect(e.netJPerEncodedMinute).toBeCloseTo((5400 - 2100) / 2);
    expect(e.jPerFrame).toBeCloseTo(1.5);
    expect(e.jPerMegapixel).toBeCloseTo(5400 / 3317.76);
    const core = e.zones.find((x) => x.zone === 'package-0/core')!;
    expect(core).toMatchObject({ role: 'component', grossJ: 2000, idleW: 2, netJ: 2000 - 120 });
    expect(e.zones.find((x) => x.zone === 'psys')).toMatchObject({ role: 'platform', grossJ: 9000, idleW: 40 });
  });

  it('leaves net figures null without a baseline and per-unit figures null without media', () => {
    const e = computeRunEnergy(window, null, { mediaSeconds: 0, frames: 0, megapixels: 0 });
    expect(e).toMatchObject({
      grossJ: 5400,
      idleW: null,
      netJ: null,
      jPerEncodedMinute: null,
      netJPerEncodedMinute: null,
      jPerFrame: null,
      jPerMegapixel: null,
    });
    expect(e.zones.every((x) => x.netJ === null && x.idleW === null)).toBe(true);
  });

  it('labels estimates: estimate alone, mixed with measured zones', () => {
    const est: WindowEnergy = { seconds: 10, zones: [z('estimate', 'cpu', 'estimate', 'total', 100, 10)] };
    expect(computeRunEnergy(est, null, { mediaSeconds: 10, frames: 1, megapixels: 1 }).source).toBe('estimate');
    const mixed: WindowEnergy = { seconds: 10, zones: [...est.zones, z('nvml', 'gpu0', 'nvml', 'total', 500, 10)] };
    const e = computeRunEnergy(mixed, null, { mediaSeconds: 10, frames: 1, megapixels: 1 });
    expect(e.source).toBe('mixed');
    expect(e.grossJ).toBe(600);
    expect(e.peakW).toBeCloseTo(60); // no simultaneous peak known: sum of zone peaks (upper bound)
    const measured: WindowEnergy = {
      seconds: 10,
      zones: [z('rapl', 'package-0', 'rapl', 'total', 100, 10), z('nvml', 'gpu0', 'nvml', 'total', 500, 10)],
    };
    expect(computeRunEnergy(measured, null, { mediaSeconds: 10, frames: 1, megapixels: 1 }).source).toBe('nvml');
  });

  it('refuses to make a figure from no total zone or a missing one', () => {
    const none: WindowEnergy = { seconds: 10, zones: [z('rapl', 'psys', 'rapl', 'platform', 100, 10)] };
    expect(() => computeRunEnergy(none, null, { mediaSeconds: 10, frames: 1, megapixels: 1 })).toThrow(RunError);
    const missing: WindowEnergy = {
      seconds: 10,
      zones: [z('rapl', 'package-0', 'rapl', 'total', 100, 10)],
      missing: [
        { meter: 'nvml', zone: 'gpu0', role: 'total', reason: 'meter could not be read at the end of the window' },
      ],
    };
    expect(() => computeRunEnergy(missing, null, { mediaSeconds: 10, frames: 1, megapixels: 1 })).toThrow(/nvml\/gpu0/);
  });
});

/** Drives a FakeMeter at piecewise-constant power on a hand clock. */
function rig() {
  let t = 0n;
  const meter = new FakeMeter('rapl', 'rapl', [
    { zone: 'package-0', role: 'total' },
    { zone: 'package-0/dram', role: 'component' },
  ]);
  const sampler = new Sampler([meter], { now: () => t });
  const run = (ms: number, watts: number) => {
    t += BigInt(ms) * 1_000_000n;
    meter.add('package-0', BigInt(Math.round(watts * ms * 1000))); // W × ms = mJ = 1000 µJ
    meter.add('package-0/dram', BigInt(Math.round(watts * ms * 100)));
  };
  return { sampler, run };
}

describe('energy properties', () => {
  it('counters never decrease and back-to-back job windows sum to the whole window', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.tuple(fc.integer({ min: 1, max: 500 }), fc.double({ min: 0, max: 400, noNaN: true })), {
            minLength: 1,
            maxLength: 8,
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (jobs) => {
          const { sampler, run } = rig();
          const marks = [sampler.mark()];
          let lastUj = 0n;
          for (const job of jobs) {
            for (const [ms, w] of job) {
              run(ms, w);
              const { uj } = sampler.tick();
              const cur = uj.get('rapl\u0000package-0')!;
              expect(cur).toBeGreaterThanOrEqual(lastUj);
              lastUj = cur;
            }
            marks.push(sampler.mark());
          }
          const whole = sampler.window(marks[0], marks[marks.length - 1]);
          let sumJ = 0;
          let sumS = 0;
          for (let i = 1; i < marks.length; i++) {
            const w = sampler.window(marks[i - 1], marks[i]);
            sumJ += w.zones[0].joules;
            sumS += w.seconds;
            expect(w.zones[0].peakW).toBeLessThanOrEqual(whole.zones[0].peakW + 1e-9);
          }
          expect(sumJ).toBeCloseTo(whole.zones[0].joules, 6);
          expect(sumS).toBeCloseTo(whole.seconds, 9);
        },
      ),
    );
  });

  it('an idle job nets to ≈ 0 against a baseline taken at the same power', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 1, max: 300, noNaN: true }),
        fc.array(fc.double({ min: -0.01, max: 0.01, noNaN: true }), { minLength: 5, maxLength: 40 }),
        async (idleW, noise) => {
          const { sampler, run } = rig();
          // baseline: 30 s at idleW, in 1 s steps
          const baseline = await measureIdle(sampler, 30, {
            sleep: async () => {
              for (let i = 0; i < 30; i++) run(1000, idleW);
            },
          });
          expect(baseline.totalW).toBeCloseTo(idleW, 6);
          expect(baseline.source).toBe('rapl');
          const a = sampler.mark();
          for (const n of noise) {
            run(100, idleW * (1 + n));
            sampler.tick();
          }
          const e = computeRunEnergy(sampler.window(a, sampler.mark()), baseline, {
            mediaSeconds: 1,
            frames: 1,
            megapixels: 1,
          });
          // |net| ≤ 1% of gross: the noise amplitude
          expect(Math.abs(e.netJ!)).toBeLessThanOrEqual(0.01 * e.grossJ + 1e-6);
        },
      ),
    );
  });

  it('measureIdle refuses a non-positive duration naming the setting', async () => {
    const { sampler } = rig();
    await expect(measureIdle(sampler, 0)).rejects.toThrow(/idle baseline duration/);
  });

  it('measureIdle waits in real time and can be aborted', async () => {
    const { sampler } = rig();
    const ctl = new AbortController();
    const p = measureIdle(sampler, 5, { signal: ctl.signal });
    ctl.abort(new Error('operator stopped'));
    await expect(p).rejects.toThrow(/operator stopped/);
    // a hand clock that did not move gives no idle power, not 0 W
    await expect(measureIdle(sampler, 0.05)).rejects.toThrow(/no duration/);
    const real = new Sampler([new FakeMeter('rapl', 'rapl', [{ zone: 'package-0', role: 'total' }])]);
    const started = Date.now();
    const b = await measureIdle(real, 0.2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
    expect(b.seconds).toBeGreaterThanOrEqual(0.19);
    expect(b.zones).toEqual([{ meter: 'rapl', zone: 'package-0', source: 'rapl', role: 'total', watts: 0 }]);
  });
});
