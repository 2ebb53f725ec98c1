import type { EnergySource } from '../core/types.ts';
import type { Store } from './store.ts';

/** One run as the master's exporter labels it. */
export interface RecentRun {
  jobId: string;
  campaignId: string;
  scenarioKey: string;
  scenarioLabel: string;
  codec: string;
  encoder: string;
  preset: string;
  nodeId: string;
  /** Energy source of the run; 'estimate' and 'mixed' are exported as such, never as measured. */
  source: EnergySource | 'mixed' | null;
  grossJ: number | null;
  netJ: number | null;
  jPerEncodedMinute: number | null;
  vmaf: number | null;
  psnr: number | null;
  ssim: number | null;
  qualityPerJoule: number | null;
  /** Quality per J/encoded minute relative to the best run of the same content, resolution and energy source (0..1]. */
  efficiency?: number | null;
  /** Wall seconds of the run; needed for the instance cost (absent = no instance cost series). */
  wallS?: number | null;
  /** Hardware class of the node (provenance.hardwareClass); absent = 'unclassified'. */
  hardwareClass?: string | null;
}

/** Latest run per scenario and node (bounded label sets for the exporter), newest first. */
export function recentRunsForMetrics(store: Store, limit: number): RecentRun[] {
  // efficiency: quality (VMAF, else PSNR) per J/encoded minute (net when positive, else gross)
  // relative to the best succeeded run of the same input, output resolution, energy source and
  // hardware class (never a best run of another machine class: core/strata.ts).
  return store.db
    .prepare(
      `WITH scored AS (
         SELECT r.id, s.width, s.height, json_extract(s.spec, '$.input') input, r.energy_source source,
                COALESCE(json_extract(r.provenance, '$.hardwareClass'), 'unclassified') cls,
                COALESCE(r.vmaf, r.psnr) / COALESCE(CASE WHEN r.net_j_per_encoded_minute > 0 THEN r.net_j_per_encoded_minute END, r.j_per_encoded_minute) qpm
           FROM run r JOIN scenario s ON s.id = r.scenario_id
          WHERE r.status = 'succeeded'),
       best AS (SELECT width, height, input, source, cls, MAX(qpm) best FROM scored WHERE qpm > 0 GROUP BY width, height, input, source, cls)
       SELECT r.job_id jobId, r.campaign_id campaignId, s.key scenarioKey, s.label scenarioLabel, s.codec codec,
              json_extract(r.provenance, '$.encoder') encoder, s.preset preset, r.node_id nodeId, r.energy_source source,
              json_extract(r.provenance, '$.hardwareClass') hardwareClass,
              r.gross_j grossJ, r.net_j netJ, r.j_per_encoded_minute jPerEncodedMinute, r.vmaf vmaf, r.psnr psnr, r.ssim ssim,
              r.quality_per_joule qualityPerJoule, r.wall_s wallS, sc.qpm / b.best efficiency
         FROM run r JOIN scenario s ON s.id = r.scenario_id
         LEFT JOIN scored sc ON sc.id = r.id
         LEFT JOIN best b ON b.width = sc.width AND b.height = sc.height AND b.input = sc.input AND b.source = sc.source AND b.cls = sc.cls
        WHERE r.id IN (SELECT MAX(id) FROM run WHERE status = 'succeeded' GROUP BY scenario_id, node_id)
          AND r.node_id NOT IN (SELECT id FROM node WHERE state = 'dead') -- a dead or stopped node leaves /metrics
        ORDER BY r.id DESC LIMIT ?`,
    )
    .all(limit) as RecentRun[];
}
