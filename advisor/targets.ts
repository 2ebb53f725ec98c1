// What the advisor predicts, and in which space the models learn it.
//
// energy: J per encoded minute: on the estimate meter, the JOB's own share (its process
//   tree's CPU time × W per busy logical CPU) when every row has it, since the machine-wide
//   estimate also counts other processes; otherwise NET (gross − idle) when every row has a
//   net figure, else GROSS for all rows (never mixed). Learned as ln(J/min): energy spans orders of
//   magnitude across presets and resolutions and its errors are multiplicative, so a
//   log target keeps fast presets from being swamped by slow ones.
// quality: mean VMAF of the main output when every usable row has it, else PSNR (dB);
//   the metric chosen is recorded. Learned as is.
// speed: encoding speed (× real time). Learned as ln(speed), for the same reason as energy.

import { InputError } from '../core/errors.ts';
import type { TrainingRow } from './dataset.ts';

export type TargetName = 'energy' | 'quality' | 'speed';
export const TARGET_NAMES: TargetName[] = ['energy', 'quality', 'speed'];

export type EnergyBasis = 'net' | 'gross' | 'job';

/** How a basis reads in the recommender's header and the model card. */
export const ENERGY_BASIS_LABEL: Record<EnergyBasis, string> = {
  net: 'net J per encoded minute',
  gross: 'gross J per encoded minute',
  job: "ESTIMATED J per encoded minute of the encode's own processes (CPU time × W per busy CPU)",
};

export interface TargetSpec {
  name: TargetName;
  transform: 'log' | 'identity';
  unit: string;
  /** energy only: net, gross, or job (the estimate's job-process-tree share) */
  basis?: EnergyBasis;
  /** quality only */
  metric?: 'vmaf' | 'psnr';
}

export interface TargetChoice {
  targets: TargetSpec[];
  rows: TrainingRow[];
  dropped: Array<{ jobId: string; reason: string }>;
}

/** Picks energy basis and quality metric for a data set; drops rows lacking a chosen figure (with reasons). */
export function chooseTargets(all: TrainingRow[]): TargetChoice {
  const dropped: TargetChoice['dropped'] = [];
  const usable = all.filter((r) => {
    const ok = r.speed != null && r.speed > 0;
    if (!ok) dropped.push({ jobId: r.jobId, reason: 'no encoding speed' });
    return ok;
  });
  const withVmaf = usable.filter((r) => r.vmaf != null).length;
  const withPsnr = usable.filter((r) => r.psnr != null).length;
  const metric: 'vmaf' | 'psnr' = withVmaf > 0 && withVmaf >= withPsnr ? 'vmaf' : 'psnr';
  const positive = (v: number | null | undefined) => v != null && v > 0;
  const basis: EnergyBasis =
    usable.length > 0 && usable.every((r) => positive(r.jobJPerEncodedMinute))
      ? 'job'
      : usable.every((r) => positive(r.netJPerEncodedMinute))
        ? 'net'
        : 'gross';
  const rows = usable.filter((r) => {
    if (r[metric] == null) {
      dropped.push({ jobId: r.jobId, reason: `no ${metric.toUpperCase()} score` });
      return false;
    }
    const e = energyOf(basis, r);
    if (e == null || !(e > 0)) {
      dropped.push({ jobId: r.jobId, reason: `no positive ${basis} J per encoded minute` });
      return false;
    }
    return true;
  });
  if (rows.length === 0) {
    throw new InputError('no run has energy, quality and speed figures together; nothing to train on', {
      field: 'runs',
      fix: 'run a campaign with quality scoring enabled on a node with a meter',
    });
  }
  return {
    targets: [
      { name: 'energy', transform: 'log', unit: 'J/encoded min', basis },
      { name: 'quality', transform: 'identity', unit: metric === 'vmaf' ? 'VMAF' : 'dB PSNR', metric },
      { name: 'speed', transform: 'log', unit: '× real time' },
    ],
    rows,
    dropped,
  };
}

function energyOf(basis: EnergyBasis | undefined, r: TrainingRow): number | null | undefined {
  return basis === 'job' ? r.jobJPerEncodedMinute : basis === 'net' ? r.netJPerEncodedMinute : r.jPerEncodedMinute;
}

/** The measured value of a target for a row, in units. */
export function targetValue(t: TargetSpec, r: TrainingRow): number {
  if (t.name === 'energy') return energyOf(t.basis, r) as number;
  if (t.name === 'quality') return r[t.metric ?? 'vmaf'] as number;
  return r.speed as number;
}

export const toModelSpace = (t: TargetSpec, v: number) => (t.transform === 'log' ? Math.log(v) : v);
export const fromModelSpace = (t: TargetSpec, v: number) => (t.transform === 'log' ? Math.exp(v) : v);
