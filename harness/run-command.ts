import { resolve } from 'node:path';
import { InputError } from '../core/errors.ts';
import { rejectOldWattsFlag, WATTS_FLAG } from '../energy/estimate.ts';
import type { Logger } from '../core/log.ts';
import { loadMatrix } from './matrix/index.ts';
import { runLocalCampaign } from './local.ts';
import { reportAndPrint } from './report-output.ts';

export interface RunCommandOptions {
  matrix?: string;
  out: string;
  json?: boolean;
  master?: string;
  inventory?: string;
  limit?: string;
  tokenFile?: string;
  caCert?: string;
  detach?: boolean;
  vmafModel?: string;
  qualityFfmpeg?: string;
  ffmpeg?: string;
  sysfs?: string;
  wattsPerLogicalCpu?: string;
  /** The old flag: refused with a message naming --watts-per-logical-cpu. */
  wattsPerCore?: string;
  samplerHz?: string;
  report?: boolean;
  seed?: string;
  metrics?: boolean;
  metricsLinger?: string;
}

const DEFAULT_MATRIX = 'matrices/quick.yml';
/** Where local mode serves its exporters with --metrics (scraped by `make monitor`, see docs/metrics.md). */
export const LOCAL_AGENT_METRICS = '127.0.0.1:9464';
export const LOCAL_MASTER_METRICS = '127.0.0.1:9465';

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${flag} must be a positive number, got "${value}"`, { field: flag });
  return n;
}

/** `ffwatt run`: local mode here, or a campaign submitted to a master (fleet mode). */
export async function runCommand(o: RunCommandOptions, log: Logger, signal?: AbortSignal): Promise<number> {
  rejectOldWattsFlag(o.wattsPerCore);
  const matrixPath = resolve(o.matrix ?? DEFAULT_MATRIX);
  const plan = await loadMatrix(matrixPath, { seed: o.seed === undefined ? undefined : Number(o.seed) });
  if (o.master || o.inventory) {
    const { runFleetCommand } = await import('./fleet.ts');
    return runFleetCommand(plan, o, log, signal);
  }
  const vmafModel = o.vmafModel ?? process.env.FFWATT_VMAF_MODEL ?? null;
  const result = await runLocalCampaign({
    plan,
    outDir: o.out,
    log,
    ffmpegPath: o.ffmpeg,
    qualityFfmpegPath: o.qualityFfmpeg ?? process.env.FFWATT_QUALITY_FFMPEG,
    vmafModel,
    sysfsRoot: o.sysfs,
    wattsPerLogicalCpu: positiveNumber(o.wattsPerLogicalCpu, WATTS_FLAG),
    samplerHz: positiveNumber(o.samplerHz, '--sampler-hz'),
    progress: !o.json,
    signal,
    metricsListen: o.metrics ? { agent: LOCAL_AGENT_METRICS, master: LOCAL_MASTER_METRICS } : undefined,
    metricsLingerS: o.metricsLinger === undefined ? undefined : positiveNumber(o.metricsLinger, '--metrics-linger'),
  });
  const code = await reportAndPrint(o, result);
  if (signal?.aborted) return 130;
  return code;
}
