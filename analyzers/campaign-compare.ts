// Campaign vs campaign: the same scenarios on the same hardware class and energy kind, before
// and after a change (FFmpeg build, kernel, governor…). Welch's test per matched row, Holm over
// all matches, and the provenance fields whose recorded values differ between the two.
import type { DB } from '../store/store.ts';
import { InputError } from '../core/errors.ts';
import { buildModel, openResults } from './summarize.ts';
import { hedgesG, holm, welchFromMoments } from '../core/stats.ts';
import { ALPHA } from './compare.ts';
import { num } from './format.ts';
import type { EnergyBasis, ReportModel, ScenarioReport, Stat } from '../core/report-model.ts';
import type { EnergyKind } from '../core/strata.ts';
import { provenanceGroups } from '../store/read-db.ts';

export interface CampaignRef {
  /** Results database path. */
  db: string;
  /** Campaign id; default the latest of that database. */
  campaignId?: string;
}

export interface CompareMatch {
  key: string;
  label: string;
  hardwareClass: string;
  energyKind: EnergyKind;
  stratum: string;
  base: Stat;
  test: Stat;
  /** (test / base − 1) × 100 */
  diffPct: number | null;
  t: number | null;
  df: number | null;
  p: number | null;
  pHolm: number | null;
  significant: boolean;
  hedgesG: number | null;
  quality: { metric: string; base: number | null; test: number | null } | null;
  speed: { base: number | null; test: number | null };
  verdict: string;
}

export interface ProvenanceDifference {
  field: string;
  base: Array<{ value: string; runs: number }>;
  test: Array<{ value: string; runs: number }>;
  changed: boolean;
}

export interface CompareModel {
  schema: 'ffwatt-compare/1';
  generatedAt: string;
  base: { id: string; name: string; createdAt: string; db: string; runs: number; leftOut: number };
  test: { id: string; name: string; createdAt: string; db: string; runs: number; leftOut: number };
  basis: { energy: EnergyBasis; note: string };
  includeFlagged: boolean;
  alpha: number;
  matches: CompareMatch[];
  unmatched: {
    baseOnly: Array<{ label: string; stratum: string }>;
    testOnly: Array<{ label: string; stratum: string }>;
  };
  provenance: ProvenanceDifference[];
  notes: string[];
}

/** Provenance fields compared; microcode is listed where a node recorded it. */
const PROVENANCE_FIELDS: Array<{ field: string; path: string }> = [
  { field: 'FFmpeg version', path: '$.ffmpegVersion' },
  { field: 'FFmpeg buildconf', path: '$.ffmpegBuildconfHash' },
  { field: 'kernel', path: '$.kernel' },
  { field: 'CPU governor', path: '$.governor' },
  { field: 'turbo', path: '$.turbo' },
  { field: 'CPU microcode', path: '$.microcode' },
  { field: 'CPU model', path: '$.cpuModel' },
  { field: 'GPU', path: '$.gpu' },
  { field: 'encoder', path: '$.encoder' },
];

function provenanceValues(db: DB, campaignId: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const add = (field: string, value: string, n: number) => {
    const m = out.get(field) ?? out.set(field, new Map()).get(field)!;
    m.set(value, (m.get(value) ?? 0) + n);
  };
  const rows = provenanceGroups(
    db,
    campaignId,
    PROVENANCE_FIELDS.map((f) => f.path),
  );
  for (const r of rows) {
    const n = r.n as number;
    PROVENANCE_FIELDS.forEach((f, i) => add(f.field, r.values[i] == null ? '(not recorded)' : String(r.values[i]), n));
    let meters: Array<{ meter?: unknown; source?: unknown; valid?: unknown; state?: unknown }> = [];
    try {
      meters = JSON.parse(String(r.meters ?? '[]'));
    } catch {
      meters = [];
    }
    const text = meters
      .map(
        (m) =>
          `${String(m.meter)}/${String(m.source)}${m.state === 'absent' ? ' (absent)' : m.valid === false ? ' (invalid)' : ''}`,
      )
      .sort()
      .join(' + ');
    add('meters', text || '(none)', n);
    add('hardware class', String(r.cls), n);
    add('nodes', String(r.nodeId), n);
  }
  return out;
}

const counted = (m: Map<string, number> | undefined) =>
  [...(m ?? new Map<string, number>())]
    .map(([value, runs]) => ({ value, runs }))
    .sort((a, b) => b.runs - a.runs || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));

export function provenanceDifferences(
  base: { db: DB; id: string },
  test: { db: DB; id: string },
): ProvenanceDifference[] {
  const a = provenanceValues(base.db, base.id);
  const b = provenanceValues(test.db, test.id);
  const fields = [...PROVENANCE_FIELDS.map((f) => f.field), 'meters', 'hardware class', 'nodes'];
  return fields
    .map((field) => {
      const av = counted(a.get(field));
      const bv = counted(b.get(field));
      const set = (xs: Array<{ value: string }>) =>
        xs
          .map((x) => x.value)
          .sort()
          .join('\u0000');
      return { field, base: av, test: bv, changed: set(av) !== set(bv) };
    })
    .filter((d) => !(d.field === 'CPU microcode' && !d.changed && d.base.every((x) => x.value === '(not recorded)')));
}

const matchKey = (s: ScenarioReport) => `${s.key}\u0000${s.hardwareClass}\u0000${s.energyKind}`;

function energyOf(s: ScenarioReport, basis: EnergyBasis): Stat | null {
  return basis === 'net' ? s.metrics.netJPerMin : s.metrics.jPerMin;
}

export interface CompareOptions {
  base: CampaignRef;
  test: CampaignRef;
  includeFlagged?: boolean;
  now?: Date;
}

export function compareCampaigns(opts: CompareOptions): CompareModel {
  const dbs = new Map<string, DB>();
  const open = (path: string) => dbs.get(path) ?? dbs.set(path, openResults(path)).get(path)!;
  try {
    const baseDb = open(opts.base.db);
    const testDb = open(opts.test.db);
    const includeFlagged = opts.includeFlagged ?? false;
    const a = buildModel(baseDb, opts.base.db, { campaignId: opts.base.campaignId, includeFlagged, now: opts.now });
    const b = buildModel(testDb, opts.test.db, { campaignId: opts.test.campaignId, includeFlagged, now: opts.now });
    if (opts.base.db === opts.test.db && a.campaign.id === b.campaign.id) {
      throw new InputError(`--compare: base and test are the same campaign (${a.campaign.id} in ${opts.base.db})`, {
        field: '--compare',
        fix: 'give two different campaigns: ids in --db, or two results folders written by `ffwatt run --out DIR`',
      });
    }
    return buildCompareModel(
      a,
      b,
      { base: { db: baseDb, path: opts.base.db }, test: { db: testDb, path: opts.test.db } },
      includeFlagged,
      opts.now,
    );
  } finally {
    for (const db of dbs.values()) db.close();
  }
}

function buildCompareModel(
  a: ReportModel,
  b: ReportModel,
  dbs: { base: { db: DB; path: string }; test: { db: DB; path: string } },
  includeFlagged: boolean,
  now?: Date,
): CompareModel {
  const basis: EnergyBasis = a.basis.energy === 'net' && b.basis.energy === 'net' ? 'net' : 'gross';
  const basisNote =
    basis === 'net'
      ? 'Compared on net J per encoded minute (both campaigns have an idle baseline on every run).'
      : 'Compared on GROSS J per encoded minute: at least one campaign lacks an idle baseline on some run, so net figures are not comparable.';
  const qualityMetric =
    a.qualityMetric && a.qualityMetric === b.qualityMetric
      ? a.qualityMetric
      : a.qualityMetric && b.qualityMetric
        ? 'psnr'
        : null;
  const testRows = new Map(b.scenarios.filter((s) => energyOf(s, basis)).map((s) => [matchKey(s), s]));
  const baseRows = new Map(a.scenarios.filter((s) => energyOf(s, basis)).map((s) => [matchKey(s), s]));
  const raw: Array<Omit<CompareMatch, 'pHolm' | 'significant' | 'verdict'>> = [];
  for (const [k, sa] of baseRows) {
    const sb = testRows.get(k);
    if (!sb) continue;
    const ea = energyOf(sa, basis)!;
    const eb = energyOf(sb, basis)!;
    const w =
      ea.sd != null && eb.sd != null
        ? welchFromMoments({ n: eb.n, mean: eb.mean, sd: eb.sd }, { n: ea.n, mean: ea.mean, sd: ea.sd })
        : null;
    raw.push({
      key: sa.key,
      label: sa.label,
      hardwareClass: sa.hardwareClass,
      energyKind: sa.energyKind,
      stratum: sa.stratum,
      base: ea,
      test: eb,
      diffPct: ea.mean === 0 ? null : (eb.mean / ea.mean - 1) * 100,
      t: w?.t ?? null,
      df: w?.df ?? null,
      p: w?.p ?? null,
      hedgesG:
        ea.sd != null && eb.sd != null
          ? hedgesG({ n: eb.n, mean: eb.mean, sd: eb.sd }, { n: ea.n, mean: ea.mean, sd: ea.sd })
          : null,
      quality: qualityMetric
        ? {
            metric: qualityMetric,
            base: sa.metrics[qualityMetric]?.mean ?? null,
            test: sb.metrics[qualityMetric]?.mean ?? null,
          }
        : null,
      speed: { base: sa.metrics.speed?.mean ?? null, test: sb.metrics.speed?.mean ?? null },
    });
  }
  const tested = raw.filter((r) => r.p != null);
  const adjusted = holm(tested.map((r) => r.p!));
  const pHolmOf = new Map(tested.map((r, i) => [r, adjusted[i]]));
  const matches = raw.map((r): CompareMatch => {
    const pHolm = pHolmOf.get(r) ?? null;
    const significant = pHolm != null && pHolm <= ALPHA;
    const est = r.energyKind === 'estimated' ? ' (ESTIMATE energy on both sides)' : '';
    const verdict =
      pHolm == null
        ? `not tested: fewer than 2 counted runs on a side${est}`
        : significant
          ? `test uses ${num(Math.abs(r.diffPct ?? 0), 3)}% ${(r.diffPct ?? 0) < 0 ? 'less' : 'more'} energy than base (Holm p=${num(pHolm, 2)})${est}`
          : `no significant difference (Holm p=${num(pHolm, 2)})${est}`;
    return { ...r, pHolm, significant, verdict };
  });
  const only = (from: Map<string, ScenarioReport>, other: Map<string, ScenarioReport>) =>
    [...from].filter(([k]) => !other.has(k)).map(([, s]) => ({ label: s.label, stratum: s.stratum }));
  const side = (m: ReportModel, path: string) => ({
    id: m.campaign.id,
    name: m.campaign.name,
    createdAt: m.campaign.createdAt,
    db: path,
    runs: m.totals.runs.succeeded,
    leftOut: m.excluded.runs,
  });
  return {
    schema: 'ffwatt-compare/1',
    generatedAt: (now ?? new Date()).toISOString(),
    base: side(a, dbs.base.path),
    test: side(b, dbs.test.path),
    basis: { energy: basis, note: basisNote },
    includeFlagged,
    alpha: ALPHA,
    matches,
    unmatched: { baseOnly: only(baseRows, testRows), testOnly: only(testRows, baseRows) },
    provenance: provenanceDifferences({ db: dbs.base.db, id: a.campaign.id }, { db: dbs.test.db, id: b.campaign.id }),
    notes: [
      'A match is the same scenario (same matrix key) on the same hardware class with the same energy kind in both campaigns; estimated energy is only matched with estimated energy.',
      "Welch's unequal-variance t-test per match (test vs base), Holm step-down correction over all tested matches; effect size Hedges' g.",
      includeFlagged
        ? '--include-flagged: flagged runs are counted; runs with a non-positive net energy are left out regardless.'
        : 'Runs flagged noisy_neighbour, thermal_drift, window-opened-after-stream-end, topology-suspect or idle-baseline-dirty, and runs with a non-positive net energy, are left out on both sides.',
      'Provenance lists every recorded field of the succeeded runs on both sides; "changed" fields are what differs between the campaigns and may explain a difference.',
    ],
  };
}
