// Training rows: one succeeded run, reduced to what the advisor learns from
// (its configuration, content and hardware as a FeatureInput, and the measured targets).
// Rows are plain JSON so the data a shipped model was trained on ships beside it.

import type { InputSpec } from '../core/types.ts';
import type { DbRun } from '../store/training-runs.ts';
import { defaultEncoder } from '../media/presets.ts';
import { cpuClass, type FeatureInput } from './features.ts';
import type { ContentComplexity } from './content.ts';
export { loadRuns, type DbRun } from '../store/training-runs.ts';
import { energyKindOf, exclusionReasons, hardwareClassOf, type EnergyKind } from '../core/strata.ts';

export interface TrainingRow {
  campaignId: string;
  scenarioId: number;
  jobId: string;
  nodeId: string;
  /** Description of the source (advisor/content.ts describeInput). */
  content: string;
  features: FeatureInput;
  energySource: string;
  /** measured (rapl, nvml) or estimated (estimate, mixed): a training set holds one kind only. */
  energyKind?: EnergyKind;
  /** Hardware class of the node that made the run ('unclassified' when none was recorded). */
  hardwareClass?: string;
  netJPerEncodedMinute: number | null;
  jPerEncodedMinute: number | null;
  /**
   * Estimate meter only: the job's own share, CPU seconds of its process tree × W per busy
   * logical CPU, per encoded minute (energy/attribution.ts). Other processes' load is not in it.
   */
  jobJPerEncodedMinute?: number | null;
  vmaf: number | null;
  psnr: number | null;
  speed: number | null;
  /** Validity flags of the run (e.g. estimated, noisy_neighbour). */
  flags?: string[];
}

/** Identity of a configuration regardless of hardware and repetition: the unit of the train/validation split. */
export function configKey(f: FeatureInput, content: string): string {
  return [
    f.mode,
    f.codec,
    f.encoder,
    f.preset,
    f.rate.kind,
    f.rate.value,
    `${f.width}x${f.height}`,
    f.fps,
    f.streams,
    content,
  ].join('|');
}

/** Name of a hardware class as the model card and `--hardware` use it, e.g. "intel-xeon-2c-rapl". */
export function hardwareName(f: Pick<FeatureInput, 'cpuModel' | 'cores' | 'gpu' | 'meterSource'>): string {
  return `${cpuClass(f.cpuModel)}-${f.cores}c${f.gpu ? '-gpu' : ''}-${f.meterSource}`;
}

/**
 * Flags about the machine rather than the job: other processes' CPU (noisy_neighbour) and an
 * idle baseline taken under load (idle-baseline-dirty). Neither enters the job's own
 * estimate (its process tree's CPU time; idle is not subtracted from it), so a run trained
 * on that figure keeps them as provenance instead of being left out. Its speed (wall clock)
 * still carries the load; the model card says so.
 */
export const MACHINE_FLAGS: readonly string[] = ['noisy_neighbour', 'idle-baseline-dirty'];

export interface Dropped {
  jobId: string;
  reason: string;
}

export interface TrainingFilter {
  /** Keep runs flagged noisy_neighbour, thermal_drift, … (default false: dropped with the flag as reason). A non-positive net figure is dropped regardless. */
  includeFlagged?: boolean;
  /** Energy kind to train on; default measured when any run is measured, else estimated. The other kind is dropped, never trained beside it. */
  energyKind?: Exclude<EnergyKind, 'none'>;
}

/**
 * Turns runs into training rows; `content` gives SI/TI for a source. Runs without an
 * energy figure, flagged runs, runs with a non-positive net figure and runs of the other
 * energy kind are dropped (with the reason), never filled in.
 */
export async function toTrainingRows(
  runs: DbRun[],
  content: (input: InputSpec) => Promise<ContentComplexity>,
  filter: TrainingFilter = {},
): Promise<{ rows: TrainingRow[]; dropped: Dropped[] }> {
  const rows: TrainingRow[] = [];
  const dropped: Dropped[] = [];
  const kind =
    filter.energyKind ?? (runs.some((r) => energyKindOf(r.energySource) === 'measured') ? 'measured' : 'estimated');
  for (const r of runs) {
    if (!r.energySource || (r.jPerEncodedMinute == null && r.netJPerEncodedMinute == null)) {
      dropped.push({ jobId: r.jobId, reason: 'no energy figure' });
      continue;
    }
    // A run whose energy is the job's own estimate is not disturbed by what MACHINE_FLAGS describe.
    const ownFigure = r.jobJPerEncodedMinute != null;
    const reasons = exclusionReasons({ flags: r.flags, netJ: r.netJ }, filter.includeFlagged).filter(
      (x) => !(ownFigure && MACHINE_FLAGS.includes(x)),
    );
    if (reasons.length) {
      dropped.push({ jobId: r.jobId, reason: `left out: ${reasons.join(', ')}` });
      continue;
    }
    if (energyKindOf(r.energySource) !== kind) {
      dropped.push({
        jobId: r.jobId,
        reason: `${energyKindOf(r.energySource)} energy: this training set holds ${kind} runs only`,
      });
      continue;
    }
    const { cpuModel, cores } = r.provenance;
    if (cpuModel === undefined || cores === undefined) {
      dropped.push({
        jobId: r.jobId,
        reason: 'provenance has no cpuModel/cores (a node that is not an ffwatt agent): no hardware features',
      });
      continue;
    }
    const s = r.scenario;
    const main = s.outputs[0] ?? { resolution: s.input.resolution, fps: s.input.fps };
    const c = await content(s.input);
    const rate = main.rate ?? s.rate;
    rows.push({
      campaignId: r.campaignId,
      scenarioId: r.scenarioId,
      jobId: r.jobId,
      nodeId: r.nodeId,
      content: c.input,
      features: {
        codec: s.codec,
        encoder: r.provenance.encoder || s.encoder || defaultEncoder(s.codec),
        preset: s.preset,
        mode: s.mode,
        rate: { kind: rate.kind, value: rate.value },
        width: main.resolution.width,
        height: main.resolution.height,
        fps: main.fps,
        streams: s.streams,
        si: c.si,
        ti: c.ti,
        cpuModel,
        cores,
        gpu: r.provenance.gpu != null && r.provenance.gpu !== '',
        meterSource: r.energySource,
      },
      energySource: r.energySource,
      energyKind: kind,
      hardwareClass: hardwareClassOf(r.provenance),
      netJPerEncodedMinute: r.netJPerEncodedMinute,
      jPerEncodedMinute: r.jPerEncodedMinute,
      jobJPerEncodedMinute: r.jobJPerEncodedMinute ?? null,
      vmaf: r.vmaf,
      psnr: r.psnr,
      speed: r.speed,
      flags: r.flags,
    });
  }
  return { rows, dropped };
}
