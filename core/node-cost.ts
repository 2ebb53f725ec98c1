// A node's own cost and carbon figures, carried as node labels `cost.<name>=<number>` (the
// worker role writes them from the inventory: docs/deploy.md). Reports and the master's
// metrics price each run with its node's figures; a figure the node lacks falls back to the
// report's or the master's, named as such (docs/reports.md).
import { InputError } from './errors.ts';

export interface NodeCostFigures {
  /** Electricity price per kWh, in the currency of the report / master. */
  pricePerKwh?: number;
  /** Carbon intensity of the node's electricity, g CO2e per kWh. */
  carbonGramsPerKwh?: number;
  /** Price of the machine per hour, in the currency of the report / master. */
  instanceCostPerHour?: number;
}

/** Label name of each figure (the worker role's ffwatt_electricity_price_per_kwh, ffwatt_carbon_grams_per_kwh, ffwatt_instance_cost_per_hour). */
export const COST_LABELS = {
  pricePerKwh: 'cost.price_per_kwh',
  carbonGramsPerKwh: 'cost.carbon_g_per_kwh',
  instanceCostPerHour: 'cost.instance_per_hour',
} as const satisfies Record<keyof NodeCostFigures, string>;

const BY_LABEL = new Map<string, keyof NodeCostFigures>(
  Object.entries(COST_LABELS).map(([field, label]) => [label, field as keyof NodeCostFigures]),
);

/**
 * The cost figures among a node's labels. A `cost.` label with another name or a value that
 * is not a number >= 0 is an InputError naming it (`where` says whose labels they are).
 */
export function nodeCostFigures(labels: readonly string[], where = '--label'): NodeCostFigures {
  const out: NodeCostFigures = {};
  for (const label of labels) {
    if (!label.startsWith('cost.')) continue;
    const eq = label.indexOf('=');
    const name = eq < 0 ? label : label.slice(0, eq);
    const field = BY_LABEL.get(name);
    if (!field) {
      throw new InputError(`${where}: unknown cost label "${name}"`, {
        field: where,
        fix: `use one of ${Object.values(COST_LABELS).join(', ')} (as name=number)`,
      });
    }
    const text = eq < 0 ? '' : label.slice(eq + 1).trim();
    const value = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value) || value < 0) {
      throw new InputError(`${where}: ${name} must be a number >= 0, got ${JSON.stringify(text)}`, {
        field: where,
        fix: `write it as ${name}=0.31 (a price in the master's currency, or g CO2e per kWh)`,
      });
    }
    out[field] = value;
  }
  return out;
}
