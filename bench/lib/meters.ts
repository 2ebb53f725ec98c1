/**
 * The meters the benchmarks read: the 2-socket RAPL fixture tree (or a generated tree with many
 * zones), the fake NVML library with scripted GPUs, and the estimate from this machine's
 * /proc/stat. Real reading code throughout; only the hardware is stood in for.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEstimateMeter, openNvmlMeter, openRaplMeter, type Meter, type MeterProbe } from '../../energy/index.ts';
import type { NvmlMeter } from '../../energy/nvml.ts';
import type { GpuStat } from '../../agent/metrics/index.ts';
import { fakeNvmlLibrary, fakeNvmlState } from '../../test/fixtures/fake-nvml/fake-nvml.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RAPL_2SOCKET_SYSFS = join(ROOT, 'test/fixtures/powercap/intel-2socket/sys');

function take(p: MeterProbe): Meter {
  if (!p.ok) throw new Error(`meter ${p.meter} could not be opened: ${p.reason}`);
  return p.meter;
}

export function openFixtureRapl(sysfsRoot = RAPL_2SOCKET_SYSFS): Meter {
  return take(openRaplMeter({ sysfsRoot }));
}

/**
 * A powercap tree with `packages` sockets of 4 zones each (package, core, uncore, dram): 16
 * packages give 64 zones. Returns its sysfs root and a cleanup.
 */
export function makeRaplTree(packages: number): { sysfs: string; zones: number; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'ffwatt-bench-powercap-'));
  const pc = join(root, 'sys', 'class', 'powercap');
  const zone = (id: string, name: string, uj: number, range: number) => {
    const d = join(pc, id);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'name'), `${name}\n`);
    writeFileSync(join(d, 'energy_uj'), `${uj}\n`);
    writeFileSync(join(d, 'max_energy_range_uj'), `${range}\n`);
    writeFileSync(join(d, 'enabled'), '1\n');
  };
  mkdirSync(join(pc, 'intel-rapl'), { recursive: true });
  writeFileSync(join(pc, 'intel-rapl', 'enabled'), '1\n');
  for (let p = 0; p < packages; p++) {
    zone(`intel-rapl:${p}`, `package-${p}`, 100_000_000_000 + p * 1_234_567, 262_143_328_850);
    zone(`intel-rapl:${p}:0`, 'core', 60_000_000_000 + p * 7_654_321, 262_143_328_850);
    zone(`intel-rapl:${p}:1`, 'uncore', 5_000_000_000 + p * 111_111, 262_143_328_850);
    zone(`intel-rapl:${p}:2`, 'dram', 30_000_000_000 + p * 222_222, 65_712_999_613);
  }
  return {
    sysfs: join(root, 'sys'),
    zones: packages * 4,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Opens the fake NVML library with `gpus` scripted GPUs (energy counter variant, at most 8). */
export function openFakeNvml(gpus: number): { meter: NvmlMeter; gpuStats: () => GpuStat[]; cleanup(): void } {
  const state = fakeNvmlState();
  state.set(
    Array.from({ length: gpus }, (_, i) => ({
      name: `Fake GPU ${i}`,
      uuid: `GPU-bench-${i}`,
      energyMj: 5_000_000n + BigInt(i) * 1000n,
      powerMw: 70_000 + i,
      gpuUtil: 40,
      memUtil: 20,
      encUtil: 55,
      decUtil: 10,
      smClockMhz: 1400,
      temperatureC: 60,
    })),
  );
  // The library reads these with getenv on every call; process.env writes reach the C environment.
  Object.assign(process.env, state.env);
  const meter = take(openNvmlMeter({ library: fakeNvmlLibrary('with-energy') })) as NvmlMeter;
  const gpuStats = (): GpuStat[] =>
    meter.readings().flatMap((r) => {
      const out: GpuStat[] = [];
      if (r.utilization.encoder !== null) out.push({ gpu: r.gpu, engine: 'encoder', ratio: r.utilization.encoder });
      if (r.utilization.decoder !== null) out.push({ gpu: r.gpu, engine: 'decoder', ratio: r.utilization.decoder });
      if (r.utilization.gpu !== null) out.push({ gpu: r.gpu, engine: 'sm', ratio: r.utilization.gpu });
      return out;
    });
  return {
    meter,
    gpuStats,
    cleanup: () => {
      meter.close();
      state.cleanup();
    },
  };
}

/** Every meter kind at once: RAPL (2-socket fixture), NVML (fake, `gpus` GPUs) and the estimate. */
export function openAllMeters(gpus = 2): { meters: Meter[]; gpuStats: () => GpuStat[]; cleanup(): void } {
  const rapl = openFixtureRapl();
  const nvml = openFakeNvml(gpus);
  const estimate = take(openEstimateMeter());
  return {
    meters: [rapl, nvml.meter, estimate],
    gpuStats: nvml.gpuStats,
    cleanup: () => {
      nvml.cleanup();
      rapl.close();
      estimate.close();
    },
  };
}
