// Reads what the report needs from a results database, aggregating in SQL or in one
// streaming pass (better-sqlite3 iterate + Welford), so a million runs never become
// a million objects.
import type { DB } from './store.ts';
import { InputError } from '../core/errors.ts';
import { nodeCostFigures, type NodeCostFigures } from '../core/node-cost.ts';
import type { MeterState, Scenario } from '../core/types.ts';
import { summaryFromMoments } from '../core/stats.ts';
import { METRIC_KEYS, type Counted, type MetricKey, type Provenance, type Stat } from '../core/report-model.ts';
import { EXCLUDING_FLAGS, KIND_ORDER, NET_NONPOSITIVE, exclusionReasons, type EnergyKind } from '../core/strata.ts';

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

export const cellKey = (scenarioId: number, hardwareClass: string, kind: EnergyKind) =>
  `${scenarioId}\u0000${hardwareClass}\u0000${kind}`;

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
    if (!campaignId)
      throw new InputError(`${dbPath} holds no campaign yet`, {
        file: dbPath,
        fix: 'run a matrix first (ffwatt run) or point --db at another results database',
      });
    const known = (
      db.prepare('SELECT id FROM campaign ORDER BY created_at DESC LIMIT 10').all() as Array<{ id: string }>
    ).map((r) => r.id);
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
    throw new InputError(`campaign ${row.id as string}: settings column is not JSON`, {
      file: dbPath,
      field: 'campaign.settings',
    });
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
  const rows = db.prepare('SELECT * FROM scenario WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<
    Record<string, unknown>
  >;
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

/** The run_stratum index (migration 6) holds every one of these columns: a new one needs a migration extending it, or the report reads the run rows again (same figures, slower). */
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

const METRIC_COLUMNS = METRIC_KEYS.map((k) => COLUMN[k]);
/** Energy sources counted per cell in the main pass; a cell with any other value is counted again by source. */
const KNOWN_SOURCES = ['estimate', 'mixed', 'nvml', 'rapl'] as const;
/** A cell's succeeded runs, in stored order through the run_stratum index (migration 6). */
const CELL = `campaign_id = @c AND scenario_id = @s AND hardware_class = @cls AND energy_kind = @kind AND status = 'succeeded'`;
const NOT_LEFT_OUT = `AND run.id NOT IN (SELECT value FROM json_each(@out))`;

interface GroupRow {
  s: number;
  cls: string | null;
  kind: EnergyKind;
  status: 'succeeded' | 'failed' | 'canceled';
  n: number;
  srcNone: number;
  setupLo: number | null;
  setupHi: number | null;
  nodeLo: string;
  nodeHi: string;
  [k: string]: number | string | null;
}

/** Counts, source counts and means of a set of runs (one row per group). */
const GROUP_FIGURES = [
  'COUNT(*) n',
  'SUM(energy_source IS NULL) srcNone',
  ...KNOWN_SOURCES.map((src, i) => `SUM(energy_source IS '${src}') src${i}`),
  ...METRIC_COLUMNS.map((c, i) => `AVG(${c}) m${i}`),
].join(', ');

/** A succeeded run that may be left out of the statistics: flagged, or with a non-positive net figure. */
interface AttentionRow {
  id: number;
  s: number;
  cls: string;
  kind: EnergyKind;
  flags: string;
  netJ: number | null;
}

export interface CampaignRuns {
  cells: Map<string, CellAggregate>;
  provenance: Provenance;
  /** Ids of the succeeded runs left out of the statistics (the same runs readNodeRuns leaves out). */
  leftOutIds: number[];
}

/**
 * Per (scenario, hardware class, energy kind): counts, moments of every figure over the
 * succeeded runs that count (flagged and non-positive-net runs left out unless
 * includeFlagged; a non-positive net figure always), energy sources, flags and the reasons
 * runs were left out; and the provenance tallies of the succeeded runs. Everything is
 * aggregated inside SQLite over the run's stratum columns (migration 6), so memory follows
 * cells, not runs, and no run's JSON is parsed except the few flagged or non-positive ones:
 * one grouped pass in run_stratum order gives counts and means, then one pass per cell the
 * squared deviations from its mean (so the variance is exact). Failed and canceled attempts
 * carry no energy source: they are counted on the cell of their scenario and class with the
 * most succeeded runs (measured first).
 */
export function readCampaignRuns(db: DB, campaignId: string, includeFlagged = false): CampaignRuns {
  const out = new Map<string, CellAggregate>();
  const get = (s: number, c: string, k: EnergyKind): CellAggregate => {
    const key = cellKey(s, c, k);
    let a = out.get(key);
    if (!a) out.set(key, (a = emptyCell(s, c, k)));
    return a;
  };
  const groups = db
    .prepare(
      `SELECT scenario_id s, hardware_class cls, energy_kind kind, status, MIN(setup_id) setupLo, MAX(setup_id) setupHi, MIN(node_id) nodeLo, MAX(node_id) nodeHi, ${GROUP_FIGURES}
       FROM run WHERE campaign_id = @c GROUP BY scenario_id, hardware_class, energy_kind, status`,
    )
    .all({ c: campaignId }) as GroupRow[];
  const unplaced: Array<{ s: number; cls: string; status: 'failed' | 'canceled'; n: number }> = [];
  const succeeded = new Map<CellAggregate, GroupRow>();
  for (const g of groups) {
    if (g.cls == null || g.kind == null) {
      throw new InputError(
        `campaign ${campaignId}: runs of scenario ${g.s} have no hardware_class/energy_kind column values`,
        {
          field: 'run.hardware_class',
          fix: 'store runs through the master store (master/store.ts insertRun), which fills the strata columns',
        },
      );
    }
    if (g.status !== 'succeeded') {
      unplaced.push({ s: g.s, cls: g.cls, status: g.status, n: g.n });
      continue;
    }
    const a = get(g.s, g.cls, g.kind);
    a.runs.succeeded += g.n;
    succeeded.set(a, g);
  }
  for (const u of unplaced) {
    const home = [...out.values()]
      .filter((a) => a.scenarioId === u.s && a.hardwareClass === u.cls)
      .sort((a, b) => b.runs.succeeded - a.runs.succeeded || KIND_ORDER[a.energyKind] - KIND_ORDER[b.energyKind])[0];
    (home ?? get(u.s, u.cls, 'none')).runs[u.status] += u.n;
  }

  // The runs that may be left out: the rule is strata.ts' own, applied to these rows only.
  const leftOut = new Map<CellAggregate, number[]>();
  const excludingFlags: readonly string[] = includeFlagged ? [NET_NONPOSITIVE] : [NET_NONPOSITIVE, ...EXCLUDING_FLAGS];
  for (const r of db
    .prepare(
      `SELECT id, scenario_id s, hardware_class cls, energy_kind kind, flags, net_j netJ FROM run WHERE campaign_id = @c AND status = 'succeeded' AND (flags <> '[]' OR net_j <= 0) ORDER BY id`,
    )
    .iterate({ c: campaignId }) as IterableIterator<AttentionRow>) {
    const a = get(r.s, r.cls, r.kind);
    const flags = JSON.parse(r.flags) as unknown[];
    const netNonPositive = r.netJ != null && r.netJ <= 0;
    if (exclusionReasons({ flags: flags.map(String), netJ: r.netJ }, includeFlagged).length === 0) {
      for (const f of flags) a.flags[String(f)] = (a.flags[String(f)] ?? 0) + 1;
      continue;
    }
    a.excluded.runs++;
    (leftOut.get(a) ?? leftOut.set(a, []).get(a)!).push(r.id);
    for (const f of flags)
      if (excludingFlags.includes(f as string))
        a.excluded.reasons[f as string] = (a.excluded.reasons[f as string] ?? 0) + 1;
    if (netNonPositive && !flags.includes(NET_NONPOSITIVE))
      a.excluded.reasons[NET_NONPOSITIVE] = (a.excluded.reasons[NET_NONPOSITIVE] ?? 0) + 1;
  }

  // Means and sources of the runs that count: the main pass' figures, or the cell again without its left-out runs.
  const counted = db.prepare(`SELECT ${GROUP_FIGURES} FROM run WHERE ${CELL} ${NOT_LEFT_OUT}`);
  const bySource = db.prepare(
    `SELECT COALESCE(energy_source, 'none') src, COUNT(*) n FROM run WHERE ${CELL} ${NOT_LEFT_OUT} GROUP BY src ORDER BY src`,
  );
  const deviations = [false, true].map((some) =>
    db.prepare(
      `SELECT ${METRIC_COLUMNS.map((c, i) => `COUNT(${c}) n${i}, SUM((${c} - @m${i}) * (${c} - @m${i})) ss${i}`).join(', ')} FROM run WHERE ${CELL} ${some ? NOT_LEFT_OUT : ''}`,
    ),
  );
  for (const [a, g] of succeeded) {
    const ids = leftOut.get(a);
    const cell = { c: campaignId, s: a.scenarioId, cls: a.hardwareClass, kind: a.energyKind };
    const skip = { out: ids ? JSON.stringify(ids) : '[]' };
    const f = ids ? (counted.get({ ...cell, ...skip }) as GroupRow) : g;
    if (f.n === 0) continue;
    const known = f.srcNone + KNOWN_SOURCES.reduce((n, _, i) => n + (f[`src${i}`] as number), 0);
    if (known === f.n) {
      const counts: Array<[string, number]> = [
        ['none', f.srcNone],
        ...KNOWN_SOURCES.map((src, i): [string, number] => [src, f[`src${i}`] as number]),
      ];
      for (const [src, n] of counts.sort((x, y) => (x[0] < y[0] ? -1 : 1))) if (n > 0) a.energySources[src] = n;
    } else {
      for (const r of bySource.all({ ...cell, ...skip }) as Array<{ src: string; n: number }>)
        a.energySources[r.src] = r.n;
    }
    const means = Object.fromEntries(METRIC_COLUMNS.map((_, i) => [`m${i}`, f[`m${i}`]]));
    const d = deviations[ids ? 1 : 0].get({ ...cell, ...(ids ? skip : {}), ...means }) as Record<string, number | null>;
    METRIC_KEYS.forEach((k, i) => {
      const n = d[`n${i}`] ?? 0;
      const m = f[`m${i}`] as number | null;
      const ss = d[`ss${i}`];
      a.metrics[k] =
        n > 0 && m != null
          ? summaryFromMoments(n, m, n > 1 && ss != null ? Math.sqrt(Math.max(0, ss) / (n - 1)) : null)
          : null;
    });
  }
  for (const a of out.values()) {
    a.flags = sortedKeys(a.flags);
    a.excluded.reasons = sortedKeys(a.excluded.reasons);
  }
  return { cells: out, provenance: provenanceOf(db, campaignId, succeeded), leftOutIds: [...leftOut.values()].flat() };
}

/** The same counts with their keys in SQLite's (binary) text order, as the writers list them. */
function sortedKeys(o: Record<string, number>): Record<string, number> {
  const keys = Object.keys(o);
  const bytes = (x: string) => Buffer.from(x);
  keys.sort((x, y) => Buffer.compare(bytes(x), bytes(y)));
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

/** Per-cell aggregates only (see readCampaignRuns). */
export function aggregateRuns(db: DB, campaignId: string, includeFlagged = false): Map<string, CellAggregate> {
  return readCampaignRuns(db, campaignId, includeFlagged).cells;
}

function tally(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function sorted(map: Map<string, number>): Counted[] {
  return [...map]
    .map(([value, runs]) => ({ value, runs }))
    .sort((a, b) => b.runs - a.runs || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Software, hardware and meters the succeeded runs recorded (see readCampaignRuns). */
export function readProvenance(db: DB, campaignId: string): Provenance {
  return readCampaignRuns(db, campaignId).provenance;
}

/**
 * Tallies of the succeeded runs' provenance from the main pass' groups: a cell whose runs share
 * one node and one run_setup is tallied whole; any other cell is counted again by node and setup.
 */
function provenanceOf(db: DB, campaignId: string, succeeded: Map<CellAggregate, GroupRow>): Provenance {
  const ffmpeg = new Map<string, number>();
  const cpu = new Map<string, number>();
  const kernel = new Map<string, number>();
  const gpu = new Map<string, number>();
  const nodes = new Map<string, number>();
  const classes = new Map<string, number>();
  const meterCounts = new Map<string, number>();
  const setups = new Map<number, unknown[]>();
  for (const r of db.prepare('SELECT id, key FROM run_setup').iterate() as IterableIterator<{
    id: number;
    key: string;
  }>)
    setups.set(r.id, JSON.parse(r.key) as unknown[]);
  const bySetup = db.prepare(
    `SELECT setup_id setupId, node_id nodeId, COUNT(*) n FROM run WHERE ${CELL} GROUP BY setup_id, node_id`,
  );
  const add = (setupId: number | null, nodeId: string, cls: string, n: number) => {
    const [v, c, k, g, meters] = (setupId != null ? (setups.get(setupId) ?? []) : []) as [
      unknown,
      unknown,
      unknown,
      unknown,
      unknown,
    ];
    const text = (x: unknown, absent: string) => (x == null ? absent : String(x));
    tally(ffmpeg, text(v, '(not recorded)'), n);
    tally(cpu, text(c, '(not recorded)'), n);
    tally(kernel, text(k, '(not recorded)'), n);
    tally(gpu, text(g, '(no GPU)'), n);
    tally(nodes, nodeId, n);
    tally(classes, cls, n);
    for (const m of Array.isArray(meters)
      ? (meters as Array<{ meter?: unknown; source?: unknown; valid?: unknown; state?: unknown }>)
      : []) {
      // A meter the machine does not have is `absent`, not invalid; records from before meter states say only valid or not.
      const state: MeterState =
        m.state === 'absent' || m.state === 'unusable' || m.state === 'in-use'
          ? m.state
          : m.valid === true
            ? 'in-use'
            : 'unusable';
      tally(meterCounts, JSON.stringify([String(m.meter), String(m.source), m.valid === true, state]), n);
    }
  };
  for (const [a, g] of succeeded) {
    if (g.setupLo === g.setupHi && g.nodeLo === g.nodeHi) {
      add(g.setupLo, g.nodeLo, a.hardwareClass, g.n);
      continue;
    }
    for (const r of bySetup.all({ c: campaignId, s: a.scenarioId, cls: a.hardwareClass, kind: a.energyKind }) as Array<{
      setupId: number | null;
      nodeId: string;
      n: number;
    }>) {
      add(r.setupId, r.nodeId, a.hardwareClass, r.n);
    }
  }
  const meters = [...meterCounts]
    .map(([key, runs]) => {
      const [meter, source, valid, state] = JSON.parse(key) as [string, string, boolean, MeterState];
      return { meter, source, valid, state, runs };
    })
    .sort(
      (a, b) =>
        (a.meter < b.meter ? -1 : a.meter > b.meter ? 1 : 0) ||
        (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) ||
        Number(b.valid) - Number(a.valid),
    );
  const idleBaselines = (
    db
      .prepare(
        'SELECT node_id, measured_at, seconds, total_w, source FROM idle_baseline WHERE campaign_id = ? ORDER BY measured_at, id',
      )
      .all(campaignId) as Array<{
      node_id: string;
      measured_at: number;
      seconds: number;
      total_w: number;
      source: string;
    }>
  ).map((r) => ({
    nodeId: r.node_id,
    measuredAt: new Date(r.measured_at).toISOString(),
    seconds: r.seconds,
    totalW: r.total_w,
    source: r.source,
  }));
  return {
    ffmpegVersions: sorted(ffmpeg),
    cpuModels: sorted(cpu),
    kernels: sorted(kernel),
    gpus: sorted(gpu),
    nodes: sorted(nodes),
    hardwareClasses: sorted(classes),
    meters,
    idleBaselines,
  };
}

/** The counted runs of one cell on one node: the node's cost figures and the means the cost formulas need. */
export interface NodeRuns {
  nodeId: string;
  runs: number;
  figures: NodeCostFigures;
  jPerEncodedMinute: number | null;
  machineSeconds: number | null;
  mediaSeconds: number | null;
}

/**
 * The counted runs of each cell (scenario, class, kind) grouped by node, with the node's cost
 * figures (its cost.* labels) and the means the cost formulas need: each run is priced with its
 * own node's figures (analyzers/cost.ts rowCost). A node missing from the node table has none.
 */
export function readNodeRuns(db: DB, campaignId: string, leftOutIds: readonly number[]): Map<string, NodeRuns[]> {
  const labels = new Map<string, string[]>();
  for (const r of db.prepare('SELECT id, labels FROM node').all() as Array<{ id: string; labels: string }>)
    labels.set(r.id, JSON.parse(r.labels) as string[]);
  const out = new Map<string, NodeRuns[]>();
  const rows = db
    .prepare(
      `SELECT scenario_id s, hardware_class cls, energy_kind kind, node_id, COUNT(*) n, AVG(${COLUMN.jPerMin}) j, AVG(COALESCE(window_s, wall_s)) machine, AVG(media_seconds) media
         FROM run WHERE campaign_id = @c AND status = 'succeeded' ${NOT_LEFT_OUT}
        GROUP BY scenario_id, hardware_class, energy_kind, node_id ORDER BY scenario_id, hardware_class, energy_kind, node_id`,
    )
    .all({ c: campaignId, out: JSON.stringify(leftOutIds) }) as Array<{
    s: number;
    cls: string;
    kind: EnergyKind;
    node_id: string;
    n: number;
    j: number | null;
    machine: number | null;
    media: number | null;
  }>;
  for (const r of rows) {
    const key = cellKey(r.s, r.cls, r.kind);
    const list = out.get(key) ?? out.set(key, []).get(key)!;
    list.push({
      nodeId: r.node_id,
      runs: r.n,
      figures: nodeCostFigures(labels.get(r.node_id) ?? [], `node ${r.node_id} (labels in the results database)`),
      jPerEncodedMinute: r.j,
      machineSeconds: r.machine,
      mediaSeconds: r.media,
    });
  }
  return out;
}

/** A campaign's succeeded runs grouped by the values at the given provenance JSON paths, their meters, hardware class and node. */
export function provenanceGroups(
  db: DB,
  campaignId: string,
  paths: readonly string[],
): Array<{ values: unknown[]; meters: unknown; cls: string; nodeId: string; n: number }> {
  const rows = db
    .prepare(
      `SELECT ${paths.map((p, i) => `json_extract(provenance, '${p}') v${i}`).join(', ')}, json_extract(provenance, '$.meters') meters, hardware_class cls, node_id, COUNT(*) n
       FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY ${paths.map((_, i) => `v${i}`).join(', ')}, meters, cls, node_id`,
    )
    .all(campaignId) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    values: paths.map((_, i) => r[`v${i}`]),
    meters: r.meters,
    cls: String(r.cls),
    nodeId: String(r.node_id),
    n: r.n as number,
  }));
}
