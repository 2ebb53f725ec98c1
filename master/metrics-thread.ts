// Runs in a worker thread: builds the master's /metrics text over its own read-only connection to
// the results database (WAL lets it read beside the writer), so the aggregate over the stored runs
// never runs on the event loop that serves claims and lease extensions.
import { parentPort, workerData } from 'node:worker_threads';
import type { CostConfig } from './metrics.ts';
import { masterMetricsFor } from './metrics-wiring.ts';
import { Store } from '../store/store.ts';

const { dbPath, cost } = workerData as { dbPath: string; cost: CostConfig };
const metrics = masterMetricsFor(Store.openReadOnly(dbPath), cost);

parentPort!.on('message', (id: number) => {
  metrics.metricsText().then(
    (text) => parentPort!.postMessage({ id, text }),
    (err: Error) => parentPort!.postMessage({ id, error: err.message }),
  );
});
