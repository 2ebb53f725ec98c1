import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CampaignPlan, FfwattEvent } from '../core/types.ts';
import { isOpenJobState } from '../core/contracts/lists.ts';
import { InputError, RunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { detectEncoders, type EncoderReport } from '../media/encoders.ts';
import { JobQueue } from '../master/queue.ts';
import { Store } from '../store/store.ts';
import { InProcessClient } from './in-process-client.ts';
import { nodeRegistration } from '../agent/host-facts.ts';
import { startNode } from '../agent/node.ts';
import { Worker } from '../agent/worker.ts';
import { createProgressDisplay } from './progress.ts';
import { createAgentMetrics } from '../agent/metrics/index.ts';
import { serveMetrics } from '../agent/serve-metrics.ts';
import { masterMetricsFor } from '../master/metrics-wiring.ts';
import type { Sampler } from '../energy/index.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LocalRunOptions {
  plan: CampaignPlan;
  outDir: string;
  log: Logger;
  ffmpegPath?: string;
  qualityFfmpegPath?: string;
  vmafModel?: string | null;
  sysfsRoot?: string;
  nvmlLibrary?: string | null;
  wattsPerLogicalCpu?: number;
  samplerHz?: number;
  progress?: boolean;
  signal?: AbortSignal;
  onEvent?: (ev: FfwattEvent) => void;
  /** Serve the agent and master exporters while the campaign runs (for `make monitor`). */
  metricsListen?: { agent: string; master: string };
  /** Keep the exporters up this long after the campaign (so a scraper sees the final state). */
  metricsLingerS?: number;
}

export interface LocalRunResult {
  campaignId: string;
  dbPath: string;
  status: string;
  counts: Record<string, number>;
}

/** The node id local mode registers under. */
export function localNodeId(hostname: string): string {
  return `local-${hostname}`;
}

/** Refuses a plan whose codecs or encoders this machine cannot run, before anything runs. */
export function checkPlanRunnable(plan: CampaignPlan, encoders: EncoderReport): void {
  const missing = new Set<string>();
  for (const s of plan.scenarios) {
    if (s.encoder ? !encoders.usable.includes(s.encoder) : !encoders.codecMap[s.codec])
      missing.add(s.encoder ?? s.codec);
  }
  if (missing.size > 0) {
    const refused = encoders.refused.map((r) => `${r.encoder} (${r.reason})`).join('; ');
    throw new InputError(
      `matrix ${plan.name} needs ${[...missing].join(', ')}, which this machine's ffmpeg (${encoders.ffmpegVersion}) cannot encode. ` +
        `Usable encoders: ${encoders.usable.join(', ') || 'none'}.${refused ? ` Refused by the probe: ${refused}.` : ''} ` +
        'Remove those cells from the matrix or install an ffmpeg that has them.',
      { field: 'codec' },
    );
  }
}

/**
 * Local mode: an in-process master (JobQueue over SQLite under outDir) and one in-process agent
 * (Worker) — the same code the fleet runs over HTTP.
 */
export async function runLocalCampaign(o: LocalRunOptions): Promise<LocalRunResult> {
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const dbPath = join(outDir, 'ffwatt.sqlite');
  const encoders = await detectEncoders({ ffmpegPath: o.ffmpegPath });
  checkPlanRunnable(o.plan, encoders);

  const node = await startNode({
    sysfsRoot: o.sysfsRoot,
    nvmlLibrary: o.nvmlLibrary,
    wattsPerLogicalCpu: o.wattsPerLogicalCpu,
    samplerHz: o.samplerHz,
    onRefused: (r) => o.log.info(`meter ${r.meter}: not used — ${r.reason}${r.fix ? ` (fix: ${r.fix})` : ''}`),
    onEstimateOnly: () =>
      o.log.warn(
        'no energy counters (RAPL/NVML) on this machine: every energy figure is an ESTIMATE from CPU time, labelled source=estimate',
      ),
    onSampling: (hz) => o.log.info(`energy sampling at ${hz} Hz`),
  });
  const { host } = node;

  const store = Store.open(dbPath);
  const queue = new JobQueue(store, { leaseMs: 10 * 60_000, nodeTimeoutMs: 24 * 3600_000 });
  const client = new InProcessClient(queue);
  const nodeId = localNodeId(host.hostname);
  await client.register(nodeRegistration(nodeId, host, encoders, ['local']));
  // One node here: placement any unless the matrix asks for more (each-class/each-node then mean this node).
  const { campaignId, jobs } = queue.createCampaign(o.plan, {
    nodeConstraint: [nodeId],
    preflight: {
      ...host.preflight(),
      kernel: host.kernel,
      cpuModel: host.cpuModel,
      gpu: host.gpu,
      hardwareClass: host.hardwareClass,
      meters: host.meters,
    },
  });

  const exporters = o.metricsListen ? await startLocalExporters(o.metricsListen, store, nodeId, node.sampler) : null;
  const display = o.progress === false ? null : createProgressDisplay();
  display?.setTotal(jobs);
  const emit = (ev: FfwattEvent) => {
    exporters?.agent.onEvent(ev);
    if (ev.kind === 'result') display?.setTotal(totalJobs(store, campaignId));
    display?.onEvent(ev);
    o.onEvent?.(ev);
  };
  emit({ kind: 'campaign', campaignId, jobs, scenarios: o.plan.scenarios.length });

  const workDir = join(outDir, 'work', campaignId);
  const worker = new Worker({
    ...node.workerParts({ workDir, metrics: () => exporters?.agent ?? null }),
    client,
    nodeId,
    encoders,
    workDir,
    log: o.log,
    onEvent: emit,
    ffmpegPath: o.ffmpegPath,
    qualityFfmpegPath: o.qualityFfmpegPath,
    vmafModel: o.vmafModel,
  });
  try {
    await worker.loop(() => queue.campaignProgress(campaignId)?.status !== 'running', {
      pollMs: 200,
      signal: o.signal,
    });
  } catch (err) {
    if (!o.signal?.aborted) throw new RunError(`campaign ${campaignId} stopped: ${(err as Error).message}`, err);
  } finally {
    display?.stop();
    if (exporters) {
      if (o.metricsLingerS && !o.signal?.aborted) {
        o.log.info(
          `exporters stay up ${o.metricsLingerS} s for scrapers: agent http://${o.metricsListen!.agent}/metrics, master http://${o.metricsListen!.master}/metrics`,
        );
        await sleep(o.metricsLingerS * 1000, undefined, { signal: o.signal }).catch(() => {});
      }
      await exporters.close();
    }
    await node.stop();
    if (o.signal?.aborted && store.getCampaign(campaignId)?.status === 'running') {
      for (const j of store.listJobs({ campaignId })) if (isOpenJobState(j.state)) queue.cancelJob(j.id);
      store.setCampaignStatus(campaignId, 'canceled');
    }
  }
  const progress = queue.campaignProgress(campaignId)!;
  store.close();
  return { campaignId, dbPath, status: progress.status, counts: progress.counts };
}

async function startLocalExporters(
  listen: { agent: string; master: string },
  store: Store,
  nodeId: string,
  sampler: Sampler,
) {
  const agent = createAgentMetrics({ sampler, nodeId });
  const master = masterMetricsFor(store);
  const servers = [
    await serveMetrics(
      listen.agent,
      () => agent.metricsText(),
      agent.registry.contentType,
      '--metrics (agent exporter)',
    ),
    await serveMetrics(
      listen.master,
      () => master.metricsText(),
      master.registry.contentType,
      '--metrics (master exporter)',
    ),
  ];
  return {
    agent,
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

function totalJobs(store: Store, campaignId: string): number {
  return Object.values(store.jobCountsByState(campaignId)).reduce((a, b) => a + b, 0);
}
