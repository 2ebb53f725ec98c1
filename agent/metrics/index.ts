// The agent's Prometheus exporter (docs/metrics.md): one file per collector group, registered
// here in exposition order. Energy series come from the energy sampler's snapshot; the
// exporter itself reads no meter.
import { Registry } from 'prom-client';
import type { FfwattEvent } from '../../core/types.ts';
import { registerEnergyCollectors, type EnergySnapshotSource } from './energy.ts';
import { gpuStatsFromMeters, registerGpuCollectors, type GpuStat } from './gpu.ts';
import { registerJobCollectors, type JobResources } from './job.ts';
import { registerAgentUp, registerCollectorSuccess, registerProcessMetrics } from './node.ts';
import type { Meter } from '../../energy/index.ts';

export { gpuStatsFromMeters, type GpuEngine, type GpuStat } from './gpu.ts';
export type { JobResources } from './job.ts';
export type { EnergySnapshotSource } from './energy.ts';

export interface AgentMetricsOptions {
  /** The node's energy sampler (agent/node.ts startNode): the source of every energy series. */
  sampler: EnergySnapshotSource & { readonly meters: readonly Meter[] };
  nodeId: string;
  /** GPU engine utilization; default: gpuStatsFromMeters(the sampler's meters), i.e. what the NVML meter reports. */
  gpuStats?: () => GpuStat[];
  /** Add prom-client's default process metrics (default true). */
  processMetrics?: boolean;
}

export interface AgentMetrics {
  registry: Registry;
  onEvent(ev: FfwattEvent): void;
  setJobResources(jobId: string, r: JobResources): void;
  metricsText(): Promise<string>;
}

export function createAgentMetrics(opts: AgentMetricsOptions): AgentMetrics {
  if (!opts.nodeId) throw new TypeError('createAgentMetrics: nodeId is required');
  const { sampler } = opts;
  const registry = new Registry();
  const energy = registerEnergyCollectors(registry, sampler);
  const gpu = registerGpuCollectors(registry, opts.gpuStats ?? gpuStatsFromMeters(() => sampler.meters));
  const jobs = registerJobCollectors(registry);
  registerAgentUp(registry, opts.nodeId);
  if (opts.processMetrics !== false) registerProcessMetrics(registry);
  registerCollectorSuccess(registry, { gpu_stats: gpu.statsOk, meters: energy.snapshotOk });
  return {
    registry,
    onEvent: jobs.onEvent,
    setJobResources: jobs.setJobResources,
    metricsText: () => registry.metrics(),
  };
}
