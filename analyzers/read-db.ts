// Reads what the report needs from a results database, aggregating in SQL or in one
// streaming pass (better-sqlite3 iterate + Welford), so a million runs never become
// a million objects.
import type { DB } from '../master/store.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/types.ts';
import { RunningMoments } from './stats.ts';
import { METRIC_KEYS, type Counted, type MetricKey, type Provenance, type Stat } from './model.ts';

export interface CampaignInfo {
  id: string;
  name: string;
  createdAt: number;
  status: string;
  matrixHash: string;
  repetitions: { min: number; max: number; ciHalfwidthPct: number };
}

export interface ScenarioRow {
  id: number;
  key: string;
  label: string;
  mode: string;
  codec: string;
  encoder: string | null;
  preset: string;
  rateKind: string;
  rateValue: number;
  width: number;
  height: number;
  fps: number;
  streams: number;
  spec: Scenario;
}

export interface ScenarioAggregate {
  runs: { succeeded: number; failed: number; canceled: number };
  metrics: Record<MetricKey, Stat | null>;
  energySources: Record<string, number>;
  flags: Record<string, number>;
}

/** Resolves the campaign to report: the given id, or the latest by creation time. */
export function resolveCampaign(db: DB, dbPath: string, campaignId?: string): CampaignInfo {
  const row = (
    campaignId
      ? db.prepare('SELECT * FROM campaign WHERE id = ?').get(campaignId)
      : db.prepare('SELECT * FROM campaign ORDER BY created_at DESC, rowid DESC LIMIT 1').get()
  ) as Record<string, unknown> | undefined;
  if (!row) {
    if (!campaignId) throw new InputError(`${dbPath} holds no campaign yet`, { file: dbPath, fix: 'run a matrix first (ffwatt run) or point --db at another results database' });
    const known = (db.prepare('SELECT id FROM campaign ORDER BY created_at DESC LIMIT 10').all() as Array<{ id: string }>).map((r) => r.id);
    throw new InputError(`campaign "${campaignId}" is not in ${dbPath}`, {
      file: dbPath,
      field: 'campaign',
      fix: known.length ? `use one of: ${known.join(', ')}` : 'the database holds no campaign',
    });
  }
  let settings: { repetitions?: { min?: number; max?: number; ciHalfwidthPct?: number } } = {};
  try {
    settings = JSON.parse(row.settings as string);
  } catch {
    throw new InputError(`campaign ${row.id as string}: settings column is not JSON`, { file: dbPath, field: 'campaign.settings' });
  }
  const rep = settings.repetitions ?? {};
  return {
    id: row.id as string,
    name: row.name as string,
    createdAt: row.created_at as number,
    status: row.status as string,
    matrixHash: row.matrix_hash as string,
    repetitions: { min: rep.min ?? 1, max: rep.max ?? rep.min ?? 1, ciHalfwidthPct: rep.ciHalfwidthPct ?? 5 },
  };
}

export function readScenarios(db: DB, campaignId: string): ScenarioRow[] {
  const rows = db.prepare('SELECT * FROM scenario WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: r.id as number,
    key: r.key as string,
    label: r.label as string,
    mode: r.mode as string,
    codec: r.codec as string,
    encoder: (r.encoder as string | null) ?? null,
    preset: r.preset as string,
    rateKind: r.rate_kind as string,
    rateValue: r.rate_value as number,
    width: r.width as number,
    height: r.height as number,
    fps: r.fps as number,
    streams: r.streams as number,
    spec: JSON.parse(r.spec as string) as Scenario,
  }));
}

const COLUMN: Record<MetricKey, string> = {
  jPerMin: 'j_per_encoded_minute',
  netJPerMin: 'net_j_per_encoded_minute',
  grossJ: 'gross_j',
  netJ: 'net_j',
  avgW: 'avg_w',
  fps: 'fps',
  speed: 'speed',
  bitrateBps: 'bitrate_bps',
  outputBytes: 'output_bytes',
  mediaSeconds: 'media_seconds',
  wallS: 'wall_s',
  windowS: 'window_s',
  psnr: 'psnr',
  ssim: 'ssim',
  vmaf: 'vmaf',
  idleW: 'idle_w',
};

/** Per-scenario counts, moments of every figure over succeeded runs, energy sources and flags. */
export function aggregateRuns(db: DB, campaignId: string): Map<number, ScenarioAggregate> {
  const out = new Map<number, ScenarioAggregate>();
  const moments = new Map<number, RunningMoments[]>();
  const get = (id: number): ScenarioAggregate => {
    let a = out.get(id);
    if (!a) {
      a = {
        runs: { succeeded: 0, failed: 0, canceled: 0 },
        metrics: Object.fromEntries(METRIC_KEYS.map((k) => [k, null])) as Record<MetricKey, Stat | null>,
        energySources: {},
        flags: {},
      };
      out.set(id, a);
    }
    return a;
  };
  for (const r of db.prepare('SELECT scenario_id s, status, COUNT(*) n FROM run WHERE campaign_id = ? GROUP BY scenario_id, status').all(campaignId) as Array<{
    s: number;
    status: 'succeeded' | 'failed' | 'canceled';
    n: number;
  }>) {
    get(r.s).runs[r.status] = r.n;
  }
  const cols = METRIC_KEYS.map((k) => COLUMN[k]).join(', ');
  const stmt = db.prepare(`SELECT scenario_id, ${cols} FROM run WHERE campaign_id = ? AND status = 'succeeded'`).raw(true);
  for (const row of stmt.iterate(campaignId) as IterableIterator<Array<number | null>>) {
    const id = row[0] as number;
    let m = moments.get(id);
    if (!m) moments.set(id, (m = METRIC_KEYS.map(() => new RunningMoments())));
    for (let i = 0; i < m.length; i++) {
      const v = row[i + 1];
      if (v != null && Number.isFinite(v)) m[i].push(v);
    }
  }
  for (const [id, m] of moments) {
    const a = get(id);
    METRIC_KEYS.forEach((k, i) => (a.metrics[k] = m[i].summary()));
  }
  for (const r of db
    .prepare(`SELECT scenario_id s, COALESCE(energy_source, 'none') src, COUNT(*) n FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY scenario_id, src`)
    .all(campaignId) as Array<{ s: number; src: string; n: number }>) {
    get(r.s).energySources[r.src] = r.n;
  }
  for (const r of db
    .prepare(
      `SELECT run.scenario_id s, f.value flag, COUNT(*) n FROM run, json_each(run.flags) f
       WHERE run.campaign_id = ? AND run.status = 'succeeded' GROUP BY run.scenario_id, f.value ORDER BY f.value`,
    )
    .all(campaignId) as Array<{ s: number; flag: string; n: number }>) {
    get(r.s).flags[String(r.flag)] = r.n;
  }
  return out;
}

function counted(db: DB, campaignId: string, expr: string, absent = '(not recorded)'): Counted[] {
  return (
    db
      .prepare(`SELECT ${expr} v, COUNT(*) n FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY v ORDER BY n DESC, v`)
      .all(campaignId) as Array<{ v: unknown; n: number }>
  ).map((r) => ({ value: r.v == null ? absent : String(r.v), runs: r.n }));
}

export function readProvenance(db: DB, campaignId: string): Provenance {
  const meters = (
    db
      .prepare(
        `SELECT json_extract(m.value, '$.meter') meter, json_extract(m.value, '$.source') source, json_extract(m.value, '$.valid') valid, COUNT(*) n
         FROM run, json_each(run.provenance, '$.meters') m
         WHERE run.campaign_id = ? AND run.status = 'succeeded' GROUP BY meter, source, valid ORDER BY meter, source, valid DESC`,
      )
      .all(campaignId) as Array<{ meter: string; source: string; valid: number; n: number }>
  ).map((r) => ({ meter: String(r.meter), source: String(r.source), valid: r.valid === 1, runs: r.n }));
  const idleBaselines = (
    db.prepare('SELECT node_id, measured_at, seconds, total_w, source FROM idle_baseline WHERE campaign_id = ? ORDER BY measured_at, id').all(campaignId) as Array<{
      node_id: string;
      measured_at: number;
      seconds: number;
      total_w: number;
      source: string;
    }>
  ).map((r) => ({ nodeId: r.node_id, measuredAt: new Date(r.measured_at).toISOString(), seconds: r.seconds, totalW: r.total_w, source: r.source }));
  return {
    ffmpegVersions: counted(db, campaignId, "json_extract(provenance, '$.ffmpegVersion')"),
    cpuModels: counted(db, campaignId, "json_extract(provenance, '$.cpuModel')"),
    kernels: counted(db, campaignId, "json_extract(provenance, '$.kernel')"),
    gpus: counted(db, campaignId, "json_extract(provenance, '$.gpu')", '(no GPU)'),
    nodes: counted(db, campaignId, 'node_id'),
    meters,
    idleBaselines,
  };
}
