/**
 * The one file that calls into the NVIDIA Management Library (through koffi). Everything
 * above it (nvml.ts) works on this small typed adapter, so it is tested against the fake
 * library built from test/fixtures/fake-nvml.
 */
import koffi from 'koffi';

export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NO_PERMISSION = 4;
export const NVML_ERROR_DRIVER_NOT_LOADED = 9;
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;

const NAME_BUFFER = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE
const UUID_BUFFER = 80; // NVML_DEVICE_UUID_V2_BUFFER_SIZE
const DRIVER_VERSION_BUFFER = 80; // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

export type NvmlClock = 'graphics' | 'sm' | 'memory' | 'video';
const CLOCK_TYPE: Record<NvmlClock, number> = { graphics: 0, sm: 1, memory: 2, video: 3 };

/** A failed NVML call, with its return code and the library's own words for it. */
export class NvmlError extends Error {
  constructor(
    readonly fn: string,
    readonly code: number,
    text: string,
  ) {
    super(`${fn}: ${text} (NVML error ${code})`);
    this.name = 'NvmlError';
  }
  get notSupported(): boolean {
    return this.code === NVML_ERROR_NOT_SUPPORTED || this.code === NVML_ERROR_FUNCTION_NOT_FOUND;
  }
}

/** An opaque device handle. */
export type NvmlDevice = { readonly __nvmlDevice: unique symbol };

export interface NvmlLib {
  readonly path: string;
  /** Whether the library exports nvmlDeviceGetTotalEnergyConsumption at all. */
  readonly hasEnergyFunction: boolean;
  init(): void;
  shutdown(): void;
  deviceCount(): number;
  device(index: number): NvmlDevice;
  name(d: NvmlDevice): string;
  uuid(d: NvmlDevice): string;
  /** Energy since the driver was loaded, in mJ (Volta and newer). */
  totalEnergyMj(d: NvmlDevice): bigint;
  /** Power now (averaged by the driver over its own window), in mW. */
  powerMw(d: NvmlDevice): number;
  utilization(d: NvmlDevice): { gpu: number; memory: number };
  encoderUtilization(d: NvmlDevice): { percent: number; samplingPeriodUs: number };
  decoderUtilization(d: NvmlDevice): { percent: number; samplingPeriodUs: number };
  clockMhz(d: NvmlDevice, clock: NvmlClock): number;
  /** GPU die temperature, °C. */
  temperatureC(d: NvmlDevice): number;
  /** Framebuffer memory (nvmlDeviceGetMemoryInfo), bytes. */
  memoryTotalBytes(d: NvmlDevice): bigint;
  /** The driver's version string (nvmlSystemGetDriverVersion), e.g. "550.54.15". */
  driverVersion(): string;
}

// koffi types are declared once per process.
let types: { device: koffi.IKoffiCType; utilization: koffi.IKoffiCType; memory: koffi.IKoffiCType } | null = null;
function nvmlTypes() {
  types ??= {
    device: koffi.pointer(koffi.opaque()),
    utilization: koffi.struct({ gpu: 'uint32', memory: 'uint32' }),
    memory: koffi.struct({ total: 'uint64', free: 'uint64', used: 'uint64' }),
  };
  return types;
}

const cString = (buf: Buffer) => {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
};

/** Loads the library; a missing library is an answer (ok: false), not an exception. */
export function loadNvml(path: string): { ok: true; lib: NvmlLib } | { ok: false; reason: string; missing: boolean } {
  let lib: koffi.IKoffiLib;
  try {
    lib = koffi.load(path);
  } catch (err) {
    const reason = (err as Error).message;
    // dlopen's "cannot open shared object file: No such file or directory": no driver installed
    return { ok: false, reason, missing: /No such file or directory/.test(reason) };
  }
  const t = nvmlTypes();
  const optional = (name: string, ret: string, args: Array<string | koffi.IKoffiCType>) => {
    try {
      return lib.func(name, ret, args);
    } catch {
      return null; // symbol not exported by this driver
    }
  };
  const u32Out = koffi.out(koffi.pointer('uint32'));
  const f = {
    init: optional('nvmlInit_v2', 'int', []),
    shutdown: optional('nvmlShutdown', 'int', []),
    errorString: optional('nvmlErrorString', 'const char *', ['int']),
    count: optional('nvmlDeviceGetCount_v2', 'int', [u32Out]),
    handle: optional('nvmlDeviceGetHandleByIndex_v2', 'int', ['uint32', koffi.out(koffi.pointer(t.device))]),
    name: optional('nvmlDeviceGetName', 'int', [t.device, 'char *', 'uint32']),
    uuid: optional('nvmlDeviceGetUUID', 'int', [t.device, 'char *', 'uint32']),
    energy: optional('nvmlDeviceGetTotalEnergyConsumption', 'int', [t.device, koffi.out(koffi.pointer('uint64'))]),
    power: optional('nvmlDeviceGetPowerUsage', 'int', [t.device, u32Out]),
    util: optional('nvmlDeviceGetUtilizationRates', 'int', [t.device, koffi.out(koffi.pointer(t.utilization))]),
    enc: optional('nvmlDeviceGetEncoderUtilization', 'int', [t.device, u32Out, u32Out]),
    dec: optional('nvmlDeviceGetDecoderUtilization', 'int', [t.device, u32Out, u32Out]),
    clock: optional('nvmlDeviceGetClockInfo', 'int', [t.device, 'int', u32Out]),
    temp: optional('nvmlDeviceGetTemperature', 'int', [t.device, 'int', u32Out]),
    memory: optional('nvmlDeviceGetMemoryInfo', 'int', [t.device, koffi.out(koffi.pointer(t.memory))]),
    driver: optional('nvmlSystemGetDriverVersion', 'int', ['char *', 'uint32']),
  };
  if (!f.init || !f.count || !f.handle) {
    return {
      ok: false,
      missing: false,
      reason: `${path} is not an NVML library (nvmlInit_v2, nvmlDeviceGetCount_v2 or nvmlDeviceGetHandleByIndex_v2 missing)`,
    };
  }
  const text = (code: number) => {
    if (f.errorString) {
      try {
        return String(f.errorString(code));
      } catch {
        /* fall through */
      }
    }
    return 'error';
  };
  const notExported = (name: string) =>
    new NvmlError(name, NVML_ERROR_FUNCTION_NOT_FOUND, 'function not exported by this driver');
  const call = (name: string, fn: koffi.KoffiFunction | null, ...args: unknown[]) => {
    if (!fn) throw notExported(name);
    const rc = fn(...args) as number;
    if (rc !== NVML_SUCCESS) throw new NvmlError(name, rc, text(rc));
  };
  const u32 = (name: string, fn: koffi.KoffiFunction | null, d: NvmlDevice, ...pre: unknown[]) => {
    const out = [0];
    call(name, fn, d, ...pre, out);
    return Number(out[0]);
  };
  const str = (name: string, fn: koffi.KoffiFunction | null, d: NvmlDevice, size: number) => {
    const buf = Buffer.alloc(size);
    call(name, fn, d, buf, size);
    return cString(buf);
  };
  const energyOut: Array<number | bigint> = [0];
  const powerOut: number[] = [0];
  const engine = (name: string, fn: koffi.KoffiFunction | null, d: NvmlDevice) => {
    const util = [0];
    const period = [0];
    call(name, fn, d, util, period);
    return { percent: Number(util[0]), samplingPeriodUs: Number(period[0]) };
  };
  return {
    ok: true,
    lib: {
      path,
      hasEnergyFunction: f.energy !== null,
      init: () => call('nvmlInit_v2', f.init),
      shutdown: () => call('nvmlShutdown', f.shutdown),
      deviceCount: () => {
        const out = [0];
        call('nvmlDeviceGetCount_v2', f.count, out);
        return Number(out[0]);
      },
      device: (index) => {
        const out: unknown[] = [null];
        call('nvmlDeviceGetHandleByIndex_v2', f.handle, index, out);
        return out[0] as NvmlDevice;
      },
      name: (d) => str('nvmlDeviceGetName', f.name, d, NAME_BUFFER),
      uuid: (d) => str('nvmlDeviceGetUUID', f.uuid, d, UUID_BUFFER),
      // The sampler's calls, many a second: straight to koffi with one reused out slot.
      totalEnergyMj: (d) => {
        if (!f.energy) throw notExported('nvmlDeviceGetTotalEnergyConsumption');
        const rc = f.energy(d, energyOut) as number;
        if (rc !== NVML_SUCCESS) throw new NvmlError('nvmlDeviceGetTotalEnergyConsumption', rc, text(rc));
        return BigInt(energyOut[0]);
      },
      powerMw: (d) => {
        if (!f.power) throw notExported('nvmlDeviceGetPowerUsage');
        const rc = f.power(d, powerOut) as number;
        if (rc !== NVML_SUCCESS) throw new NvmlError('nvmlDeviceGetPowerUsage', rc, text(rc));
        return Number(powerOut[0]);
      },
      utilization: (d) => {
        const out = [{ gpu: 0, memory: 0 }];
        call('nvmlDeviceGetUtilizationRates', f.util, d, out);
        return { gpu: Number(out[0].gpu), memory: Number(out[0].memory) };
      },
      encoderUtilization: (d) => engine('nvmlDeviceGetEncoderUtilization', f.enc, d),
      decoderUtilization: (d) => engine('nvmlDeviceGetDecoderUtilization', f.dec, d),
      clockMhz: (d, clock) => u32('nvmlDeviceGetClockInfo', f.clock, d, CLOCK_TYPE[clock]),
      temperatureC: (d) => u32('nvmlDeviceGetTemperature', f.temp, d, 0),
      memoryTotalBytes: (d) => {
        const out: Array<{ total: number | bigint; free: number | bigint; used: number | bigint }> = [
          { total: 0, free: 0, used: 0 },
        ];
        call('nvmlDeviceGetMemoryInfo', f.memory, d, out);
        return BigInt(out[0].total);
      },
      driverVersion: () => {
        const buf = Buffer.alloc(DRIVER_VERSION_BUFFER);
        call('nvmlSystemGetDriverVersion', f.driver, buf, DRIVER_VERSION_BUFFER);
        return cString(buf);
      },
    },
  };
}
