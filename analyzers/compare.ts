// Comparisons between scenarios: ranking, Pareto fronts, pairwise Welch tests with Holm's
// correction, figures relative to a reference configuration, rate curves with Bjøntegaard
// deltas, and the efficiency score. All work on ScenarioReport summaries (no runs).
import { InputError } from '../core/errors.ts';
import { bdDelta, hedgesG, holm, relativeDifference, welchFromMoments } from '../core/stats.ts';
import { num } from './format.ts';
import { KIND_ORDER } from '../core/strata.ts';
import type {
  PairwiseTest,
  ParetoSet,
  QualityMetric,
  RankingRow,
  RateCurve,
  RelativeFigure,
  ReportModel,
  ScenarioReport,
} from '../core/report-model.ts';

export const ALPHA = 0.05;
/** Most pairwise tests computed; beyond that the family is cut and the report says so. */
export const MAX_PAIRS = 20_000;

const configOf = (s: ScenarioReport) => `${s.codec}/${s.encoder ?? s.codec}/${s.preset}`;
export const configLabel = (s: { codec: string; encoder: string | null; preset: string }) =>
  `${s.encoder ?? s.codec} ${s.preset}`;
/** Scenarios with the same key here encode the same thing the same way, up to the encoder configuration. */
const sameWorkKey = (s: ScenarioReport) => `${s.mode}|${s.content}|x${s.streams}|${s.rate.kind}=${s.rate.value}`;
const contentGroupKey = (s: ScenarioReport) => `${s.mode} ${s.content} x${s.streams}`;
/** Rows in one stratum share hardware class and energy kind: the only rows ever compared. */
export const stratumKey = (s: { hardwareClass: string; energyKind: string }) =>
  `${s.hardwareClass}\u0000${s.energyKind}`;

export function qualityOf(s: ScenarioReport, metric: QualityMetric | null): number | null {
  return metric ? (s.metrics[metric]?.mean ?? null) : null;
}

/** Strata in report order: measured before estimated before none, then by class name. */
export function strataOf<T extends { hardwareClass: string; energyKind: ScenarioReport['energyKind'] }>(
  rows: T[],
): Array<{ hardwareClass: string; energyKind: ScenarioReport['energyKind']; rows: T[] }> {
  const by = new Map<string, { hardwareClass: string; energyKind: ScenarioReport['energyKind']; rows: T[] }>();
  for (const r of rows) {
    const k = stratumKey(r);
    (by.get(k) ?? by.set(k, { hardwareClass: r.hardwareClass, energyKind: r.energyKind, rows: [] }).get(k)!).rows.push(
      r,
    );
  }
  return [...by.values()].sort(
    (a, b) =>
      KIND_ORDER[a.energyKind] - KIND_ORDER[b.energyKind] ||
      (a.hardwareClass < b.hardwareClass ? -1 : a.hardwareClass > b.hardwareClass ? 1 : 0),
  );
}

/** Rows with energy, lowest first, ranked within their stratum only (never across classes or energy kinds). */
export function rank(scenarios: ScenarioReport[]): RankingRow[] {
  return strataOf(scenarios.filter((s) => s.energy)).flatMap((st) =>
    st.rows
      .sort((a, b) => a.energy!.mean - b.energy!.mean || a.id - b.id)
      .map((s, i) => ({
        rank: i + 1,
        rowId: s.id,
        hardwareClass: s.hardwareClass,
        energyKind: s.energyKind,
        stratum: s.stratum,
        label: s.label,
        energy: s.energy!,
        sourceLabel: s.sourceLabel,
        estimate: s.estimate,
        flags: Object.keys(s.flags),
        energyCostPerEncodedHour: s.cost.energyCostPerEncodedHour,
        co2GramsPerEncodedMinute: s.cost.co2GramsPerEncodedMinute,
      })),
  );
}

/** Points that no other point of the same stratum beats on both axes: lower energy and higher value. */
export function paretoFront(
  scenarios: ScenarioReport[],
  metric: string,
  valueOfRow: (s: ScenarioReport) => number | null,
): ParetoSet | null {
  const strata = new Set(scenarios.map(stratumKey));
  if (strata.size > 1)
    throw new Error('paretoFront: rows of different strata (hardware class or energy kind) cannot share a front');
  const pts = scenarios
    .filter((s) => s.energy && valueOfRow(s) != null)
    .map((s) => ({
      rowId: s.id,
      label: s.label,
      energy: s.energy!.mean,
      value: valueOfRow(s)!,
      onFront: false,
      estimate: s.estimate,
    }));
  if (pts.length === 0) return null;
  const first = scenarios.find((s) => s.energy && valueOfRow(s) != null)!;
  const sorted = [...pts].sort((a, b) => a.energy - b.energy || b.value - a.value || a.rowId - b.rowId);
  let best = -Infinity;
  for (const p of sorted) {
    if (p.value > best) {
      p.onFront = true;
      best = p.value;
    }
  }
  return {
    metric,
    hardwareClass: first.hardwareClass,
    energyKind: first.energyKind,
    stratum: first.stratum,
    points: pts,
  };
}

/** Welch tests between every two configurations doing the same work, Holm-corrected over the family. */
export function pairwise(scenarios: ScenarioReport[], basisLabel: string): ReportModel['comparisons'] {
  const groups = new Map<string, ScenarioReport[]>();
  for (const s of scenarios) {
    if (!s.energy || s.energy.sd == null) continue;
    const k = `${sameWorkKey(s)}|${stratumKey(s)}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(s);
  }
  // Each test is built whole (Holm's figures filled in below, in their place in the key order): no second copy of 8k objects.
  const tests: PairwiseTest[] = [];
  let cut = false;
  for (const members of groups.values()) {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        if (tests.length >= MAX_PAIRS) {
          cut = true;
          break;
        }
        const a = members[i];
        const b = members[j];
        const ea = { n: a.energy!.n, mean: a.energy!.mean, sd: a.energy!.sd! };
        const eb = { n: b.energy!.n, mean: b.energy!.mean, sd: b.energy!.sd! };
        const w = welchFromMoments(ea, eb);
        if (!w) continue;
        tests.push({
          a: a.id,
          b: b.id,
          labelA: a.label,
          labelB: b.label,
          meanA: ea.mean,
          meanB: eb.mean,
          diffPct: eb.mean === 0 ? 0 : (ea.mean / eb.mean - 1) * 100,
          t: w.t,
          df: w.df,
          p: w.p,
          hedgesG: hedgesG(ea, eb),
          estimate: a.estimate,
          hardwareClass: a.hardwareClass,
          energyKind: a.energyKind,
          pHolm: 0,
          significant: false,
          verdict: '',
        });
      }
    }
  }
  const adjusted = holm(tests.map((r) => r.p));
  tests.forEach((r, i) => {
    const pHolm = adjusted[i];
    const est = r.estimate ? ' (ESTIMATE energy)' : '';
    r.pHolm = pHolm;
    r.significant = pHolm <= ALPHA;
    r.verdict = r.significant
      ? `${r.labelA} uses ${num(Math.abs(r.diffPct), 3)}% ${r.diffPct < 0 ? 'less' : 'more'} energy than ${r.labelB} (Holm p=${num(pHolm, 2)})${est}`
      : `no significant difference between ${r.labelA} and ${r.labelB} (Holm p=${num(pHolm, 2)})${est}`;
  });
  return {
    metric: basisLabel,
    alpha: ALPHA,
    family:
      'scenarios with the same mode, content, streams and rate setting on the same hardware class, estimated and measured energy kept apart',
    tests,
    note: `${tests.length} Welch t-tests, Holm-corrected at α=${ALPHA}${cut ? `; cut at ${MAX_PAIRS} pairs` : ''}. Scenarios with fewer than 2 successful runs are not tested.`,
  };
}

export interface ReferenceChoice {
  codec?: string;
  encoder?: string;
  preset?: string;
}

/** Reference configuration: as given, else the fastest preset (highest mean speed) of the first codec. */
export function chooseReference(scenarios: ScenarioReport[], given: ReferenceChoice = {}): ReportModel['reference'] {
  if (scenarios.length === 0) return null;
  const explicit = Boolean(given.codec || given.encoder || given.preset);
  const codec = given.codec ?? scenarios[0].codec;
  const candidates = scenarios.filter(
    (s) =>
      s.codec === codec &&
      (!given.encoder || (s.encoder ?? s.codec) === given.encoder) &&
      (!given.preset || s.preset === given.preset),
  );
  if (candidates.length === 0) {
    const known = [...new Set(scenarios.map((s) => `${s.codec}/${s.encoder ?? s.codec}/${s.preset}`))].join(', ');
    throw new InputError(`reference configuration ${JSON.stringify(given)} matches no scenario of this campaign`, {
      field: 'reference',
      fix: `choose codec/encoder/preset among: ${known}`,
    });
  }
  const speed = new Map<string, { sum: number; n: number; first: ScenarioReport }>();
  for (const s of candidates) {
    const k = configOf(s);
    const e = speed.get(k) ?? { sum: 0, n: 0, first: s };
    if (s.metrics.speed) (e.sum += s.metrics.speed.mean), e.n++;
    speed.set(k, e);
  }
  const ordered = [...speed.values()].sort(
    (a, b) => (b.n ? b.sum / b.n : -1) - (a.n ? a.sum / a.n : -1) || a.first.id - b.first.id,
  );
  const pick = ordered[0].first;
  return {
    codec: pick.codec,
    encoder: pick.encoder,
    preset: pick.preset,
    chosenBy: explicit
      ? 'given in the report options'
      : `fastest preset (highest mean speed) of the first codec, ${codec}`,
  };
}

export function relativeFigures(
  scenarios: ScenarioReport[],
  reference: ReportModel['reference'],
  metric: QualityMetric | null,
): RelativeFigure[] {
  if (!reference) return [];
  const isRef = (s: ScenarioReport) =>
    s.codec === reference.codec && s.encoder === reference.encoder && s.preset === reference.preset;
  const refs = new Map<string, ScenarioReport>();
  for (const s of scenarios) if (isRef(s) && s.energy) refs.set(`${sameWorkKey(s)}|${stratumKey(s)}`, s);
  const out: RelativeFigure[] = [];
  for (const s of scenarios) {
    if (isRef(s) || !s.energy) continue;
    const r = refs.get(`${sameWorkKey(s)}|${stratumKey(s)}`);
    if (!r) continue;
    const rel = relativeDifference(s.energy, r.energy!);
    if (!rel) continue;
    const qs = qualityOf(s, metric);
    const qr = qualityOf(r, metric);
    const qualityDiff = qs != null && qr != null ? qs - qr : null;
    const verb = rel.pct >= 0 ? 'costs' : 'saves';
    const ci = rel.halfWidthPct == null ? ' (no CI: fewer than 2 runs)' : ` ±${num(rel.halfWidthPct, 2)}%`;
    const pct = `${rel.pct >= 0 ? '+' : ''}${num(Math.abs(rel.pct), 3)}%`;
    const q =
      qualityDiff == null
        ? 'quality not scored'
        : `${qualityDiff >= 0 ? '+' : '−'}${num(Math.abs(qualityDiff), 3)} ${metric!.toUpperCase()}`;
    out.push({
      rowId: s.id,
      hardwareClass: s.hardwareClass,
      referenceId: r.id,
      label: s.label,
      referenceLabel: r.label,
      energyPct: rel.pct,
      energyHalfWidthPct: rel.halfWidthPct,
      qualityDiff,
      qualityMetric: qualityDiff == null ? null : metric,
      estimate: s.estimate,
      text: `${s.label} ${verb} ${pct}${ci} energy for ${q} vs ${r.label} on ${s.hardwareClass}${s.estimate ? ' [ESTIMATE energy]' : ''}`,
    });
  }
  return out;
}

/** Rate–quality–energy curves per configuration and content; BD deltas against the group's anchor. */
export function rateCurves(
  scenarios: ScenarioReport[],
  reference: ReportModel['reference'],
  metric: QualityMetric | null,
): RateCurve[] {
  const curves = new Map<string, RateCurve & { firstId: number }>();
  for (const s of scenarios) {
    const k = `${contentGroupKey(s)}|${configOf(s)}|${s.rate.kind}|${stratumKey(s)}`;
    let c = curves.get(k);
    if (!c) {
      c = {
        group: contentGroupKey(s),
        config: configLabel(s),
        codec: s.codec,
        encoder: s.encoder,
        preset: s.preset,
        rateKind: s.rate.kind,
        estimate: s.estimate,
        hardwareClass: s.hardwareClass,
        energyKind: s.energyKind,
        points: [],
        bd: null,
        firstId: s.id,
      };
      curves.set(k, c);
    }
    c.points.push({
      rowId: s.id,
      rateLabel: s.rateLabel,
      bitrateBps: s.metrics.bitrateBps?.mean ?? null,
      energy: s.energy?.mean ?? null,
      quality: qualityOf(s, metric),
    });
  }
  const list = [...curves.values()].filter((c) => c.points.length >= 2);
  const usable = (c: RateCurve) =>
    c.points.filter((p) => p.bitrateBps != null && p.energy != null && p.quality != null).length >= 4;
  const byGroup = new Map<string, typeof list>();
  for (const c of list) {
    c.points.sort((a, b) => (a.bitrateBps ?? 0) - (b.bitrateBps ?? 0) || a.rowId - b.rowId);
    // BD deltas only between curves of one stratum: same content, hardware class and energy kind.
    const g = `${c.group}|${stratumKey(c)}`;
    (byGroup.get(g) ?? byGroup.set(g, []).get(g)!).push(c);
  }
  for (const members of byGroup.values()) {
    const eligible = members.filter(usable);
    if (eligible.length < 2) {
      for (const c of members)
        c.bd = {
          anchor: '',
          bdRatePct: null,
          bdEnergyPct: null,
          reason: usable(c)
            ? 'no second curve with ≥ 4 rates for this content'
            : 'fewer than 4 rates with bitrate, energy and quality',
        };
      continue;
    }
    const anchor =
      eligible.find(
        (c) =>
          reference && c.codec === reference.codec && c.encoder === reference.encoder && c.preset === reference.preset,
      ) ?? eligible[0];
    for (const c of members) {
      if (c === anchor) {
        c.bd = { anchor: anchor.config, bdRatePct: null, bdEnergyPct: null, reason: 'anchor curve of this group' };
        continue;
      }
      if (!usable(c)) {
        c.bd = {
          anchor: anchor.config,
          bdRatePct: null,
          bdEnergyPct: null,
          reason: 'fewer than 4 rates with bitrate, energy and quality',
        };
        continue;
      }
      const pts = (x: RateCurve, key: 'bitrateBps' | 'energy') =>
        x.points
          .filter((p) => p.bitrateBps != null && p.energy != null && p.quality != null)
          .map((p) => ({ value: p[key]!, quality: p.quality! }));
      const rate = bdDelta(pts(anchor, 'bitrateBps'), pts(c, 'bitrateBps'));
      const energy = bdDelta(pts(anchor, 'energy'), pts(c, 'energy'));
      c.bd = {
        anchor: anchor.config,
        bdRatePct: rate.pct,
        bdEnergyPct: energy.pct,
        reason: rate.reason ?? energy.reason ?? null,
      };
    }
  }
  return list.sort((a, b) => a.firstId - b.firstId).map(({ firstId: _firstId, ...c }) => c);
}

export interface EfficiencyScore {
  rowId: number;
  label: string;
  content: string;
  /** Quality points per (J per encoded minute). */
  qualityPerEnergy: number;
  /** 0..1: share of the best quality-per-energy for the same content in the same stratum (hardware class, measured vs estimated). */
  score: number;
  bestRowId: number;
}

/** Efficiency of each scenario relative to the best one measured for the same content and resolution (estimates against estimates). */
export function efficiencyScores(model: Pick<ReportModel, 'scenarios' | 'qualityMetric'>): EfficiencyScore[] {
  const rows = model.scenarios
    .map((s) => {
      const q = qualityOf(s, model.qualityMetric);
      return s.energy && q != null && s.energy.mean > 0 ? { s, qpe: q / s.energy.mean } : null;
    })
    .filter((x): x is { s: ScenarioReport; qpe: number } => x != null);
  // Hardware classes and measured/estimated energy are kept apart: each is scored against its own best.
  const keyOf = (s: ScenarioReport) => `${s.content}|${stratumKey(s)}`;
  const best = new Map<string, { qpe: number; id: number }>();
  for (const r of rows) {
    const b = best.get(keyOf(r.s));
    if (!b || r.qpe > b.qpe) best.set(keyOf(r.s), { qpe: r.qpe, id: r.s.id });
  }
  return rows.map((r) => {
    const b = best.get(keyOf(r.s))!;
    return {
      rowId: r.s.id,
      label: r.s.label,
      content: r.s.content,
      qualityPerEnergy: r.qpe,
      score: r.qpe / b.qpe,
      bestRowId: b.id,
    };
  });
}
