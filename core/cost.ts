import { z } from 'zod';
import { InputError } from './errors.ts';

// Cost and carbon, defined once: the defaults, the one validator and the formulas. The master's
// config and exporter (docs/metrics.md) and the reports (docs/reports.md, "Cost and CO2 per
// encoded hour") all read this module; energy is gross (what the meters measured).

export const JOULES_PER_KWH = 3.6e6;

/**
 * Defaults, stated in every report as assumptions: 0.25 EUR/kWh and 300 g CO2e/kWh; no
 * instance price (null: instance cost is not computed, never priced at 0).
 */
export const COST_DEFAULTS = {
  pricePerKwh: 0.25,
  currency: 'EUR',
  carbonGramsPerKwh: 300,
  instanceCostPerHour: null,
} as const;

const figure = z
  .number({ invalid_type_error: 'must be a number >= 0' })
  .finite('must be a number >= 0')
  .nonnegative('must be a number >= 0');

export const CostSchema = z
  .object({
    /** Electricity price per kWh, in `currency`. */
    pricePerKwh: figure.default(COST_DEFAULTS.pricePerKwh),
    /** ISO 4217 code of the prices. */
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR or USD')
      .default(COST_DEFAULTS.currency),
    /** Grid carbon intensity, g CO2e per kWh. */
    carbonGramsPerKwh: figure.default(COST_DEFAULTS.carbonGramsPerKwh),
    /** Hourly price of one machine; null: instance cost not computed. */
    instanceCostPerHour: figure.nullable().default(COST_DEFAULTS.instanceCostPerHour),
  })
  .strict();
export type Cost = z.infer<typeof CostSchema>;
/** What a caller may give: any field may be left out (then the default applies). */
export type CostInput = z.input<typeof CostSchema>;

/** The settings with defaults filled in; a bad figure is an InputError naming `<where>.<field>`. */
export function parseCost(given: unknown = {}, where = 'cost'): Cost {
  const r = CostSchema.safeParse(given ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const field = `${where}.${i.path.join('.')}`;
  const got = i.path.length ? (given as Record<string, unknown>)[String(i.path[0])] : given;
  throw new InputError(`${field} ${i.message}, got ${JSON.stringify(got)}`, {
    field,
    fix: `set ${field} to a real figure (unknown is not allowed to pass as a price), or leave it out for the default`,
  });
}

/** The fields the caller left out, so reports can say which figures are defaults. */
export function defaultedCostFields(given: CostInput = {}): Array<keyof Cost> {
  return (Object.keys(COST_DEFAULTS) as Array<keyof Cost>).filter(
    (k) => given[k] === undefined && COST_DEFAULTS[k] != null,
  );
}

export const kwhOf = (joules: number): number => joules / JOULES_PER_KWH;
/** Energy cost of `joules` (gross), in the cost's currency. */
export const energyCostOf = (joules: number, cost: Pick<Cost, 'pricePerKwh'>): number =>
  kwhOf(joules) * cost.pricePerKwh;
/** Grams of CO2e of `joules` (gross). */
export const co2GramsOf = (joules: number, cost: Pick<Cost, 'carbonGramsPerKwh'>): number =>
  kwhOf(joules) * cost.carbonGramsPerKwh;
/** Machine cost of `seconds` of machine time; null without an hourly price. */
export const instanceCostOf = (seconds: number, cost: Pick<Cost, 'instanceCostPerHour'>): number | null =>
  cost.instanceCostPerHour == null ? null : (seconds / 3600) * cost.instanceCostPerHour;
