/** The NVML meter through the real koffi path, against the fake libnvidia-ml.so.1 (no GPU here). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeNvmlLibrary, fakeNvmlState, type FakeGpu } from '../test/fixtures/fake-nvml/fake-nvml.ts';
import { openMeters } from './index.ts';
import { computeRunEnergy } from './run-energy.ts';
import { type NvmlMeter, openNvmlMeter } from './nvml.ts';
import { Sampler } from './sampler.ts';

const state = fakeNvmlState();
let withEnergy = '';
let noEnergy = '';
beforeAll(() => {
  withEnergy = fakeNvmlLibrary('with-energy');
  noEnergy = fakeNvmlLibrary('no-energy');
  Object.assign(process.env, state.env);
});
afterEach(() => {
  delete process.env.FAKE_NVML_INIT_RESULT;
  state.set([]);
});
afterAll(() => state.cleanup());

const l4: FakeGpu = {
  name: 'NVIDIA L4',
  uuid: 'GPU-0f6e-fake',
  energyMj: 5_000_000n,
  powerMw: 72_000,
  gpuUtil: 40,
  memUtil: 12,
  encUtil: 65,
  decUtil: 5,
  smClockMhz: 2040,
  temperatureC: 58,
};

function openOk(library: string, now?: () => bigint): NvmlMeter {
  const p = openNvmlMeter({ library, now });
  if (!p.ok) throw new Error(`expected an NVML meter: ${p.reason}`);
  return p.meter as NvmlMeter;
}

describe('NVML meter (fake library, real koffi)', () => {
  it('reads the driver energy counter in mJ as µJ, per GPU', () => {
    state.set([l4, { ...l4, name: 'NVIDIA T4', uuid: 'GPU-2', energyMj: 123n }]);
    const m = openOk(withEnergy);
    expect(m.zones()).toEqual([
      { meter: 'nvml', zone: 'gpu0', source: 'nvml', role: 'total' },
      { meter: 'nvml', zone: 'gpu1', source: 'nvml', role: 'total' },
    ]);
    expect(m.devices()).toEqual([
      { index: 0, zone: 'gpu0', name: 'NVIDIA L4', uuid: 'GPU-0f6e-fake', energyFrom: 'counter' },
      { index: 1, zone: 'gpu1', name: 'NVIDIA T4', uuid: 'GPU-2', energyFrom: 'counter' },
    ]);
    expect(m.read()).toEqual([
      { zone: 'gpu0', uj: 5_000_000_000n },
      { zone: 'gpu1', uj: 123_000n },
    ]);
    state.set([
      { ...l4, energyMj: 5_000_750n },
      { ...l4, energyMj: 124n },
    ]);
    expect(m.read()[0].uj - 5_000_000_000n).toBe(750_000n);
    m.close();
    expect(state.log()).toMatch(/nvmlShutdown/);
  });

  it('an energy counter that goes backwards (driver reload) splits the window like a wrap: never negative joules', () => {
    state.set([{ ...l4, energyMj: 9_000_000n }]);
    let t = 0n;
    const now = () => t;
    const m = openOk(withEnergy, now);
    const s = new Sampler([m], { now });
    const a = s.mark();
    t += 1_000_000_000n;
    state.set([{ ...l4, energyMj: 9_070_000n }]); // 70 J in the first second
    s.tick();
    t += 1_000_000_000n;
    state.set([{ ...l4, energyMj: 40n }]); // the driver reloaded: its counter restarted at 0 and counted 40 mJ since
    s.tick();
    t += 1_000_000_000n;
    state.set([{ ...l4, energyMj: 60_040n }]); // 60 J more
    const w = s.window(a, s.mark());
    const gpu = w.zones.find((z) => z.zone === 'gpu0')!;
    expect(gpu.joules).toBeCloseTo(70 + 0.04 + 60, 9);
    expect(gpu.joules).toBeGreaterThan(0);
    expect(m.restarts()).toEqual({ gpu0: 1 });
    const e = computeRunEnergy(w, null, { mediaSeconds: 60, frames: 1800, megapixels: 100 });
    expect(e.grossJ).toBeCloseTo(130.04, 9);
    m.close();
  });

  it('integrates power at the sampling rate when the library lacks the energy function', () => {
    state.set([l4]);
    let t = 0n;
    const now = () => t;
    const m = openOk(noEnergy, now);
    expect(m.devices()[0].energyFrom).toBe('power');
    const s = new Sampler([m], { now });
    const a = s.mark();
    // 1 s at 72 W, then the power steps to 150 W: trapezoid over 100 ms steps
    for (let i = 0; i < 10; i++) {
      t += 100_000_000n;
      s.tick();
    }
    state.set([{ ...l4, powerMw: 150_000 }]);
    for (let i = 0; i < 10; i++) {
      t += 100_000_000n;
      s.tick();
    }
    const w = s.window(a, s.mark());
    // 72 W × 1 s + one 100 ms step at the mean (72+150)/2 + 0.9 s at 150 W
    expect(w.zones[0].joules).toBeCloseTo(72 + 11.1 + 135, 6);
    expect(w.zones[0].peakW).toBeCloseTo(150, 6);
    const e = computeRunEnergy(w, null, { mediaSeconds: 30, frames: 900, megapixels: 900 * 2.0736 });
    expect(e.source).toBe('nvml');
    expect(e.jPerEncodedMinute).toBeCloseTo(2 * 218.1, 6);
    m.close();
  });

  it('falls back to power when the energy function answers not supported', () => {
    state.set([{ ...l4, energyMj: null }]);
    const m = openOk(withEnergy);
    expect(m.devices()[0].energyFrom).toBe('power');
    m.close();
  });

  it('exposes utilization, SM clock, temperature and power for the exporter, null where unsupported', () => {
    state.set([l4, { name: 'Old GPU', uuid: 'GPU-old', energyMj: null, powerMw: 30_000 }]);
    const m = openOk(withEnergy);
    expect(m.readings()).toEqual([
      {
        gpu: '0',
        zone: 'gpu0',
        name: 'NVIDIA L4',
        powerW: 72,
        utilization: { gpu: 0.4, memory: 0.12, encoder: 0.65, decoder: 0.05 },
        smClockMhz: 2040,
        temperatureC: 58,
      },
      {
        gpu: '1',
        zone: 'gpu1',
        name: 'Old GPU',
        powerW: 30,
        utilization: { gpu: null, memory: null, encoder: null, decoder: null },
        smClockMhz: null,
        temperatureC: null,
      },
    ]);
    m.close();
  });

  it('leaves out a GPU with neither energy nor power, saying so', () => {
    state.set([l4, { name: 'Mute GPU', uuid: 'GPU-mute', energyMj: null, powerMw: null }]);
    const m = openOk(withEnergy);
    expect(m.zones().map((z) => z.zone)).toEqual(['gpu0']);
    expect(m.notes).toEqual(['GPU 1 (Mute GPU) reports neither energy nor power']);
    m.close();
  });

  it('no library at all: a refusal "no NVIDIA driver library", not an error', () => {
    const p = openNvmlMeter({ library: '/nonexistent/libnvidia-ml.so.1' });
    expect(p).toMatchObject({ ok: false, meter: 'nvml', source: 'nvml' });
    if (!p.ok) {
      expect(p.reason).toMatch(/^no NVIDIA driver library: \/nonexistent\/libnvidia-ml.so.1 could not be loaded/);
      expect(p.fix).toMatch(/install the NVIDIA driver/);
      expect(p.state).toBe('absent'); // a host without the driver lacks the meter: nothing is wrong
    }
    const notNvml = openNvmlMeter({ library: 'libc.so.6' });
    expect(notNvml).toMatchObject({
      ok: false,
      state: 'unusable',
      reason: expect.stringMatching(/is not an NVML library/),
    });
  });

  it('a driver that does not start, and a host with no GPU, are refusals with their reasons', () => {
    process.env.FAKE_NVML_INIT_RESULT = '9';
    const p = openNvmlMeter({ library: withEnergy });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(/NVML did not start: nvmlInit_v2: Driver Not Loaded \(NVML error 9\)/);
    expect(p).toMatchObject({ state: 'unusable' });
    delete process.env.FAKE_NVML_INIT_RESULT;
    state.set([]);
    const q = openNvmlMeter({ library: withEnergy });
    expect(q.ok).toBe(false);
    if (!q.ok) expect(q.reason).toBe('NVML found no NVIDIA GPU');
    expect(q).toMatchObject({ state: 'absent' });
  });

  it('openMeters takes NVML beside the CPU estimate when there is no RAPL', () => {
    state.set([l4]);
    const { meters, refused } = openMeters({ sysfsRoot: '/nonexistent', nvmlLibrary: withEnergy });
    expect(meters.map((m) => m.name)).toEqual(['nvml', 'estimate']);
    expect(refused.map((r) => r.meter)).toEqual(['rapl']);
    for (const m of meters) m.close();
  });
});
