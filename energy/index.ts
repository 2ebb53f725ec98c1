/** The energy folder's public API: meters, the sampler, idle baselines, run energy, validity, the probe. */
export type { Meter, MeterProbe, ZoneInfo, ZoneSample } from './meter.ts';
export { openMeters, samplingHz, type MeterRefusal, type OpenMetersOptions } from './open.ts';
export { UJ_PER_J, joulesFromUj, ujFromJoules, secondsFromNs, wattsFrom, wrapSafeDelta, WrapCounter } from './units.ts';
export {
  EstimateMeter,
  openEstimateMeter,
  WATTS_PER_BUSY_PHYSICAL_CORE,
  defaultWattsPerLogicalCpu,
  readThreadsPerCore,
  rejectOldWattsFlag,
  WATTS_FLAG,
  type EstimateOptions,
  type ThreadsPerCore,
} from './estimate.ts';
export { readMachineCpuTicks, type MachineCpuTicks } from './procstat.ts';
export {
  ProcTreeMonitor,
  sampleProcessTree,
  processTreePids,
  type ProcTreeUsage,
  type ProcTreeSample,
} from './proctree.ts';
export {
  Sampler,
  type SamplerMark,
  type SamplerOptions,
  type SamplerSnapshot,
  type LatestZone,
  type MeterReadStatus,
  type WindowEnergy,
  type WindowZone,
} from './sampler.ts';
export { measureIdle, idleFromWindow, combinedSource, type IdleBaseline, type MeasureIdleOptions } from './idle.ts';
export { computeRunEnergy, type MediaAmount } from './run-energy.ts';
export { estimateWattsPerLogicalCpu, jobTreeEstimateZone, JOB_TREE_ZONE } from './attribution.ts';
export {
  openRaplMeter,
  discoverRaplZones,
  markMirroredPackages,
  RaplMeter,
  TOPOLOGY_SUSPECT_FLAG,
  TOPOLOGY_SUSPECT_MARGIN,
  type RaplOptions,
  type RaplZoneInfo,
  type SysfsReader,
} from './rapl.ts';
export {
  openNvmlMeter,
  NvmlMeter,
  DEFAULT_NVML_LIBRARY,
  type NvmlOptions,
  type NvmlGpu,
  type NvmlGpuReading,
} from './nvml.ts';
export {
  readPreflight,
  PreflightReader,
  type PreflightReaderOptions,
  validityFlags,
  VALIDITY_FLAGS,
  type Preflight,
  type PreflightOptions,
  type ValidityFlag,
  type ValidityInputs,
  type ValidityThresholds,
} from './preflight.ts';
export {
  energyProbeCommand,
  buildEnergyProbeReport,
  renderEnergyProbe,
  type EnergyProbeOptions,
  type EnergyProbeReport,
} from './probe-cli.ts';
export { FakeMeter } from './fake.ts';
