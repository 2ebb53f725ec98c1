// CSV writer: one row per scenario × hardware class × energy kind (rank is within that stratum), RFC 4180 quoting, fixed column order, empty cell = missing.
import { figuresText } from './cost.ts';
import { METRIC_KEYS, type ReportModel, type ScenarioReport } from '../core/report-model.ts';
import { round } from './format.ts';

type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
  if (v == null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(round(v)) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const METRIC_COLUMNS = METRIC_KEYS.flatMap((k) => [`${k}_n`, `${k}_mean`, `${k}_sd`, `${k}_ci_low`, `${k}_ci_high`]);

export const CSV_COLUMNS = [
  'campaign_id',
  'scenario_id',
  'label',
  'mode',
  'codec',
  'encoder',
  'preset',
  'rate_kind',
  'rate_value',
  'streams',
  'resolution',
  'fps',
  'content',
  'hardware_class',
  'energy_kind',
  'runs_succeeded',
  'runs_failed',
  'runs_canceled',
  'runs_left_out',
  'left_out_reasons',
  'repetitions_min',
  'repetitions_max',
  'ci_target_pct',
  'ci_halfwidth_pct',
  'ci_target_met',
  'energy_source',
  'estimate',
  'energy_basis',
  'energy_mean',
  'energy_ci_low',
  'energy_ci_high',
  'rank',
  'efficiency',
  'idle_baseline_used',
  ...METRIC_COLUMNS,
  'kwh_per_encoded_hour',
  'energy_cost_per_encoded_hour',
  'co2_grams_per_encoded_hour',
  'co2_grams_per_encoded_minute',
  'instance_cost_per_encoded_hour',
  'currency',
  'cost_priced_with',
  'flags',
  'missing',
] as const;

function row(model: ReportModel, s: ScenarioReport, rankOf: Map<number, number>): Cell[] {
  const metricCells = METRIC_KEYS.flatMap((k) => {
    const m = s.metrics[k];
    return [m?.n ?? 0, m?.mean, m?.sd, m?.low, m?.high];
  });
  return [
    model.campaign.id,
    s.id,
    s.label,
    s.mode,
    s.codec,
    s.encoder,
    s.preset,
    s.rate.kind,
    s.rate.value,
    s.streams,
    s.resolution,
    s.fps,
    s.content,
    s.hardwareClass,
    s.energyKind,
    s.runs.succeeded,
    s.runs.failed,
    s.runs.canceled,
    s.excluded.runs,
    Object.entries(s.excluded.reasons)
      .map(([f, n]) => `${f}:${n}`)
      .join(';'),
    s.repetitions.min,
    s.repetitions.max,
    s.repetitions.ciTargetPct,
    s.repetitions.ciHalfwidthPct,
    s.repetitions.met,
    s.estimate
      ? `estimate` + (s.sourceLabel.includes('(') ? ` ${s.sourceLabel.slice(s.sourceLabel.indexOf('('))}` : '')
      : s.sourceLabel,
    s.estimate,
    model.basis.energy,
    s.energy?.mean,
    s.energy?.low,
    s.energy?.high,
    rankOf.get(s.id),
    s.efficiency,
    s.idleBaseline.used,
    ...metricCells,
    s.cost.kwhPerEncodedHour,
    s.cost.energyCostPerEncodedHour,
    s.cost.co2GramsPerEncodedHour,
    s.cost.co2GramsPerEncodedMinute,
    s.cost.instanceCostPerEncodedHour,
    model.cost.currency,
    figuresText(s.cost.figures, model.cost.currency),
    Object.entries(s.flags)
      .map(([f, n]) => `${f}:${n}`)
      .join(';'),
    s.missing.join('; '),
  ];
}

export function renderCsv(model: ReportModel): string {
  const rankOf = new Map(model.ranking.map((r) => [r.rowId, r.rank]));
  const lines = [CSV_COLUMNS.join(',')];
  for (const s of model.scenarios) lines.push(row(model, s, rankOf).map(cell).join(','));
  return lines.join('\r\n') + '\r\n';
}
