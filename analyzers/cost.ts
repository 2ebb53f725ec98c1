// Cost and CO2 per encoded hour of a scenario, from its measured (gross) energy and the cost
// settings; defaults, validation and formulas are core/cost.ts.
import { COST_DEFAULTS, co2GramsOf, defaultedCostFields, energyCostOf, instanceCostOf, kwhOf, parseCost } from '../core/cost.ts';
import type { CostAssumptions, CostOptions, MetricKey, ScenarioCost, Stat } from '../core/report-model.ts';

export { COST_DEFAULTS };

export function costAssumptions(given: CostOptions = {}): CostAssumptions {
  return { ...parseCost(given), defaulted: defaultedCostFields(given) };
}

export function scenarioCost(metrics: Record<MetricKey, Stat | null>, a: CostAssumptions): ScenarioCost {
  const jPerMin = metrics.jPerMin?.mean;
  const jPerEncodedHour = jPerMin == null ? null : jPerMin * 60;
  const window = metrics.windowS?.mean ?? metrics.wallS?.mean;
  const media = metrics.mediaSeconds?.mean;
  // Machine seconds per encoded hour: measured window seconds / encoded media seconds × 3600.
  const machineSecondsPerEncodedHour = window != null && media ? (window / media) * 3600 : null;
  return {
    kwhPerEncodedHour: jPerEncodedHour == null ? null : kwhOf(jPerEncodedHour),
    energyCostPerEncodedHour: jPerEncodedHour == null ? null : energyCostOf(jPerEncodedHour, a),
    co2GramsPerEncodedHour: jPerEncodedHour == null ? null : co2GramsOf(jPerEncodedHour, a),
    instanceCostPerEncodedHour: machineSecondsPerEncodedHour == null ? null : instanceCostOf(machineSecondsPerEncodedHour, a),
  };
}
