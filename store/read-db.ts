// Reads what the report needs from a results database, aggregating in SQL or in one
// streaming pass (better-sqlite3 iterate + Welford), so a million runs never become
// a million objects.
import type { DB } from './store.ts';
import { InputError } from '../core/errors.ts';
import type { MeterState, Scenario } from '../core/types.ts';
import { summaryFromMoments } from '../core/stats.ts';
import { METRIC_KEYS, type Counted, type MetricKey, type Provenance, type Stat } from '../core/report-model.ts';
import { KIND_ORDER, NET_NONPOSITIVE, type EnergyKind } from '../core/strata.ts';
import { strataSql } from './strata-sql.ts';

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

/** Figures of one stratum of one scenario: its runs on one hardware class with one energy kind. */
export interface CellAggregate {
  scenarioId: number;
  hardwareClass: string;
  energyKind: EnergyKind;
  runs: { succeeded: number; failed: number; canceled: number };
  metrics: Record<MetricKey, Stat | null>;
  energySources: Record<string, number>;
  /** Flags of the runs that entered the statistics. */
  flags: Record<string, number>;
  /** Succeeded runs left out of the statistics, and how many carry each reason. */
  excluded: { runs: number; reasons: Record<string, number> };
}

export const cellKey = (scenarioId: number, hardwareClass: string, kind: EnergyKind) => `${scenarioId}\u0000${hardwareClass}\u0000${kind}`;

export function emptyCell(scenarioId: number, hardwareClass: string, energyKind: EnergyKind): CellAggregate {
  return {
    scenarioId,
    hardwareClass,
    energyKind,
    runs: { succeeded: 0, failed: 0, canceled: 0 },
    metrics: Object.fromEntries(METRIC_KEYS.map((k) => [k, null])) as Record<MetricKey, Stat | null>,
    energySources: {},
    flags: {},
    excluded: { runs: 0, reasons: {} },
  };
}

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

/** Provenance fields the report tallies, extracted once per succeeded run. */
const PROVENANCE_PATHS = `'$.ffmpegVersion', '$.cpuModel', '$.kernel', '$.gpu', '$.meters'`;

let stagedSeq = 0;

/**
 * A campaign's runs copied once into a TEMP table with their strata already worked out
 * (hardware class, energy kind, exclusion reasons) and their provenance fields extracted:
 * every aggregate below then scans narrow rows instead of parsing each run's provenance and
 * flags JSON again (at 1M runs that parsing was most of the report's time). drop() removes it.
 */
export interface StagedRuns {
  table: string;
  drop(): void;
}

export function stageRuns(db: DB, campaignId: string): StagedRuns {
  const nonPositive = strataSql('run', true).excluded;
  const anyReason = strataSql('run', false).excluded;
  const strata = strataSql('run');
  const table = `temp.ffwatt_report_runs_${process.pid}_${++stagedSeq}`;
  const metrics = [...new Set(Object.values(COLUMN))].join(', ');
  // Clustered by cell (scenario, class, kind), runs in table order within it: the GROUP BYs
  // below read it in key order instead of sorting a million wide rows each time.
  const columns = `scenario_id, cls, kind, seq, status, energy_source, node_id, flags, ${metrics}, excl_nonpos, excl_any, pk`;
  db.exec(`CREATE TABLE ${table} (${columns}, PRIMARY KEY (scenario_id, cls, kind, seq)) WITHOUT ROWID`);
  // Most runs carry no flag: for them only the net figure can exclude, and json_each is skipped.
  const unflagged = `(run.net_j IS NOT NULL AND run.net_j <= 0)`;
  db.prepare(
    `INSERT INTO ${table} (${columns}) SELECT * FROM (SELECT scenario_id, ${strata.hardwareClass} cls, ${strata.energyKind} kind, run.rowid seq,
       status, energy_source, node_id, flags, ${metrics},
       CASE WHEN run.flags = '[]' THEN ${unflagged} ELSE ${nonPositive} END excl_nonpos,
       CASE WHEN run.flags = '[]' THEN ${unflagged} ELSE ${anyReason} END excl_any,
       CASE WHEN status = 'succeeded' THEN json_extract(provenance, ${PROVENANCE_PATHS}) END pk
     FROM run WHERE run.campaign_id = @c) ORDER BY scenario_id, cls, kind, seq`,
  ).run({ c: campaignId });
  return { table, drop: () => db.exec(`DROP TABLE IF EXISTS ${table}`) };
}

/** Runs `f` over the campaign's staged runs (a given staging, or one made and dropped here). */
function withStaged<T>(db: DB, campaignId: string, staged: StagedRuns | undefined, f: (table: string) => T): T {
  if (staged) return f(staged.table);
  const own = stageRuns(db, campaignId);
  try {
    return f(own.table);
  } finally {
    own.drop();
  }
}

/**
 * Per (scenario, hardware class, energy kind): counts, moments of every figure over the
 * succeeded runs that count (flagged and non-positive-net runs left out unless
 * includeFlagged; a non-positive net figure always), energy sources, flags and the reasons
 * runs were left out. Everything is aggregated inside SQLite (two passes for the moments:
 * means, then squared deviations from them, so the variance is exact), so memory follows
 * cells, not runs. Failed and canceled attempts carry no energy source: they are counted on
 * the cell of their scenario and class with the most succeeded runs (measured first).
 */
export function aggregateRuns(db: DB, campaignId: string, includeFlagged = false, staged?: StagedRuns): Map<string, CellAggregate> {
  return withStaged(db, campaignId, staged, (table) => aggregateStaged(db, table, includeFlagged));
}

function aggregateStaged(db: DB, table: string, includeFlagged: boolean): Map<string, CellAggregate> {
  const out = new Map<string, CellAggregate>();
  const q = strataSql('run', includeFlagged);
  const get = (s: number, c: string, k: EnergyKind): CellAggregate => {
    const key = cellKey(s, c, k);
    let a = out.get(key);
    if (!a) out.set(key, (a = emptyCell(s, c, k)));
    return a;
  };
  const base = `SELECT *, ${includeFlagged ? 'excl_nonpos' : 'excl_any'} excl FROM ${table}`;
  const unplaced: Array<{ s: number; cls: string; status: 'failed' | 'canceled'; n: number }> = [];
  for (const r of db
    .prepare(`SELECT scenario_id s, cls, kind, status, excl, COALESCE(energy_source, 'none') src, COUNT(*) n FROM (${base}) GROUP BY s, cls, kind, status, excl, src`)
    .all() as Array<{ s: number; cls: string; kind: EnergyKind; status: 'succeeded' | 'failed' | 'canceled'; excl: number; src: string; n: number }>) {
    if (r.status !== 'succeeded') {
      unplaced.push({ s: r.s, cls: r.cls, status: r.status, n: r.n });
      continue;
    }
    const a = get(r.s, r.cls, r.kind);
    a.runs.succeeded += r.n;
    if (r.excl) a.excluded.runs += r.n;
    else a.energySources[r.src] = (a.energySources[r.src] ?? 0) + r.n;
  }
  for (const u of unplaced) {
    const home = [...out.values()]
      .filter((a) => a.scenarioId === u.s && a.hardwareClass === u.cls)
      .sort((a, b) => b.runs.succeeded - a.runs.succeeded || KIND_ORDER[a.energyKind] - KIND_ORDER[b.energyKind])[0];
    (home ?? get(u.s, u.cls, 'none')).runs[u.status] += u.n;
  }
  const cols = METRIC_KEYS.map((k) => COLUMN[k]);
  const counted = `SELECT * FROM (${base}) WHERE status = 'succeeded' AND excl = 0`;
  const means = cols.map((c, i) => `AVG(${c}) m${i}`).join(', ');
  const moments = cols.map((c, i) => `COUNT(r.${c}) n${i}, a.m${i} m${i}, SUM((r.${c} - a.m${i}) * (r.${c} - a.m${i})) ss${i}`).join(', ');
  // The means go to a table keyed like the staged runs; the second pass walks it in key order and
  // each cell's runs by that key, so neither pass sorts (a CTE's output order is unknown to SQLite).
  const meansTable = `${table}_means`;
  db.exec(`CREATE TABLE ${meansTable} (scenario_id, cls, kind, ${cols.map((_, i) => `m${i}`).join(', ')}, PRIMARY KEY (scenario_id, cls, kind)) WITHOUT ROWID`);
  let momentRows: Array<Record<string, number | string | null>>;
  try {
    db.prepare(`INSERT INTO ${meansTable} SELECT scenario_id, cls, kind, ${means} FROM (${counted}) GROUP BY scenario_id, cls, kind`).run();
    const sql = `SELECT a.scenario_id s, a.cls cls, a.kind kind, ${moments} FROM ${meansTable} a CROSS JOIN (${counted}) r
      ON r.scenario_id = a.scenario_id AND r.cls = a.cls AND r.kind = a.kind GROUP BY a.scenario_id, a.cls, a.kind`;
    momentRows = db.prepare(sql).all() as Array<Record<string, number | string | null>>;
  } finally {
    db.exec(`DROP TABLE IF EXISTS ${meansTable}`);
  }
  for (const r of momentRows) {
    const a = get(r.s as number, r.cls as string, r.kind as EnergyKind);
    METRIC_KEYS.forEach((k, i) => {
      const n = (r[`n${i}`] as number) ?? 0;
      const m = r[`m${i}`] as number | null;
      const ss = r[`ss${i}`] as number | null;
      a.metrics[k] = n > 0 && m != null ? summaryFromMoments(n, m, n > 1 && ss != null ? Math.sqrt(Math.max(0, ss) / (n - 1)) : null) : null;
    });
  }
  for (const r of db
    .prepare(`SELECT x.scenario_id s, x.cls, x.kind, f.value flag, COUNT(*) n FROM (${counted}) x, json_each(x.flags) f WHERE x.flags <> '[]' GROUP BY s, x.cls, x.kind, f.value ORDER BY f.value`)
    .all() as Array<{ s: number; cls: string; kind: EnergyKind; flag: string; n: number }>) {
    get(r.s, r.cls, r.kind).flags[String(r.flag)] = r.n;
  }
  // Reasons of the left-out runs: their excluding flags, and a non-positive net figure even when unflagged.
  const reasonSql = `SELECT x.scenario_id s, x.cls, x.kind, f.value reason, COUNT(*) n FROM (${base}) x, json_each(x.flags) f
      WHERE x.status = 'succeeded' AND x.excl = 1 AND f.value IN (${q.excludingFlags.map((f) => `'${f}'`).join(', ')}) GROUP BY s, x.cls, x.kind, f.value
    UNION ALL
    SELECT x.scenario_id s, x.cls, x.kind, '${NET_NONPOSITIVE}' reason, COUNT(*) n FROM (${base}) x
      WHERE x.status = 'succeeded' AND x.excl = 1 AND x.net_j IS NOT NULL AND x.net_j <= 0
        AND NOT EXISTS (SELECT 1 FROM json_each(x.flags) g WHERE g.value = '${NET_NONPOSITIVE}') GROUP BY s, x.cls, x.kind
    ORDER BY reason`;
  for (const r of db.prepare(reasonSql).all() as Array<{ s: number; cls: string; kind: EnergyKind; reason: string; n: number }>) {
    const a = get(r.s, r.cls, r.kind);
    a.excluded.reasons[r.reason] = (a.excluded.reasons[r.reason] ?? 0) + r.n;
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
export function readProvenance(db: DB, campaignId: string, staged?: StagedRuns): Provenance {
  return withStaged(db, campaignId, staged, (table) => provenanceStaged(db, campaignId, table));
}

function provenanceStaged(db: DB, campaignId: string, table: string): Provenance {
  const ffmpeg = new Map<string, number>();
  const cpu = new Map<string, number>();
  const kernel = new Map<string, number>();
  const gpu = new Map<string, number>();
  const nodes = new Map<string, number>();
  const classes = new Map<string, number>();
  const meterCounts = new Map<string, number>();
  const rows = db
    .prepare(
      `SELECT pk k, node_id, cls, COUNT(*) n FROM ${table} WHERE status = 'succeeded' GROUP BY k, node_id, cls`,
    )
    .iterate() as IterableIterator<{ k: string | null; node_id: string; cls: string; n: number }>;
  for (const r of rows) {
    const [v, c, k, g, meters] = (r.k ? JSON.parse(r.k) : []) as [unknown, unknown, unknown, unknown, unknown];
    const text = (x: unknown, absent: string) => (x == null ? absent : String(x));
    tally(ffmpeg, text(v, '(not recorded)'), r.n);
    tally(cpu, text(c, '(not recorded)'), r.n);
    tally(kernel, text(k, '(not recorded)'), r.n);
    tally(gpu, text(g, '(no GPU)'), r.n);
    tally(nodes, r.node_id, r.n);
    tally(classes, r.cls, r.n);
    for (const m of Array.isArray(meters) ? (meters as Array<{ meter?: unknown; source?: unknown; valid?: unknown; state?: unknown }>) : []) {
      // A meter the machine does not have is `absent`, not invalid; records from before meter states say only valid or not.
      const state: MeterState = m.state === 'absent' || m.state === 'unusable' || m.state === 'in-use' ? m.state : m.valid === true ? 'in-use' : 'unusable';
      tally(meterCounts, JSON.stringify([String(m.meter), String(m.source), m.valid === true, state]), r.n);
    }
  }
  const meters = [...meterCounts]
    .map(([key, runs]) => {
      const [meter, source, valid, state] = JSON.parse(key) as [string, string, boolean, MeterState];
      return { meter, source, valid, state, runs };
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
  return { ffmpegVersions: sorted(ffmpeg), cpuModels: sorted(cpu), kernels: sorted(kernel), gpus: sorted(gpu), nodes: sorted(nodes), hardwareClasses: sorted(classes), meters, idleBaselines };
}

/** A campaign's succeeded runs grouped by the values at the given provenance JSON paths, their meters, hardware class and node. */
export function provenanceGroups(db: DB, campaignId: string, paths: readonly string[]): Array<{ values: unknown[]; meters: unknown; cls: string; nodeId: string; n: number }> {
  const cls = strataSql('run').hardwareClass;
  const rows = db
    .prepare(
      `SELECT ${paths.map((p, i) => `json_extract(provenance, '${p}') v${i}`).join(', ')}, json_extract(provenance, '$.meters') meters, ${cls} cls, node_id, COUNT(*) n
       FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY ${paths.map((_, i) => `v${i}`).join(', ')}, meters, cls, node_id`,
    )
    .all(campaignId) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ values: paths.map((_, i) => r[`v${i}`]), meters: r.meters, cls: String(r.cls), nodeId: String(r.node_id), n: r.n as number }));
}
