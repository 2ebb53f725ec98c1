// Builds the ReportModel of one campaign from a results database.
import { existsSync } from 'node:fs';
import { openDatabase, type DB } from '../master/store.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/types.ts';
import { aggregateRuns, readProvenance, readScenarios, resolveCampaign, type CampaignInfo, type ScenarioAggregate, type ScenarioRow } from './read-db.ts';
import { chooseReference, efficiencyScores, pairwise, paretoFront, qualityOf, rank, rateCurves, relativeFigures, type ReferenceChoice } from './compare.ts';
import { costAssumptions, scenarioCost } from './cost.ts';
import { METRIC_KEYS, type CostOptions, type EnergyBasis, type MetricKey, type QualityMetric, type ReportModel, type ScenarioReport, type Stat } from './model.ts';
import { num } from './format.ts';

export interface SummarizeOptions {
  /** Path of the results database, or an open handle. */
  db: string | DB;
  /** Campaign to report; default the latest. */
  campaignId?: string;
  cost?: CostOptions;
  reference?: ReferenceChoice;
  /** Timestamp written into the report (tests pin it); default now. */
  now?: Date;
}

/** Opens a results database for reading; a missing file is bad input, not a new empty database. */
export function openResults(path: string): DB {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new InputError(`results database ${path} does not exist`, { file: path, fix: 'pass the results.sqlite written by `ffwatt run` (default results/ffwatt.sqlite), or a campaign id with --db PATH' });
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

function scenarioReport(row: ScenarioRow, agg: ScenarioAggregate | undefined, campaign: CampaignInfo): Omit<ScenarioReport, 'energy' | 'efficiency' | 'cost'> {
  const a: ScenarioAggregate = agg ?? {
    runs: { succeeded: 0, failed: 0, canceled: 0 },
    metrics: Object.fromEntries(METRIC_KEYS.map((k) => [k, null])) as Record<MetricKey, Stat | null>,
    energySources: {},
    flags: {},
  };
  const estimate = (a.energySources.estimate ?? 0) > 0;
  const sources = Object.keys(a.energySources).filter((s) => s !== 'none');
  const sourceLabel = estimate ? (sources.length > 1 ? `ESTIMATE (${sources.join('+')})` : 'ESTIMATE') : sources.length ? sources.join('+') : 'none';
  const missing: string[] = [];
  if (a.runs.succeeded === 0) missing.push('no succeeded run: no figures');
  else {
    if (a.energySources.none) missing.push(`${a.energySources.none} of ${a.runs.succeeded} succeeded runs have no energy figure`);
    if (!a.metrics.netJPerMin) missing.push('net energy: no idle baseline was applied');
    if (!a.metrics.vmaf) missing.push('VMAF: not scored');
    if (!a.metrics.psnr) missing.push('PSNR: not scored');
    if (!a.metrics.ssim) missing.push('SSIM: not scored');
  }
  const basis = a.metrics.netJPerMin ?? a.metrics.jPerMin;
  const halfPct = basis && basis.halfWidth != null && basis.mean !== 0 ? (basis.halfWidth / Math.abs(basis.mean)) * 100 : null;
  const { min, max, ciHalfwidthPct: target } = campaign.repetitions;
  const n = a.runs.succeeded;
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
    id: row.id,
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
    idleBaseline: { used: a.metrics.idleW != null && a.metrics.netJPerMin != null, watts: a.metrics.idleW },
    missing,
  };
}

export function buildModel(db: DB, dbPath: string, opts: Omit<SummarizeOptions, 'db'> = {}): ReportModel {
  const campaign = resolveCampaign(db, dbPath, opts.campaignId);
  const rows = readScenarios(db, campaign.id);
  const aggs = aggregateRuns(db, campaign.id);
  const partial = rows.map((r) => scenarioReport(r, aggs.get(r.id), campaign));

  const withEnergy = partial.filter((s) => s.metrics.jPerMin);
  const allNet = withEnergy.length > 0 && withEnergy.every((s) => s.metrics.netJPerMin && s.metrics.netJPerMin.n === s.metrics.jPerMin!.n);
  const basis: EnergyBasis = allNet ? 'net' : 'gross';
  const basisNote = allNet
    ? 'Ranked by net J per encoded minute (gross minus idle power × window).'
    : withEnergy.length === 0
      ? 'No run carries an energy figure: nothing is ranked.'
      : 'Ranked by GROSS J per encoded minute: not every run has an idle baseline, so net figures are not comparable across scenarios.';
  const withQuality = partial.filter((s) => s.metrics.vmaf || s.metrics.psnr);
  const qualityMetric: QualityMetric | null = withQuality.length === 0 ? null : withQuality.every((s) => s.metrics.vmaf) ? 'vmaf' : 'psnr';

  const cost = costAssumptions(opts.cost);
  const scenarios: ScenarioReport[] = partial.map((s) => {
    const energy = basis === 'net' ? s.metrics.netJPerMin : s.metrics.jPerMin;
    return { ...s, energy, efficiency: null, cost: scenarioCost(s.metrics, cost) };
  });
  const scores = new Map(efficiencyScores({ scenarios, qualityMetric }).map((e) => [e.scenarioId, e.score]));
  for (const s of scenarios) s.efficiency = scores.get(s.id) ?? null;

  const basisLabel = `${basis} J per encoded minute`;
  const reference = chooseReference(scenarios.filter((s) => s.energy), opts.reference);
  const totals = { succeeded: 0, failed: 0, canceled: 0 };
  for (const s of scenarios) for (const k of ['succeeded', 'failed', 'canceled'] as const) totals[k] += s.runs[k];

  return {
    schema: 'ffwatt-report/1',
    generatedAt: (opts.now ?? new Date()).toISOString(),
    campaign: {
      id: campaign.id,
      name: campaign.name,
      createdAt: new Date(campaign.createdAt).toISOString(),
      status: campaign.status,
      matrixHash: campaign.matrixHash,
      repetitions: campaign.repetitions,
    },
    totals: { scenarios: scenarios.length, runs: totals },
    basis: { energy: basis, note: basisNote },
    qualityMetric,
    scenarios,
    ranking: rank(scenarios),
    pareto: {
      quality: qualityMetric ? paretoFront(scenarios, qualityMetric, (s) => qualityOf(s, qualityMetric)) : null,
      speed: paretoFront(scenarios, 'speed', (s) => s.metrics.speed?.mean ?? null),
    },
    comparisons: pairwise(scenarios, basisLabel),
    reference,
    relative: relativeFigures(scenarios, reference, qualityMetric),
    curves: rateCurves(scenarios, reference, qualityMetric),
    cost,
    provenance: readProvenance(db, campaign.id),
    notes: methodNotes(basis, qualityMetric, cost),
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
    'Rows marked ESTIMATE have energy modelled from CPU time, not measured by a counter: compare them only with each other.',
    `Cost and CO2 per encoded hour use gross energy and these assumptions: ${cost.pricePerKwh} ${cost.currency}/kWh, ${cost.carbonGramsPerKwh} g CO2e/kWh, instance ${cost.instanceCostPerHour == null ? 'not priced' : `${cost.instanceCostPerHour} ${cost.currency}/h`}${cost.defaulted.length ? ` (defaults: ${cost.defaulted.join(', ')})` : ''}.`,
  ];
}
