// Cost and CO2 per encoded hour from the measured energy and the prices (defaults, validation
// and the per-joule formulas are core/cost.ts; reports and the master's metrics call encodedCost). Each run is priced with its
// own node's figures (node labels cost.*: core/node-cost.ts); a figure the node lacks is the
// report's (--price-per-kwh …) or the default, and the report says which.
import {
  COST_DEFAULTS,
  co2GramsOf,
  defaultedCostFields,
  energyCostOf,
  instanceCostOf,
  kwhOf,
  parseCost,
} from '../core/cost.ts';
import type { NodeCostFigures } from '../core/node-cost.ts';
import type {
  CostAssumptions,
  CostFigureUse,
  CostOptions,
  MetricKey,
  ScenarioCost,
  Stat,
} from '../core/report-model.ts';

export { COST_DEFAULTS };

export function costAssumptions(given: CostOptions = {}): CostAssumptions {
  return { ...parseCost(given), defaulted: defaultedCostFields(given) };
}

/** What one run (or the mean of runs) did: gross J per encoded minute, machine seconds and media seconds. */
export interface EncodedWork {
  jPerEncodedMinute: number | null | undefined;
  /** Seconds the machine was held (measured window, else wall time). */
  machineSeconds: number | null | undefined;
  mediaSeconds: number | null | undefined;
}

export interface Prices {
  pricePerKwh: number;
  carbonGramsPerKwh: number;
  /** null: the machine is not priced. */
  instanceCostPerHour: number | null;
}

export type EncodedCost = Omit<ScenarioCost, 'figures'>;

/** The cost formulas (all per encoded hour of media, CO2 also per encoded minute); null where an input is missing. */
export function encodedCost(w: EncodedWork, p: Prices): EncodedCost {
  const jPerHour = w.jPerEncodedMinute == null ? null : w.jPerEncodedMinute * 60;
  // Machine seconds per encoded hour: seconds the machine was held / encoded media seconds × 3600.
  const machineSecondsPerEncodedHour =
    w.machineSeconds != null && w.mediaSeconds ? (w.machineSeconds / w.mediaSeconds) * 3600 : null;
  const co2PerHour = jPerHour == null ? null : co2GramsOf(jPerHour, p);
  return {
    kwhPerEncodedHour: jPerHour == null ? null : kwhOf(jPerHour),
    energyCostPerEncodedHour: jPerHour == null ? null : energyCostOf(jPerHour, p),
    co2GramsPerEncodedHour: co2PerHour,
    co2GramsPerEncodedMinute: co2PerHour == null ? null : co2PerHour / 60,
    instanceCostPerEncodedHour:
      machineSecondsPerEncodedHour == null ? null : instanceCostOf(machineSecondsPerEncodedHour, p),
  };
}

/** The counted runs of one report row on one node: their node's figures and the means of what they did. */
export interface NodeRuns extends EncodedWork {
  nodeId: string;
  runs: number;
  figures: NodeCostFigures;
}

const FIGURES = ['pricePerKwh', 'carbonGramsPerKwh', 'instanceCostPerHour'] as const;

/**
 * Cost of a report row: each node's runs priced with that node's figures (falling back to
 * the report's, labelled default when they are defaults), then the run-weighted mean. A
 * figure that some runs lack (an instance price on only some nodes) is null, not a partial mean.
 */
export function rowCost(nodes: NodeRuns[], a: CostAssumptions): ScenarioCost {
  const figures: ScenarioCost['figures'] = { pricePerKwh: [], carbonGramsPerKwh: [], instanceCostPerHour: [] };
  const use = (k: (typeof FIGURES)[number], value: number | null, from: CostFigureUse['from'], runs: number) => {
    if (value == null) return;
    const have = figures[k].find((f) => f.value === value && f.from === from);
    if (have) have.runs += runs;
    else figures[k].push({ value, from, runs });
  };
  const sums: Record<keyof EncodedCost, { sum: number; runs: number }> = {
    kwhPerEncodedHour: { sum: 0, runs: 0 },
    energyCostPerEncodedHour: { sum: 0, runs: 0 },
    co2GramsPerEncodedHour: { sum: 0, runs: 0 },
    co2GramsPerEncodedMinute: { sum: 0, runs: 0 },
    instanceCostPerEncodedHour: { sum: 0, runs: 0 },
  };
  let total = 0;
  for (const n of nodes) {
    const prices = {} as Prices;
    for (const k of FIGURES) {
      const own = n.figures[k];
      prices[k] = (own ?? a[k]) as number;
      use(
        k,
        prices[k],
        own != null
          ? 'node'
          : a.defaulted.includes(k) || (k === 'instanceCostPerHour' && a[k] == null)
            ? 'default'
            : 'report',
        n.runs,
      );
    }
    total += n.runs;
    const c = encodedCost(n, prices);
    for (const k of Object.keys(sums) as Array<keyof EncodedCost>) {
      const v = c[k];
      if (v != null) {
        sums[k].sum += v * n.runs;
        sums[k].runs += n.runs;
      }
    }
  }
  const mean = (k: keyof EncodedCost) => (total > 0 && sums[k].runs === total ? sums[k].sum / total : null);
  return {
    kwhPerEncodedHour: mean('kwhPerEncodedHour'),
    energyCostPerEncodedHour: mean('energyCostPerEncodedHour'),
    co2GramsPerEncodedHour: mean('co2GramsPerEncodedHour'),
    co2GramsPerEncodedMinute: mean('co2GramsPerEncodedMinute'),
    instanceCostPerEncodedHour: mean('instanceCostPerEncodedHour'),
    figures,
  };
}

/** Cost of a row whose runs carry no node figures: the report's assumptions on the row's means. */
export function scenarioCost(metrics: Record<MetricKey, Stat | null>, a: CostAssumptions): ScenarioCost {
  const runs = metrics.jPerMin?.n ?? metrics.wallS?.n ?? 0;
  if (runs === 0) return rowCost([], a);
  return rowCost(
    [
      {
        nodeId: '',
        runs,
        figures: {},
        jPerEncodedMinute: metrics.jPerMin?.mean,
        machineSeconds: metrics.windowS?.mean ?? metrics.wallS?.mean,
        mediaSeconds: metrics.mediaSeconds?.mean,
      },
    ],
    a,
  );
}

/** "0.31 EUR/kWh (node)" etc.: which figures priced a row, for the writers. */
export function figuresText(figures: ScenarioCost['figures'], currency: string): string {
  const part = (k: (typeof FIGURES)[number], unit: string) =>
    figures[k].map((f) => `${f.value} ${unit} (${f.from}${figures[k].length > 1 ? `, ${f.runs} runs` : ''})`);
  const instance = part('instanceCostPerHour', `${currency}/h`);
  return [
    ...part('pricePerKwh', `${currency}/kWh`),
    ...part('carbonGramsPerKwh', 'g CO2e/kWh'),
    ...(instance.length ? instance : ['instance not priced']),
  ].join(' · ');
}
