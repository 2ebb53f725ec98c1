import { createMasterMetrics, type CostConfig, type MasterMetrics } from './metrics.ts';
import { recentRunsForMetrics } from '../store/metrics-source.ts';
import type { Store } from '../store/store.ts';

export const DEFAULT_COST: CostConfig = { pricePerKwh: 0.25, currency: 'EUR', carbonGramsPerKwh: 300, instanceCostPerHour: 0 };

/** The master exporter over a results store (used by the master service and by local mode). */
export function masterMetricsFor(store: Store, cost: CostConfig = DEFAULT_COST): MasterMetrics {
  return createMasterMetrics(
    {
      jobCountsByState: () => store.jobCountsByState(),
      queueLengthByClass: () => store.queueLengthByClass(),
      nodeCountsByState: () => store.nodeCountsByState(),
      recentRuns: (limit: number) => recentRunsForMetrics(store, limit),
    },
    cost,
  );
}
