import { existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { InputError } from '../core/errors.ts';
import { PLACEMENTS, type Placement } from '../core/types.ts';
import { rejectOldWattsFlag, WATTS_FLAG } from '../energy/estimate.ts';
import type { Logger } from '../core/log.ts';
import { loadMatrix } from '../matrix/index.ts';
import { checkPlanRunnable, localNodeId, runLocalCampaign } from './local.ts';
import { planCampaign, renderPlan } from './dry-run.ts';
import { existingPath } from './ops/connect.ts';
import { reportAndPrint } from './report-output.ts';
import type { RunCommandOptions } from './run-options.ts';

export type { RunCommandOptions } from './run-options.ts';

const DEFAULT_MATRIX = 'matrices/quick.yml';
/** Where local mode serves its exporters with --metrics (scraped by `make monitor`, see docs/metrics.md). */
export const LOCAL_AGENT_METRICS = '127.0.0.1:9464';
export const LOCAL_MASTER_METRICS = '127.0.0.1:9465';

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InputError(`${flag} must be a positive number, got "${value}"`, { field: flag });
  return n;
}

/**
 * An executable given in a flag: a value with a '/' is a path, resolved against the current
 * directory; a bare name is looked up on PATH. Not found: exit 2 naming the flag.
 */
export function executablePath(
  value: string | undefined,
  flag: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.includes('/')) {
    const path = existingPath(value, flag)!;
    if (!statSync(path).isFile())
      throw new InputError(`${flag} ${value}: not a file (${path})`, { field: flag, file: path });
    return path;
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, value))) return join(dir, value);
  }
  throw new InputError(
    `${flag} ${value}: not found on PATH; give the path of the program (relative paths start at ${process.cwd()})`,
    { field: flag },
  );
}

export function placementFlag(value: string | undefined): Placement | undefined {
  if (value === undefined) return undefined;
  if (!(PLACEMENTS as readonly string[]).includes(value))
    throw new InputError(`--placement ${value}: use one of ${PLACEMENTS.join(', ')}`, { field: '--placement' });
  return value as Placement;
}

/** Every path-valued flag (and its FFWATT_* fallback) resolved against the current directory, or exit 2 naming it. */
export function resolvePathFlags(o: RunCommandOptions, env: NodeJS.ProcessEnv = process.env): RunCommandOptions {
  return {
    ...o,
    ffmpeg: executablePath(o.ffmpeg, '--ffmpeg', env),
    qualityFfmpeg:
      o.qualityFfmpeg !== undefined
        ? executablePath(o.qualityFfmpeg, '--quality-ffmpeg', env)
        : executablePath(env.FFWATT_QUALITY_FFMPEG, 'FFWATT_QUALITY_FFMPEG', env),
    vmafModel:
      o.vmafModel !== undefined
        ? existingPath(o.vmafModel, '--vmaf-model')
        : existingPath(env.FFWATT_VMAF_MODEL, 'FFWATT_VMAF_MODEL'),
    sysfs: existingPath(o.sysfs, '--sysfs'),
    nvmlLibrary: existingPath(o.nvmlLibrary, '--nvml-library'),
    tokenFile: existingPath(o.tokenFile, '--token-file'),
    caCert: existingPath(o.caCert, '--ca-cert'),
    inventory: existingPath(o.inventory, '--inventory'),
  };
}

/** `ffwatt run`: local mode here, or a campaign submitted to a master (fleet mode); with --dry-run only the plan. */
export async function runCommand(opts: RunCommandOptions, log: Logger, signal?: AbortSignal): Promise<number> {
  const o = resolvePathFlags(opts);
  const placement = placementFlag(o.placement);
  rejectOldWattsFlag(o.wattsPerCore);
  const matrixPath = resolve(o.matrix ?? DEFAULT_MATRIX);
  // A fleet campaign is checked as the master checks it (inputs under the workers' --media-dir, allow-listed encoder options).
  const loaded = await loadMatrix(matrixPath, {
    seed: o.seed === undefined ? undefined : Number(o.seed),
    fleet: Boolean(o.master || o.inventory),
  });
  const plan = placement ? { ...loaded, placement } : loaded;
  if (o.master || o.inventory) {
    const { runFleetCommand } = await import('./fleet.ts');
    return runFleetCommand(plan, o, log, signal, { placementFlag: placement });
  }
  if (o.dryRun) {
    const { detectEncoders } = await import('../media/encoders.ts');
    const encoders = await detectEncoders({ ffmpegPath: o.ffmpeg });
    checkPlanRunnable(plan, encoders);
    const { readMachineFacts } = await import('../agent/host-facts.ts');
    const { hardwareClassId } = await import('../core/hardware-class.ts');
    const hardwareClass = hardwareClassId(await readMachineFacts({ nvmlLibrary: o.nvmlLibrary }));
    const node = {
      id: localNodeId(hostname()),
      hostname: hostname(),
      encoders: encoders.codecMap as Record<string, string>,
      state: 'alive' as const,
      hardwareClass,
    };
    const view = planCampaign(plan, o.matrix ?? DEFAULT_MATRIX, { fleet: false, nodes: [node] });
    process.stdout.write(o.json ? JSON.stringify(view, null, 2) + '\n' : renderPlan(view));
    return 0;
  }
  const result = await runLocalCampaign({
    plan,
    outDir: o.out,
    log,
    ffmpegPath: o.ffmpeg,
    qualityFfmpegPath: o.qualityFfmpeg,
    vmafModel: o.vmafModel ?? null,
    sysfsRoot: o.sysfs,
    nvmlLibrary: o.nvmlLibrary,
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
