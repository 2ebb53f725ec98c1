// The report model: everything a writer prints, computed once by summarize.ts.
// Plain JSON data (no classes, no Dates) so write-json can dump it as it is.
import type { MeterState } from './types.ts';
import type { Summary } from './stats.ts';
import type { EnergyKind } from './strata.ts';
import type { Cost, CostInput } from './cost.ts';

export type { EnergyKind } from './strata.ts';

export type Stat = Summary;
export type QualityMetric = 'vmaf' | 'psnr';
export type EnergyBasis = 'net' | 'gross';

export const METRIC_KEYS = [
  'jPerMin',
  'netJPerMin',
  'grossJ',
  'netJ',
  'avgW',
  'fps',
  'speed',
  'bitrateBps',
  'outputBytes',
  'mediaSeconds',
  'wallS',
  'windowS',
  'psnr',
  'ssim',
  'vmaf',
  'idleW',
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** Cost settings as given (core/cost.ts CostSchema: absent fields take COST_DEFAULTS). */
export type CostOptions = CostInput;

export type CostAssumptions = Cost & {
  /** Which of the figures above were defaults rather than given. */
  defaulted: string[];
};

/** One figure that priced some of a row's runs, and where it came from. */
export interface CostFigureUse {
  value: number;
  /** node: the node's own cost.* label (inventory); report: given to `ffwatt report`; default: COST_DEFAULTS. */
  from: 'node' | 'report' | 'default';
  runs: number;
}

/** Means over the row's counted runs, each run priced with its own node's figures. */
export interface ScenarioCost {
  /** kWh of gross measured energy per encoded hour. */
  kwhPerEncodedHour: number | null;
  energyCostPerEncodedHour: number | null;
  co2GramsPerEncodedHour: number | null;
  co2GramsPerEncodedMinute: number | null;
  /** Machine hours per encoded hour × instanceCostPerHour; null unless every run's node has an hourly price. */
  instanceCostPerEncodedHour: number | null;
  /** The figures used, per run count (an instance price absent everywhere: empty list). */
  figures: { pricePerKwh: CostFigureUse[]; carbonGramsPerKwh: CostFigureUse[]; instanceCostPerHour: CostFigureUse[] };
}

/**
 * One row of the report: the runs of one scenario on one hardware class with one energy kind
 * (measured, estimated, none). Statistics never pool rows of different classes or kinds.
 */
export interface ScenarioReport {
  /** Row id, unique in the report (1-based, ordered by scenario, then class, then kind). */
  id: number;
  /** Scenario id in the results database. */
  scenarioId: number;
  hardwareClass: string;
  energyKind: EnergyKind;
  /** "<class> · measured|ESTIMATE|no energy": the stratum this row's figures belong to. */
  stratum: string;
  key: string;
  label: string;
  mode: string;
  codec: string;
  encoder: string | null;
  preset: string;
  rate: { kind: string; value: number };
  rateLabel: string;
  streams: number;
  resolution: string;
  fps: number;
  /** Input description + resolution: what "same content" means for efficiency and comparisons. */
  content: string;
  runs: { succeeded: number; failed: number; canceled: number };
  repetitions: {
    min: number;
    max: number;
    ciTargetPct: number;
    ciHalfwidthPct: number | null;
    met: boolean;
    note: string;
  };
  metrics: Record<MetricKey, Stat | null>;
  /** Ranking-basis energy per encoded minute (net or gross, as model.basis says). */
  energy: Stat | null;
  /** Run counts per energy source over succeeded runs; 'none' = no energy figure. */
  energySources: Record<string, number>;
  /** True when any succeeded run's energy is an estimate: such rows are marked everywhere. */
  estimate: boolean;
  /** Short source text for tables, e.g. "rapl", "ESTIMATE". */
  sourceLabel: string;
  /** Validity flag -> number of counted succeeded runs carrying it. */
  flags: Record<string, number>;
  /** Succeeded runs left out of the statistics (flagged, or non-positive net energy) and the count per reason. */
  excluded: { runs: number; reasons: Record<string, number> };
  idleBaseline: { used: boolean; watts: Stat | null };
  /** Quality (model.qualityMetric) per (J per encoded minute) relative to the best of the same content, 0..1. */
  efficiency: number | null;
  cost: ScenarioCost;
  /** Figures that are missing and why (never shown as zero). */
  missing: string[];
}

export interface RankingRow {
  /** Rank within the stratum (hardware class and energy kind). */
  rank: number;
  rowId: number;
  hardwareClass: string;
  energyKind: EnergyKind;
  stratum: string;
  label: string;
  energy: Stat;
  sourceLabel: string;
  estimate: boolean;
  flags: string[];
  /** Means over the row's runs, each priced with its node's figures (row.cost). */
  energyCostPerEncodedHour: number | null;
  co2GramsPerEncodedMinute: number | null;
}

export interface ParetoPoint {
  rowId: number;
  label: string;
  energy: number;
  value: number;
  onFront: boolean;
  estimate: boolean;
}

export interface ParetoSet {
  /** What the y axis holds: 'vmaf' | 'psnr' | 'speed'. */
  metric: string;
  hardwareClass: string;
  energyKind: EnergyKind;
  stratum: string;
  points: ParetoPoint[];
}

export interface PairwiseTest {
  a: number;
  b: number;
  labelA: string;
  labelB: string;
  meanA: number;
  meanB: number;
  /** (meanA / meanB − 1) × 100 */
  diffPct: number;
  t: number;
  df: number;
  p: number;
  pHolm: number;
  significant: boolean;
  hedgesG: number | null;
  estimate: boolean;
  hardwareClass: string;
  energyKind: EnergyKind;
  verdict: string;
}

export interface RelativeFigure {
  rowId: number;
  hardwareClass: string;
  referenceId: number;
  label: string;
  referenceLabel: string;
  energyPct: number;
  energyHalfWidthPct: number | null;
  qualityDiff: number | null;
  qualityMetric: QualityMetric | null;
  estimate: boolean;
  text: string;
}

export interface CurvePoint {
  rowId: number;
  rateLabel: string;
  bitrateBps: number | null;
  energy: number | null;
  quality: number | null;
}

export interface RateCurve {
  /** Content group: mode, content, streams. */
  group: string;
  config: string;
  codec: string;
  encoder: string | null;
  preset: string;
  rateKind: string;
  estimate: boolean;
  hardwareClass: string;
  energyKind: EnergyKind;
  points: CurvePoint[];
  /** Bjøntegaard deltas against the group's anchor curve (needs ≥ 4 points on both). */
  bd: { anchor: string; bdRatePct: number | null; bdEnergyPct: number | null; reason: string | null } | null;
}

export interface Counted {
  value: string;
  runs: number;
}

export interface Provenance {
  ffmpegVersions: Counted[];
  cpuModels: Counted[];
  kernels: Counted[];
  gpus: Counted[];
  nodes: Counted[];
  hardwareClasses: Counted[];
  /** Meters named in the runs' provenance: `state` says in use, absent from the machine, or present but unusable. */
  meters: Array<{ meter: string; source: string; valid: boolean; state: MeterState; runs: number }>;
  idleBaselines: Array<{ nodeId: string; measuredAt: string; seconds: number; totalW: number; source: string }>;
}

/** One scenario's figures on every hardware class it ran on (machine comparison). */
export interface MachineComparison {
  scenarioId: number;
  label: string;
  rows: Array<{
    rowId: number;
    hardwareClass: string;
    energyKind: EnergyKind;
    stratum: string;
    energy: Stat | null;
    quality: Stat | null;
    speed: Stat | null;
    kwhPerEncodedHour: number | null;
    energyCostPerEncodedHour: number | null;
    instanceCostPerEncodedHour: number | null;
    co2GramsPerEncodedMinute: number | null;
    /** Where the row's prices came from (its nodes' labels, the report's figures or defaults). */
    costFigures: ScenarioCost['figures'];
  }>;
}

export interface StratumSummary {
  hardwareClass: string;
  energyKind: EnergyKind;
  stratum: string;
  scenarios: number;
  /** Succeeded runs counted in the statistics. */
  runs: number;
}

export interface ReportModel {
  schema: 'ffwatt-report/2';
  generatedAt: string;
  campaign: {
    id: string;
    name: string;
    createdAt: string;
    status: string;
    matrixHash: string;
    repetitions: { min: number; max: number; ciHalfwidthPct: number };
  };
  totals: { scenarios: number; runs: { succeeded: number; failed: number; canceled: number } };
  /** The strata (hardware class × energy kind) of this campaign; figures are only compared within one. */
  strata: StratumSummary[];
  /** Succeeded runs left out of the statistics, per row with their reasons. */
  excluded: {
    runs: number;
    includeFlagged: boolean;
    note: string;
    rows: Array<{ rowId: number; label: string; stratum: string; runs: number; reasons: Record<string, number> }>;
  };
  basis: { energy: EnergyBasis; note: string };
  qualityMetric: QualityMetric | null;
  scenarios: ScenarioReport[];
  ranking: RankingRow[];
  /** Pareto fronts per stratum. */
  pareto: Array<{
    hardwareClass: string;
    energyKind: EnergyKind;
    stratum: string;
    quality: ParetoSet | null;
    speed: ParetoSet | null;
  }>;
  comparisons: { metric: string; alpha: number; family: string; tests: PairwiseTest[]; note: string };
  reference: { codec: string; encoder: string | null; preset: string; chosenBy: string } | null;
  relative: RelativeFigure[];
  curves: RateCurve[];
  machineComparison: { qualityMetric: QualityMetric | null; note: string; scenarios: MachineComparison[] };
  cost: CostAssumptions;
  provenance: Provenance;
  notes: string[];
}
