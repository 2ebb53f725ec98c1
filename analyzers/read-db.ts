// Reads what the report needs from a results database, aggregating in SQL or in one
// streaming pass (better-sqlite3 iterate + Welford), so a million runs never become
// a million objects.
import type { DB } from '../master/store.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/types.ts';
import { summaryFromMoments } from './stats.ts';
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

/**
 * Per-scenario counts, moments of every figure over succeeded runs, energy sources and flags.
 * Everything is aggregated inside SQLite (two passes for the moments: means, then squared
 * deviations from them, so the variance is exact), so memory follows scenarios, not runs.
 */
export function aggregateRuns(db: DB, campaignId: string): Map<number, ScenarioAggregate> {
  const out = new Map<number, ScenarioAggregate>();
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
  for (const r of db
    .prepare(`SELECT scenario_id s, status, COALESCE(energy_source, 'none') src, COUNT(*) n FROM run WHERE campaign_id = ? GROUP BY scenario_id, status, src`)
    .all(campaignId) as Array<{ s: number; status: 'succeeded' | 'failed' | 'canceled'; src: string; n: number }>) {
    const a = get(r.s);
    a.runs[r.status] += r.n;
    if (r.status === 'succeeded') a.energySources[r.src] = (a.energySources[r.src] ?? 0) + r.n;
  }
  const cols = METRIC_KEYS.map((k) => COLUMN[k]);
  const means = cols.map((c, i) => `AVG(${c}) m${i}`).join(', ');
  const moments = cols.map((c, i) => `COUNT(r.${c}) n${i}, a.m${i} m${i}, SUM((r.${c} - a.m${i}) * (r.${c} - a.m${i})) ss${i}`).join(', ');
  const sql = `WITH a AS (SELECT scenario_id, ${means} FROM run WHERE campaign_id = @c AND status = 'succeeded' GROUP BY scenario_id)
    SELECT r.scenario_id s, ${moments} FROM run r JOIN a ON a.scenario_id = r.scenario_id
    WHERE r.campaign_id = @c AND r.status = 'succeeded' GROUP BY r.scenario_id`;
  for (const r of db.prepare(sql).all({ c: campaignId }) as Array<Record<string, number | null>>) {
    const a = get(r.s as number);
    METRIC_KEYS.forEach((k, i) => {
      const n = (r[`n${i}`] as number) ?? 0;
      const m = r[`m${i}`];
      const ss = r[`ss${i}`];
      a.metrics[k] = n > 0 && m != null ? summaryFromMoments(n, m, n > 1 && ss != null ? Math.sqrt(Math.max(0, ss) / (n - 1)) : null) : null;
    });
  }
  for (const r of db
    .prepare(
      `SELECT run.scenario_id s, f.value flag, COUNT(*) n FROM run, json_each(run.flags) f
       WHERE run.campaign_id = ? AND run.status = 'succeeded' AND run.flags <> '[]' GROUP BY run.scenario_id, f.value ORDER BY f.value`,
    )
    .all(campaignId) as Array<{ s: number; flag: string; n: number }>) {
    get(r.s).flags[String(r.flag)] = r.n;
  }
  return out;
}

function tally(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function sorted(map: Map<string, number>): Counted[] {
  return [...map].map(([value, runs]) => ({ value, runs })).sort((a, b) => b.runs - a.runs || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Software, hardware and meters the succeeded runs recorded, in one grouped scan of the run table. */
export function readProvenance(db: DB, campaignId: string): Provenance {
  const ffmpeg = new Map<string, number>();
  const cpu = new Map<string, number>();
  const kernel = new Map<string, number>();
  const gpu = new Map<string, number>();
  const nodes = new Map<string, number>();
  const meterCounts = new Map<string, number>();
  const rows = db
    .prepare(
      `SELECT json_extract(provenance, '$.ffmpegVersion', '$.cpuModel', '$.kernel', '$.gpu', '$.meters') k, node_id, COUNT(*) n
       FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY k, node_id`,
    )
    .iterate(campaignId) as IterableIterator<{ k: string | null; node_id: string; n: number }>;
  for (const r of rows) {
    const [v, c, k, g, meters] = (r.k ? JSON.parse(r.k) : []) as [unknown, unknown, unknown, unknown, unknown];
    const text = (x: unknown, absent: string) => (x == null ? absent : String(x));
    tally(ffmpeg, text(v, '(not recorded)'), r.n);
    tally(cpu, text(c, '(not recorded)'), r.n);
    tally(kernel, text(k, '(not recorded)'), r.n);
    tally(gpu, text(g, '(no GPU)'), r.n);
    tally(nodes, r.node_id, r.n);
    for (const m of Array.isArray(meters) ? (meters as Array<{ meter?: unknown; source?: unknown; valid?: unknown }>) : []) {
      tally(meterCounts, JSON.stringify([String(m.meter), String(m.source), m.valid === true]), r.n);
    }
  }
  const meters = [...meterCounts]
    .map(([key, runs]) => {
      const [meter, source, valid] = JSON.parse(key) as [string, string, boolean];
      return { meter, source, valid, runs };
    })
    .sort((a, b) => (a.meter < b.meter ? -1 : a.meter > b.meter ? 1 : 0) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) || Number(b.valid) - Number(a.valid));
  const idleBaselines = (
    db.prepare('SELECT node_id, measured_at, seconds, total_w, source FROM idle_baseline WHERE campaign_id = ? ORDER BY measured_at, id').all(campaignId) as Array<{
      node_id: string;
      measured_at: number;
      seconds: number;
      total_w: number;
      source: string;
    }>
  ).map((r) => ({ nodeId: r.node_id, measuredAt: new Date(r.measured_at).toISOString(), seconds: r.seconds, totalW: r.total_w, source: r.source }));
  return { ffmpegVersions: sorted(ffmpeg), cpuModels: sorted(cpu), kernels: sorted(kernel), gpus: sorted(gpu), nodes: sorted(nodes), meters, idleBaselines };
}
