// Efficiency score of a run: its quality per joule relative to the best quality per
// joule measured for the same content and output resolution.
//
//   quality per joule = quality / J per encoded minute
//   score             = qpj(run) / max qpj(run and its peers)        ∈ (0, 1], 1 = the best
//
// - quality: mean VMAF of the main output; when the run has no VMAF, PSNR (dB). Peers are
//   compared on the same metric only.
// - energy: NET J per encoded minute (gross − idle); when the run has no positive net
//   figure, GROSS, and then it is compared with peers' gross figures only. Per encoded
//   minute, so runs of different lengths and stream counts compare fairly.
// - peers: runs with the same content (input hash, else input description) and the same
//   main output resolution; the run itself always counts as a peer.
// A run without quality or energy gets no score (null + reason), never 0.

import type { RunRecord } from '../core/types.ts';

export interface EfficiencyRun {
  record: RunRecord;
  /** Main output resolution. */
  width: number;
  height: number;
}

export interface EfficiencyDetail {
  score: number | null;
  reason?: string;
  metric?: 'vmaf' | 'psnr';
  basis?: 'net' | 'gross';
  qualityPerJoule?: number;
  bestQualityPerJoule?: number;
  peersCompared?: number;
}

/** A run whose node recorded neither input hash nor description (a hand-driven node) is its own only peer. */
function contentOf(r: RunRecord): string {
  return r.provenance.inputHash ?? r.provenance.inputDescription ?? `unknown input of job ${r.jobId}`;
}

function quality(r: RunRecord, metric: 'vmaf' | 'psnr'): number | null {
  const q = r.quality?.outputs[0];
  if (!q) return null;
  return metric === 'vmaf' ? (q.vmaf?.mean ?? null) : q.psnrAvg;
}

function energyPerMinute(r: RunRecord, basis: 'net' | 'gross'): number | null {
  const v = basis === 'net' ? r.energy?.netJPerEncodedMinute : r.energy?.jPerEncodedMinute;
  return v != null && v > 0 ? v : null;
}

function qpj(r: RunRecord, metric: 'vmaf' | 'psnr', basis: 'net' | 'gross'): number | null {
  const q = quality(r, metric);
  const e = energyPerMinute(r, basis);
  return q != null && e != null && q > 0 ? q / e : null;
}

export function explainEfficiency(run: EfficiencyRun, peers: EfficiencyRun[]): EfficiencyDetail {
  const r = run.record;
  if (r.status !== 'succeeded') return { score: null, reason: `run ${r.status}` };
  const metric = quality(r, 'vmaf') != null ? 'vmaf' : quality(r, 'psnr') != null ? 'psnr' : null;
  if (!metric) return { score: null, reason: 'no quality score (VMAF or PSNR) for the main output' };
  const basis = energyPerMinute(r, 'net') != null ? 'net' : energyPerMinute(r, 'gross') != null ? 'gross' : null;
  if (!basis) return { score: null, reason: 'no energy per encoded minute', metric };
  const own = qpj(r, metric, basis) as number;
  const content = contentOf(r);
  let best = own;
  let compared = 1;
  for (const p of peers) {
    if (p.record === r || p.record.status !== 'succeeded') continue;
    if (contentOf(p.record) !== content || p.width !== run.width || p.height !== run.height) continue;
    const v = qpj(p.record, metric, basis);
    if (v == null) continue;
    compared++;
    if (v > best) best = v;
  }
  return { score: own / best, metric, basis, qualityPerJoule: own, bestQualityPerJoule: best, peersCompared: compared };
}

/** The score alone: (0, 1], or null when the run has no quality or energy figure. */
export function efficiencyScore(run: EfficiencyRun, peers: EfficiencyRun[]): number | null {
  return explainEfficiency(run, peers).score;
}
