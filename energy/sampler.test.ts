import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { EstimateMeter } from './estimate.ts';
import { FakeMeter } from './fake.ts';
import { Sampler } from './sampler.ts';
import { startCpuHogs } from '../test/cpu-hog.ts';

/** A hand-driven monotonic clock. */
function clock(startNs = 1_000_000_000n) {
  let t = startNs;
  return { now: () => t, advanceMs: (ms: number) => (t += BigInt(ms) * 1_000_000n) };
}

function cpuAndGpu() {
  const cpu = new FakeMeter('rapl', 'rapl', [
    { zone: 'package-0', role: 'total' },
    { zone: 'package-0/core', role: 'component' },
    { zone: 'psys', role: 'platform' },
  ]);
  const gpu = new FakeMeter('nvml', 'nvml', [{ zone: 'gpu0', role: 'total' }]);
  return { cpu, gpu };
}

describe('Sampler', () => {
  it('gives joules, average and peak watts per zone between two marks', () => {
    const c = clock();
    const { cpu, gpu } = cpuAndGpu();
    const s = new Sampler([cpu, gpu], { now: c.now });
    const a = s.mark();
    // 100 ms at 20 W, then 100 ms at 60 W on the package; GPU a steady 30 W
    c.advanceMs(100);
    cpu.add('package-0', 2_000_000n);
    gpu.add('gpu0', 3_000_000n);
    s.tick();
    c.advanceMs(100);
    cpu.add('package-0', 6_000_000n);
    cpu.add('package-0/core', 5_000_000n);
    gpu.add('gpu0', 3_000_000n);
    s.tick();
    c.advanceMs(100);
    cpu.add('package-0', 2_000_000n);
    gpu.add('gpu0', 3_000_000n);
    const b = s.mark();
    const w = s.window(a, b);
    expect(w.seconds).toBeCloseTo(0.3, 9);
    const pkg = w.zones.find((z) => z.zone === 'package-0')!;
    expect(pkg).toMatchObject({ meter: 'rapl', source: 'rapl', role: 'total', joules: 10 });
    expect(pkg.avgW).toBeCloseTo(33.333, 2);
    expect(pkg.peakW).toBeCloseTo(60, 6);
    expect(w.zones.find((z) => z.zone === 'package-0/core')).toMatchObject({ role: 'component', joules: 5 });
    expect(w.zones.find((z) => z.zone === 'psys')).toMatchObject({ role: 'platform', joules: 0, peakW: 0 });
    expect(w.zones.find((z) => z.zone === 'gpu0')!.peakW).toBeCloseTo(30, 6);
    // peak of the summed total zones in one tick: 60 + 30
    expect(w.totalPeakW).toBeCloseTo(90, 6);
    expect(w.missing).toBeUndefined();
  });

  it('keeps peaks per segment so any pair of marks sees only its own peaks', () => {
    const c = clock();
    const m = new FakeMeter('rapl', 'rapl', [{ zone: 'package-0', role: 'total' }]);
    const s = new Sampler([m], { now: c.now });
    const a = s.mark();
    c.advanceMs(1000);
    m.add('package-0', 100_000_000n); // 100 W
    const b = s.mark();
    c.advanceMs(1000);
    m.add('package-0', 10_000_000n); // 10 W
    const d = s.mark();
    expect(s.window(a, b).zones[0].peakW).toBeCloseTo(100);
    expect(s.window(b, d).zones[0].peakW).toBeCloseTo(10);
    expect(s.window(a, d).zones[0]).toMatchObject({ joules: 110, peakW: 100 });
    expect(s.window(a, d).zones[0].avgW).toBeCloseTo(55);
    expect(() => s.window(d, a)).toThrow(/not after/);
    const other = new Sampler([m], { now: c.now });
    expect(() => other.window(a, other.mark())).toThrow(/this sampler/);
  });

  it('never counts a meter that failed to read as 0: the zone is reported missing, with the error', () => {
    const c = clock();
    const { cpu, gpu } = cpuAndGpu();
    const s = new Sampler([cpu, gpu], { now: c.now });
    const a = s.mark();
    c.advanceMs(500);
    gpu.failWith('GPU has fallen off the bus');
    const b = s.mark();
    const w = s.window(a, b);
    expect(w.zones.map((z) => z.zone)).not.toContain('gpu0');
    expect(w.missing).toEqual([
      {
        meter: 'nvml',
        zone: 'gpu0',
        role: 'total',
        reason: 'meter could not be read at the end of the window: GPU has fallen off the bus',
      },
    ]);
    expect(w.totalPeakW).toBeUndefined();
    expect(s.errors()).toEqual([{ meter: 'nvml', count: 1, last: 'GPU has fallen off the bus' }]);
  });

  it('refuses a bad rate and a zone listed twice', () => {
    const m = new FakeMeter('rapl', 'rapl', [{ zone: 'package-0', role: 'total' }]);
    expect(() => new Sampler([m], { hz: 0 })).toThrow(/between 0 and 1000 Hz/);
    expect(() => new Sampler([m, m])).toThrow(/listed twice/);
  });

  it('runs one timer loop at the configured rate with the real clock and the estimate meter', async () => {
    const meter = new EstimateMeter();
    const s = new Sampler([meter], { hz: 50 });
    s.start();
    expect(s.running).toBe(true);
    const hog = startCpuHogs(1); // a busy CPU the estimate must see
    let a: ReturnType<Sampler['mark']>, b: ReturnType<Sampler['mark']>;
    try {
      a = s.mark();
      await new Promise((r) => setTimeout(r, 400));
      b = s.mark();
    } finally {
      hog.stop();
    }
    s.stop();
    expect(s.running).toBe(false);
    const ticks = s.ticks;
    await new Promise((r) => setTimeout(r, 100));
    expect(s.ticks).toBe(ticks); // stopped means stopped
    expect(ticks).toBeGreaterThanOrEqual(10); // ~20 expected at 50 Hz over 0.4 s; loose for a loaded box
    const w = s.window(a, b);
    expect(w.seconds).toBeGreaterThan(0.39);
    expect(w.zones[0]).toMatchObject({ meter: 'estimate', zone: 'cpu', source: 'estimate', role: 'total' });
    // Busy CPU time × watts per logical CPU: more than nothing with a hog running, and never more
    // than every logical CPU of /proc/stat busy for the whole window (+ one USER_HZ tick each).
    const logicalCpus = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d/.test(l)).length;
    expect(w.zones[0].joules).toBeGreaterThan(0);
    expect(w.zones[0].joules).toBeLessThanOrEqual(meter.wattsPerLogicalCpu * logicalCpus * (w.seconds + 0.01));
    expect(w.zones[0].peakW).toBeGreaterThanOrEqual(w.zones[0].avgW - 1e-9);
    const latest = s.latest();
    expect(latest[0].joules).not.toBeNull();
    expect(latest[0].source).toBe('estimate');
  });
});
