// What the advisor trains from: succeeded runs with their scenario and provenance, and the
// campaigns they belong to.
import Database from 'better-sqlite3';
import type { Provenance, Scenario } from '../core/types.ts';
import type { DB } from './store.ts';

/** A results database opened read-only (training never writes to it). */
export function openReadOnly(path: string): DB {
  return new Database(path, { readonly: true, fileMustExist: true });
}

export interface DbRun {
  campaignId: string;
  scenarioId: number;
  jobId: string;
  nodeId: string;
  scenario: Scenario;
  provenance: Provenance;
  energySource: string | null;
  netJ?: number | null;
  netJPerEncodedMinute: number | null;
  jPerEncodedMinute: number | null;
  /** The estimate's job-process-tree zone per encoded minute; null without an estimate meter. */
  jobJPerEncodedMinute?: number | null;
  vmaf: number | null;
  psnr: number | null;
  speed: number | null;
  flags: string[];
}

/** Zone name of the job's own share of the estimate (energy/attribution.ts JOB_TREE_ZONE; store/ sits below energy/ in the layer map). */
const JOB_TREE_ZONE = 'job-process-tree';

/** The job's own estimated J per encoded minute from a run's energy JSON, or null when it has no job-process-tree zone. */
export function jobJPerEncodedMinute(energyJson: string | null, mediaSeconds: number): number | null {
  if (!energyJson || !(mediaSeconds > 0)) return null;
  const e = JSON.parse(energyJson) as { zones?: Array<{ zone: string; grossJ: number | null }> };
  const z = e.zones?.find((x) => x.zone === JOB_TREE_ZONE);
  return z?.grossJ != null && z.grossJ > 0 ? z.grossJ / (mediaSeconds / 60) : null;
}

/** Succeeded runs of the given campaigns (all campaigns when none given), oldest first. */
export function loadRuns(db: DB, campaignIds: string[] = []): DbRun[] {
  const where = campaignIds.length ? `AND run.campaign_id IN (${campaignIds.map(() => '?').join(',')})` : '';
  const rows = db
    .prepare(
      `SELECT run.campaign_id, run.scenario_id, run.job_id, run.node_id, run.provenance, run.energy_source, run.net_j,
              run.net_j_per_encoded_minute, run.j_per_encoded_minute, run.energy, run.media_seconds, run.vmaf, run.psnr, run.speed, run.flags, scenario.spec
       FROM run JOIN scenario ON scenario.id = run.scenario_id
       WHERE run.status = 'succeeded' ${where} ORDER BY run.id`,
    )
    .all(...campaignIds) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    campaignId: r.campaign_id as string,
    scenarioId: r.scenario_id as number,
    jobId: r.job_id as string,
    nodeId: r.node_id as string,
    scenario: JSON.parse(r.spec as string) as Scenario,
    provenance: JSON.parse(r.provenance as string) as Provenance,
    energySource: r.energy_source as string | null,
    netJ: r.net_j as number | null,
    netJPerEncodedMinute: r.net_j_per_encoded_minute as number | null,
    jPerEncodedMinute: r.j_per_encoded_minute as number | null,
    jobJPerEncodedMinute:
      r.energy_source === 'estimate'
        ? jobJPerEncodedMinute(r.energy as string | null, r.media_seconds as number)
        : null,
    vmaf: r.vmaf as number | null,
    psnr: r.psnr as number | null,
    speed: r.speed as number | null,
    flags: JSON.parse((r.flags as string) ?? '[]') as string[],
  }));
}

/** Name, status and creation time of each campaign id (null for an id the database lacks). */
export function campaignNames(
  db: DB,
  ids: string[],
): Array<{ id: string; name: string; status: string; createdAt: number } | null> {
  const q = db.prepare('SELECT id, name, status, created_at createdAt FROM campaign WHERE id = ?');
  return ids.map(
    (id) => (q.get(id) as { id: string; name: string; status: string; createdAt: number } | undefined) ?? null,
  );
}

/** Each node of a results database with its hardware class (null: registered before classes). */
export function nodeClasses(db: DB): Array<{ id: string; hostname: string; hardwareClass: string | null }> {
  return db.prepare('SELECT id, hostname, hardware_class AS hardwareClass FROM node ORDER BY id').all() as Array<{
    id: string;
    hostname: string;
    hardwareClass: string | null;
  }>;
}

/** The id of the latest finished campaign of this name (null: none). */
export function latestDoneCampaignNamed(db: DB, name: string): string | null {
  return (
    (db
      .prepare("SELECT id FROM campaign WHERE name = ? AND status = 'done' ORDER BY created_at DESC LIMIT 1")
      .pluck()
      .get(name) as string | undefined) ?? null
  );
}

/** Every campaign name in the database, sorted. */
export function campaignNameList(db: DB): string[] {
  return db.prepare('SELECT DISTINCT name FROM campaign ORDER BY name').pluck().all() as string[];
}
