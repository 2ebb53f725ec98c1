// Builds the ReportModel of one campaign from a results database.
import { existsSync } from 'node:fs';
import { openDatabase, type DB } from '../store/store.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/types.ts';
import {
  cellKey,
  emptyCell,
  readCampaignRuns,
  readScenarios,
  resolveCampaign,
  type CampaignInfo,
  type CampaignRuns,
  type CellAggregate,
  type ScenarioRow,
} from '../store/read-db.ts';
import {
  chooseReference,
  efficiencyScores,
  pairwise,
  paretoFront,
  qualityOf,
  rank,
  rateCurves,
  relativeFigures,
  strataOf,
  type ReferenceChoice,
} from './compare.ts';
import { costAssumptions, rowCost } from './cost.ts';
import type {
  CostOptions,
  EnergyBasis,
  MachineComparison,
  QualityMetric,
  ReportModel,
  ScenarioReport,
} from '../core/report-model.ts';
import { num } from './format.ts';
import { EXCLUDING_FLAGS, KIND_ORDER, NET_NONPOSITIVE, UNCLASSIFIED, stratumLabel } from '../core/strata.ts';
import { RUN_STATUSES } from '../core/contracts/lists.ts';

export interface SummarizeOptions {
  /** Path of the results database, or an open handle. */
  db: string | DB;
  /** Campaign to report; default the latest. */
  campaignId?: string;
  cost?: CostOptions;
  reference?: ReferenceChoice;
  /** Keep flagged runs (noisy neighbour, thermal drift, …) in the statistics; a non-positive net figure stays out regardless. Default false. */
  includeFlagged?: boolean;
  /** Timestamp written into the report (tests pin it); default now. */
  now?: Date;
}

/** Opens a results database for reading; a missing file is bad input, not a new empty database. */
export function openResults(path: string): DB {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new InputError(`results database ${path} does not exist`, {
      file: path,
      fix: 'pass the results.sqlite written by `ffwatt run` (default results/ffwatt.sqlite), or a campaign id with --db PATH',
    });
  }
  try {
    return openDatabase(path);
  } catch (err) {
    throw new InputError(`${path} is not a usable ffwatt results database: ${(err as Error).message}`, { file: path });
  }
}

export function summarize(opts: SummarizeOptions): ReportModel {
  const own = typeof opts.db === 'string';
  const db = typeof opts.db === 'string' ? openResults(opts.db) : opts.db;
  try {
    return buildModel(db, typeof opts.db === 'string' ? opts.db : (db.name ?? 'database'), opts);
  } finally {
    if (own) db.close();
  }
}

function inputDescription(spec: Scenario): string {
  const i = spec.input;
  if (!i) return 'unknown input';
  return i.kind === 'synthetic' ? `${i.source}@${i.fps}` : `${i.path}@${i.fps}`;
}

function rateLabel(kind: string, value: number): string {
  if (kind === 'crf') return `crf${value}`;
  if (value >= 1e6) return `${Number((value / 1e6).toPrecision(4))}M`;
  if (value >= 1e3) return `${Number((value / 1e3).toPrecision(4))}k`;
  return `${value}bps`;
}

function scenarioReport(
  rowId: number,
  row: ScenarioRow,
  a: CellAggregate,
  campaign: CampaignInfo,
): Omit<ScenarioReport, 'energy' | 'efficiency' | 'cost'> {
  const estimate = a.energyKind === 'estimated';
  const sources = Object.keys(a.energySources).filter((s) => s !== 'none');
  const sourceLabel = estimate
    ? sources.length && sources.join() !== 'estimate'
      ? `ESTIMATE (${sources.join('+')})`
      : 'ESTIMATE'
    : sources.length
      ? sources.join('+')
      : 'none';
  const missing: string[] = [];
  const counted = a.runs.succeeded - a.excluded.runs;
  if (a.runs.succeeded === 0) missing.push('no succeeded run: no figures');
  else if (counted === 0)
    missing.push(
      `all ${a.runs.succeeded} succeeded runs left out (${Object.keys(a.excluded.reasons).join(', ')}): no figures`,
    );
  else {
    if (a.energyKind === 'none') missing.push('energy: no meter gave a figure for these runs');
    if (!a.metrics.netJPerMin) missing.push('net energy: no idle baseline was applied');
    if (!a.metrics.vmaf) missing.push('VMAF: not scored');
    if (!a.metrics.psnr) missing.push('PSNR: not scored');
    if (!a.metrics.ssim) missing.push('SSIM: not scored');
  }
  const basis = a.metrics.netJPerMin ?? a.metrics.jPerMin;
  const halfPct =
    basis && basis.halfWidth != null && basis.mean !== 0 ? (basis.halfWidth / Math.abs(basis.mean)) * 100 : null;
  const { min, max, ciHalfwidthPct: target } = campaign.repetitions;
  const n = counted;
  const met = n >= min && halfPct != null && halfPct <= target;
  const note =
    n < min
      ? `${n} of at least ${min} runs`
      : halfPct == null
        ? `CI not computable with ${n} run${n === 1 ? '' : 's'}`
        : met
          ? `CI ±${num(halfPct, 2)}% ≤ ${target}% with ${n} runs`
          : `CI ±${num(halfPct, 2)}% > ${target}% target with ${n} runs${n >= max ? ` (cap ${max} reached)` : ''}`;
  return {
    id: rowId,
    scenarioId: row.id,
    hardwareClass: a.hardwareClass,
    energyKind: a.energyKind,
    stratum: stratumLabel(a.hardwareClass, a.energyKind),
    key: row.key,
    label: row.label,
    mode: row.mode,
    codec: row.codec,
    encoder: row.encoder,
    preset: row.preset,
    rate: { kind: row.rateKind, value: row.rateValue },
    rateLabel: rateLabel(row.rateKind, row.rateValue),
    streams: row.streams,
    resolution: `${row.width}x${row.height}`,
    fps: row.fps,
    content: `${inputDescription(row.spec)} ${row.width}x${row.height}`,
    runs: a.runs,
    repetitions: { min, max, ciTargetPct: target, ciHalfwidthPct: halfPct, met, note },
    metrics: a.metrics,
    energySources: a.energySources,
    estimate,
    sourceLabel,
    flags: a.flags,
    excluded: a.excluded,
    idleBaseline: { used: a.metrics.idleW != null && a.metrics.netJPerMin != null, watts: a.metrics.idleW },
    missing,
  };
}

export function buildModel(db: DB, dbPath: string, opts: Omit<SummarizeOptions, 'db'> = {}): ReportModel {
  const campaign = resolveCampaign(db, dbPath, opts.campaignId);
  const rows = readScenarios(db, campaign.id);
  const includeFlagged = opts.includeFlagged ?? false;
  const runs = readCampaignRuns(db, campaign.id, { includeFlagged });
  return modelOf(campaign, rows, includeFlagged, runs, opts);
}

function modelOf(
  campaign: CampaignInfo,
  rows: ScenarioRow[],
  includeFlagged: boolean,
  runs: CampaignRuns,
  opts: Omit<SummarizeOptions, 'db'>,
): ReportModel {
  const byScenario = new Map<number, CellAggregate[]>();
  for (const a of runs.cells.values())
    (byScenario.get(a.scenarioId) ?? byScenario.set(a.scenarioId, []).get(a.scenarioId)!).push(a);
  const partial: Array<Omit<ScenarioReport, 'energy' | 'efficiency' | 'cost'>> = [];
  for (const r of rows) {
    const cells = (byScenario.get(r.id) ?? []).sort(
      (a, b) =>
        (a.hardwareClass < b.hardwareClass ? -1 : a.hardwareClass > b.hardwareClass ? 1 : 0) ||
        KIND_ORDER[a.energyKind] - KIND_ORDER[b.energyKind],
    );
    for (const c of cells.length ? cells : [emptyCell(r.id, UNCLASSIFIED, 'none')])
      partial.push(scenarioReport(partial.length + 1, r, c, campaign));
  }

  const withEnergy = partial.filter((s) => s.metrics.jPerMin);
  const allNet =
    withEnergy.length > 0 &&
    withEnergy.every((s) => s.metrics.netJPerMin && s.metrics.netJPerMin.n === s.metrics.jPerMin!.n);
  const basis: EnergyBasis = allNet ? 'net' : 'gross';
  const basisNote = allNet
    ? 'Ranked by net J per encoded minute (gross minus idle power × window).'
    : withEnergy.length === 0
      ? 'No run carries an energy figure: nothing is ranked.'
      : 'Ranked by GROSS J per encoded minute: not every run has an idle baseline, so net figures are not comparable across scenarios.';
  const withQuality = partial.filter((s) => s.metrics.vmaf || s.metrics.psnr);
  const qualityMetric: QualityMetric | null =
    withQuality.length === 0 ? null : withQuality.every((s) => s.metrics.vmaf) ? 'vmaf' : 'psnr';

  const cost = costAssumptions(opts.cost);
  const scenarios: ScenarioReport[] = partial.map((s) => {
    const energy = basis === 'net' ? s.metrics.netJPerMin : s.metrics.jPerMin;
    return {
      ...s,
      energy,
      efficiency: null,
      cost: rowCost(runs.nodeRuns.get(cellKey(s.scenarioId, s.hardwareClass, s.energyKind)) ?? [], cost),
    };
  });
  const scores = new Map(efficiencyScores({ scenarios, qualityMetric }).map((e) => [e.rowId, e.score]));
  for (const s of scenarios) s.efficiency = scores.get(s.id) ?? null;

  const basisLabel = `${basis} J per encoded minute`;
  const reference = chooseReference(
    scenarios.filter((s) => s.energy),
    opts.reference,
  );
  const totals = { succeeded: 0, failed: 0, canceled: 0 };
  for (const s of scenarios) for (const k of RUN_STATUSES) totals[k] += s.runs[k];
  const strata = strataOf(scenarios);
  const excludedRows = scenarios.filter((s) => s.excluded.runs > 0);
  const excludedRuns = excludedRows.reduce((n, s) => n + s.excluded.runs, 0);

  return {
    schema: 'ffwatt-report/2',
    generatedAt: (opts.now ?? new Date()).toISOString(),
    campaign: {
      id: campaign.id,
      name: campaign.name,
      createdAt: new Date(campaign.createdAt).toISOString(),
      status: campaign.status,
      matrixHash: campaign.matrixHash,
      repetitions: campaign.repetitions,
    },
    totals: { scenarios: rows.length, runs: totals },
    strata: strata.map((st) => ({
      hardwareClass: st.hardwareClass,
      energyKind: st.energyKind,
      stratum: stratumLabel(st.hardwareClass, st.energyKind),
      scenarios: new Set(st.rows.map((r) => r.scenarioId)).size,
      runs: st.rows.reduce((n, r) => n + r.runs.succeeded - r.excluded.runs, 0),
    })),
    excluded: {
      runs: excludedRuns,
      includeFlagged,
      note: excludedNote(excludedRuns, includeFlagged),
      rows: excludedRows.map((s) => ({
        rowId: s.id,
        label: s.label,
        stratum: s.stratum,
        runs: s.excluded.runs,
        reasons: s.excluded.reasons,
      })),
    },
    basis: { energy: basis, note: basisNote },
    qualityMetric,
    scenarios,
    ranking: rank(scenarios),
    pareto: strata
      .filter((st) => st.energyKind !== 'none')
      .map((st) => ({
        hardwareClass: st.hardwareClass,
        energyKind: st.energyKind,
        stratum: stratumLabel(st.hardwareClass, st.energyKind),
        quality: qualityMetric ? paretoFront(st.rows, qualityMetric, (s) => qualityOf(s, qualityMetric)) : null,
        speed: paretoFront(st.rows, 'speed', (s) => s.metrics.speed?.mean ?? null),
      }))
      .filter((p) => p.quality || p.speed),
    comparisons: pairwise(scenarios, basisLabel),
    reference,
    relative: relativeFigures(scenarios, reference, qualityMetric),
    curves: rateCurves(scenarios, reference, qualityMetric),
    machineComparison: machineComparison(scenarios, qualityMetric),
    cost,
    provenance: runs.provenance,
    notes: methodNotes(basis, qualityMetric, cost),
  };
}

function excludedNote(runs: number, includeFlagged: boolean): string {
  const flags = EXCLUDING_FLAGS.join(', ');
  if (includeFlagged) {
    return `--include-flagged: runs flagged ${flags} are counted in the statistics; ${runs} run${runs === 1 ? '' : 's'} with a non-positive net energy (${NET_NONPOSITIVE}) left out regardless.`;
  }
  return runs === 0
    ? `No run was left out: none is flagged ${flags} or has a non-positive net energy.`
    : `${runs} succeeded run${runs === 1 ? ' was' : 's were'} left out of means, intervals, rankings and tests: flagged ${flags}, or with a non-positive net energy (${NET_NONPOSITIVE}). --include-flagged counts the flagged ones.`;
}

/** Scenarios that ran on two or more hardware classes: their figures side by side, one row per class (and energy kind). */
function machineComparison(
  scenarios: ScenarioReport[],
  qualityMetric: QualityMetric | null,
): ReportModel['machineComparison'] {
  const byScenario = new Map<number, ScenarioReport[]>();
  for (const s of scenarios)
    if (s.runs.succeeded > s.excluded.runs)
      (byScenario.get(s.scenarioId) ?? byScenario.set(s.scenarioId, []).get(s.scenarioId)!).push(s);
  const out: MachineComparison[] = [];
  for (const [scenarioId, rows] of byScenario) {
    if (new Set(rows.map((r) => r.hardwareClass)).size < 2) continue;
    out.push({
      scenarioId,
      label: rows[0].label,
      rows: rows.map((r) => ({
        rowId: r.id,
        hardwareClass: r.hardwareClass,
        energyKind: r.energyKind,
        stratum: r.stratum,
        energy: r.energy,
        quality: qualityMetric ? r.metrics[qualityMetric] : null,
        speed: r.metrics.speed,
        kwhPerEncodedHour: r.cost.kwhPerEncodedHour,
        energyCostPerEncodedHour: r.cost.energyCostPerEncodedHour,
        instanceCostPerEncodedHour: r.cost.instanceCostPerEncodedHour,
        co2GramsPerEncodedMinute: r.cost.co2GramsPerEncodedMinute,
        costFigures: r.cost.figures,
      })),
    });
  }
  const classes = new Set(scenarios.map((s) => s.hardwareClass)).size;
  return {
    qualityMetric,
    note:
      out.length > 0
        ? 'The same scenario on each hardware class that ran it. Side by side for reading only: each figure belongs to its class; no statistic pools classes. An ESTIMATE row is not a measurement.'
        : classes < 2
          ? 'All runs of this campaign come from one hardware class: nothing to compare across machines.'
          : 'No scenario ran on two or more hardware classes.',
    scenarios: out,
  };
}

function methodNotes(basis: EnergyBasis, metric: QualityMetric | null, cost: ReportModel['cost']): string[] {
  return [
    'Only succeeded runs enter the statistics; failed and canceled attempts are counted beside them.',
    'Energy per encoded minute = energy of the measured window / (media seconds of all streams / 60). Net = gross − idle W × window seconds.',
    `Energy basis for ranking, comparisons and charts: ${basis}.`,
    'Intervals are two-sided 95% Student-t intervals of the mean over repetitions (t quantile from the regularized incomplete beta).',
    "Pairwise comparisons: Welch's unequal-variance t-test (Welch–Satterthwaite df), Holm step-down correction over the family, effect size Hedges' g.",
    'Relative figures: ratio of means against the reference configuration doing the same work; ± is a 95% delta-method interval.',
    `Quality metric for Pareto, efficiency and curves: ${metric ? metric.toUpperCase() : 'none (no run was scored)'}; mean over runs of the main output.`,
    'BD-rate / BD-energy: PCHIP of log(bitrate) and log(energy) over quality, integrated over the overlapping quality range (needs ≥ 4 rates per curve).',
    'Every row is one scenario on one hardware class with one energy kind. Rankings, Welch tests, Pareto fronts, BD curves and efficiency compare rows of one stratum (class × kind) only: classes are never pooled, and ESTIMATE rows (energy modelled per logical CPU, alone or added to a measured GPU: source estimate or mixed) are never ranked or tested beside measured ones, because a model error is not a measurement difference.',
    'Runs flagged noisy_neighbour, thermal_drift, window-opened-after-stream-end, topology-suspect or idle-baseline-dirty are left out of the statistics unless --include-flagged is given; a run with a zero or negative net energy is always left out. They are counted under "Left out".',
    `Cost and CO2 per encoded hour (CO2 also per encoded minute) use gross energy; each run is priced with its own node's figures (node labels cost.price_per_kwh, cost.carbon_g_per_kwh, cost.instance_per_hour, from the inventory), and a figure the node lacks is the report's: ${cost.pricePerKwh} ${cost.currency}/kWh, ${cost.carbonGramsPerKwh} g CO2e/kWh, instance ${cost.instanceCostPerHour == null ? 'not priced' : `${cost.instanceCostPerHour} ${cost.currency}/h`}${cost.defaulted.length ? ` (defaults: ${cost.defaulted.join(', ')})` : ''}. Each row says which figures priced it (node, report or default); rows of different classes are never averaged.`,
  ];
}
