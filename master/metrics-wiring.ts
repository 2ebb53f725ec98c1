import { createMasterMetrics, type MasterMetrics } from './metrics.ts';
import { COST_DEFAULTS, type CostInput } from '../core/cost.ts';
import { recentRunsForMetrics } from '../store/metrics-source.ts';
import type { Store } from '../store/store.ts';

/** The master exporter over a results store (used by the master service and by local mode). */
export function masterMetricsFor(store: Store, cost: CostInput = COST_DEFAULTS): MasterMetrics {
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
