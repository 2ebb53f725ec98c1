// Cost and CO2 per encoded hour from the measured energy and user-given prices.
import type { CostAssumptions, CostOptions, MetricKey, ScenarioCost, Stat } from '../core/report-model.ts';

export const COST_DEFAULTS = { pricePerKwh: 0.25, currency: 'EUR', carbonGramsPerKwh: 300, instanceCostPerHour: null } as const;

export function costAssumptions(given: CostOptions = {}): CostAssumptions {
  const defaulted: string[] = [];
  const pick = <K extends keyof CostOptions>(k: K): NonNullable<CostOptions[K]> | null => {
    const v = given[k];
    if (v === undefined) {
      if (COST_DEFAULTS[k] != null) defaulted.push(k);
      return COST_DEFAULTS[k] as NonNullable<CostOptions[K]> | null;
    }
    return v as NonNullable<CostOptions[K]> | null;
  };
  for (const k of ['pricePerKwh', 'carbonGramsPerKwh', 'instanceCostPerHour'] as const) {
    const v = given[k];
    if (v != null && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`cost.${k} must be a number >= 0 (got ${String(v)})`);
  }
  return {
    pricePerKwh: pick('pricePerKwh') as number,
    currency: pick('currency') as string,
    carbonGramsPerKwh: pick('carbonGramsPerKwh') as number,
    instanceCostPerHour: pick('instanceCostPerHour') as number | null,
    defaulted,
  };
}

export function scenarioCost(metrics: Record<MetricKey, Stat | null>, a: CostAssumptions): ScenarioCost {
  const jPerMin = metrics.jPerMin?.mean;
  const kwh = jPerMin == null ? null : (jPerMin * 60) / 3.6e6;
  const window = metrics.windowS?.mean ?? metrics.wallS?.mean;
  const media = metrics.mediaSeconds?.mean;
  const machineHoursPerEncodedHour = window != null && media ? window / media : null;
  return {
    kwhPerEncodedHour: kwh,
    energyCostPerEncodedHour: kwh == null ? null : kwh * a.pricePerKwh,
    co2GramsPerEncodedHour: kwh == null ? null : kwh * a.carbonGramsPerKwh,
    instanceCostPerEncodedHour: a.instanceCostPerHour == null || machineHoursPerEncodedHour == null ? null : machineHoursPerEncodedHour * a.instanceCostPerHour,
  };
}
