/**
 * One node start-up, shared by the fleet agent (agent/cli.ts) and local mode (harness/local.ts):
 * machine facts → meters → sampler → host facts, the per-job pieces every worker gets from them
 * (sampler, host, the estimate's W per core, RTMP server on demand, job resources into the
 * exporter), and one stop for all of it.
 */
import { join } from 'node:path';
import { estimateWattsPerLogicalCpu, openMeters, Sampler, samplingHz, type MeterRefusal } from '../energy/index.ts';
import type { Meter } from '../energy/meter.ts';
import { startRtmpServer, type RtmpServer } from '../media/rtmp.ts';
import { hostFacts, provenanceMeters, readMachineFacts, type HostFacts } from './host-facts.ts';
import type { AgentMetrics } from './metrics.ts';
import type { WorkerOptions } from './worker.ts';

export interface NodeStartOptions {
  sysfsRoot?: string;
  nvmlLibrary?: string | null;
  wattsPerLogicalCpu?: number;
  /** Sampling rate asked for (raised where a counter wraps sooner; default samplingHz's). */
  samplerHz?: number;
  /** This worker shares its machine with the master (its runs are flagged). */
  hybridMaster?: boolean;
  /** Told about each meter not used, once at start-up, and when only the estimate is left. */
  onRefused: (r: MeterRefusal) => void;
  onEstimateOnly: () => void;
  onSampling: (hz: number) => void;
}

/** The parts of a Worker's options that come from the node rather than from the caller. */
export type NodeWorkerParts = Pick<WorkerOptions, 'sampler' | 'host' | 'estimateWattsPerCore' | 'rtmp' | 'onResources'>;

export interface StartedNode {
  meters: Meter[];
  refused: Array<MeterRefusal>;
  sampler: Sampler;
  host: HostFacts;
  /**
   * Worker options of this node: live jobs start one RTMP server on demand under `workDir`/nginx;
   * job resources go to `metrics` (the node's exporter) when there is one.
   */
  workerParts(o: { workDir: string; metrics: () => AgentMetrics | null }): NodeWorkerParts;
  /** Stops the sampler and the RTMP server, and closes the meters. */
  stop(): Promise<void>;
}

export async function startNode(o: NodeStartOptions): Promise<StartedNode> {
  // Before the meters: reading GPU facts starts and stops NVML, which the NVML meter then keeps open.
  const machine = await readMachineFacts({ nvmlLibrary: o.nvmlLibrary });
  const { meters, refused } = openMeters({
    sysfsRoot: o.sysfsRoot,
    nvmlLibrary: o.nvmlLibrary,
    wattsPerLogicalCpu: o.wattsPerLogicalCpu,
  });
  for (const r of refused) o.onRefused(r);
  if (meters.every((m) => m.source === 'estimate')) o.onEstimateOnly();
  const sampler = new Sampler(meters, { hz: samplingHz(meters, o.samplerHz) }); // raised where a counter wraps sooner
  o.onSampling(sampler.hz);
  sampler.start();
  const host = hostFacts({
    sysfsRoot: o.sysfsRoot,
    hybridMaster: o.hybridMaster ?? false,
    meters: provenanceMeters(meters, refused),
    machine,
  });
  let rtmp: RtmpServer | null = null;
  let stopped = false;
  return {
    meters,
    refused,
    sampler,
    host,
    workerParts: ({ workDir, metrics }) => ({
      sampler,
      host,
      estimateWattsPerCore: estimateWattsPerLogicalCpu(meters),
      rtmp: async () => (rtmp ??= await startRtmpServer({ workDir: join(workDir, 'nginx') })),
      onResources: (jobId, u) =>
        metrics()?.setJobResources(jobId, {
          cpuSeconds: u.cpuSeconds,
          peakRssBytes: u.peakRssBytes,
          readBytes: u.readBytes ?? 0,
          writeBytes: u.writeBytes ?? 0,
        }),
    }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      sampler.stop();
      for (const m of meters) m.close();
      if (rtmp) await rtmp.stop();
    },
  };
}
