import type { Provenance } from '../core/types.ts';
import type { Store } from './store.ts';

/** Raw rows of one campaign: what the harness copies from a master into its local results database. */
export interface CampaignExport {
  format: 'ffwatt-campaign-export';
  version: 1;
  campaign: Record<string, unknown>;
  scenarios: Array<Record<string, unknown>>;
  jobs: Array<Record<string, unknown>>;
  runs: Array<Record<string, unknown>>;
  idle: Array<Record<string, unknown>>;
  nodes: Array<Record<string, unknown>>;
}

export function exportCampaign(store: Store, campaignId: string): CampaignExport | null {
  const db = store.db;
  const campaign = db.prepare('SELECT * FROM campaign WHERE id = ?').get(campaignId) as
    | Record<string, unknown>
    | undefined;
  if (!campaign) return null;
  const runs = db.prepare('SELECT * FROM run WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<
    Record<string, unknown>
  >;
  const nodeIds = [...new Set(runs.map((r) => r.node_id as string))];
  return {
    format: 'ffwatt-campaign-export',
    version: 1,
    campaign,
    scenarios: db.prepare('SELECT * FROM scenario WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<
      Record<string, unknown>
    >,
    jobs: db.prepare('SELECT * FROM job WHERE campaign_id = ? ORDER BY seq').all(campaignId) as Array<
      Record<string, unknown>
    >,
    runs,
    idle: db.prepare('SELECT * FROM idle_baseline WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<
      Record<string, unknown>
    >,
    nodes: nodeIds
      .map(
        (id) =>
          db
            .prepare(
              'SELECT id, hostname, hardware, encoders, meters, labels, registered_at, last_heartbeat, state, hardware_class FROM node WHERE id = ?',
            )
            .get(id) as Record<string, unknown>,
      )
      .filter(Boolean),
  };
}

function insertRow(
  store: Store,
  table: string,
  row: Record<string, unknown>,
  mode: 'OR REPLACE' | 'OR IGNORE' = 'OR REPLACE',
): number {
  const cols = Object.keys(row);
  const info = store.db
    .prepare(`INSERT ${mode} INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
    .run(...cols.map((c) => row[c]));
  return Number(info.lastInsertRowid);
}

/** Writes an export into a local database in one transaction (replacing an earlier copy of the same campaign). */
export function importCampaign(store: Store, e: CampaignExport): void {
  if (e.format !== 'ffwatt-campaign-export' || e.version !== 1)
    throw new Error('not an ffwatt campaign export (version 1)');
  const id = e.campaign.id as string;
  store.tx(() => {
    store.db.prepare('DELETE FROM run WHERE campaign_id = ?').run(id);
    store.db.prepare('DELETE FROM idle_baseline WHERE campaign_id = ?').run(id);
    store.db.prepare('DELETE FROM job WHERE campaign_id = ?').run(id);
    store.db.prepare('DELETE FROM scenario WHERE campaign_id = ?').run(id);
    insertRow(store, 'campaign', e.campaign);
    const scenarioIds = new Map<number, number>();
    for (const s of e.scenarios) {
      const { id: oldId, ...rest } = s;
      scenarioIds.set(oldId as number, insertRow(store, 'scenario', rest));
    }
    for (const n of e.nodes) insertRow(store, 'node', { ...n, token_hash: null }, 'OR IGNORE');
    for (const j of e.jobs) insertRow(store, 'job', { ...j, scenario_id: scenarioIds.get(j.scenario_id as number) });
    for (const r of e.runs) {
      const { id: _id, ...rest } = r;
      // setup_id points into the exporting database's run_setup: found or added here instead.
      const setup_id = store.setupId(JSON.parse(String(r.provenance ?? 'null')) as Provenance);
      insertRow(store, 'run', { ...rest, scenario_id: scenarioIds.get(r.scenario_id as number), setup_id });
    }
    for (const i of e.idle) {
      const { id: _id, ...rest } = i;
      insertRow(store, 'idle_baseline', rest);
    }
  });
}
