import type { RecentRun } from './metrics.ts';
import type { Store } from './store.ts';

/** Latest run per scenario and node (bounded label sets for the exporter), newest first. */
export function recentRunsForMetrics(store: Store, limit: number): RecentRun[] {
  return store.db
    .prepare(
      `SELECT r.job_id jobId, r.campaign_id campaignId, s.key scenarioKey, s.label scenarioLabel, s.codec codec,
              json_extract(r.provenance, '$.encoder') encoder, s.preset preset, r.node_id nodeId, r.energy_source source,
              r.gross_j grossJ, r.net_j netJ, r.j_per_encoded_minute jPerEncodedMinute, r.vmaf vmaf, r.psnr psnr, r.ssim ssim,
              r.quality_per_joule qualityPerJoule, r.wall_s wallS
         FROM run r JOIN scenario s ON s.id = r.scenario_id
        WHERE r.id IN (SELECT MAX(id) FROM run WHERE status = 'succeeded' GROUP BY scenario_id, node_id)
        ORDER BY r.id DESC LIMIT ?`,
    )
    .all(limit) as RecentRun[];
}
