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
import { ReadPool, type ReadTask } from './read-pool.ts';

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
/** Names of the means in a row of FIGURES, the same as the parameters SQUARES binds them to. */
const MEANS = METRIC_COLUMNS.map((_, i) => `m${i}` as const);
const JPERMIN = `m${METRIC_KEYS.indexOf('jPerMin')}` as const;
const MEDIA = `m${METRIC_KEYS.indexOf('mediaSeconds')}` as const;
/** Energy sources a cell of one source may hold without being counted again by source. */
const KNOWN_SOURCES: readonly string[] = ['estimate', 'mixed', 'nvml', 'rapl'];
/** A cell's succeeded runs, in stored order through the run_stratum index (migration 6). */
const CELL = `campaign_id = @c AND scenario_id = @s AND hardware_class = @cls AND energy_kind = @kind AND status = 'succeeded'`;
const NOT_LEFT_OUT = `AND run.id NOT IN (SELECT value FROM json_each(@out))`;

/** Counts, sources, the means of the figures and the machine time a cost needs, of a set of runs (one row per group). */
interface Figures {
  n: number;
  /** Runs with an energy source, and the lowest and highest one: a cell of one source needs no count by source. */
  srcN: number;
  srcLo: string | null;
  srcHi: string | null;
  /** Mean of COALESCE(window_s, wall_s): the machine time analyzers/cost.ts prices. */
  machine: number | null;
  [mean: `m${number}`]: number | null;
}

interface GroupRow extends Figures {
  s: number;
  cls: string | null;
  kind: EnergyKind;
  status: 'succeeded' | 'failed' | 'canceled';
  setupLo: number | null;
  setupHi: number | null;
  nodeLo: string;
  nodeHi: string;
}

const FIGURES = [
  'COUNT(*) n',
  'COUNT(energy_source) srcN, MIN(energy_source) srcLo, MAX(energy_source) srcHi',
  ...METRIC_COLUMNS.map((c, i) => `AVG(${c}) m${i}`),
  'AVG(COALESCE(window_s, wall_s)) machine',
].join(', ');

/** Figures every run has (NOT NULL in the run table since migration 1): their count is the runs', not counted again. */
const NOT_NULL: ReadonlySet<string> = new Set(['wall_s', 'media_seconds', 'output_bytes']);
/** Per figure: how many runs have it, and the sum of their squared deviations from its mean (bound as @m<i>): the exact two-pass variance. */
const SQUARES = METRIC_COLUMNS.map(
  (c, i) => `${NOT_NULL.has(c) ? '' : `COUNT(${c}) n${i}, `}SUM((${c} - @m${i}) * (${c} - @m${i})) ss${i}`,
).join(', ');

/**
 * The report's statements, by name; the read pool prepares them on both of its connections.
 * `groups` and `byNode` read a range of scenarios, the others one cell, through the run_stratum index.
 */
const READS = {
  groups: `SELECT scenario_id s, hardware_class cls, energy_kind kind, status, MIN(setup_id) setupLo, MAX(setup_id) setupHi, MIN(node_id) nodeLo, MAX(node_id) nodeHi, ${FIGURES}
       FROM run WHERE campaign_id = @c AND scenario_id >= @lo AND scenario_id < @hi GROUP BY scenario_id, hardware_class, energy_kind, status`,
  counted: `SELECT ${FIGURES} FROM run WHERE ${CELL} ${NOT_LEFT_OUT}`,
  bySource: `SELECT COALESCE(energy_source, 'none') src, COUNT(*) n FROM run WHERE ${CELL} ${NOT_LEFT_OUT} GROUP BY src ORDER BY src`,
  deviations: `SELECT ${SQUARES} FROM run WHERE ${CELL}`,
  deviationsCounted: `SELECT ${SQUARES} FROM run WHERE ${CELL} ${NOT_LEFT_OUT}`,
  byNode: `SELECT scenario_id s, hardware_class cls, energy_kind kind, node_id, COUNT(*) n, AVG(${COLUMN.jPerMin}) j, AVG(COALESCE(window_s, wall_s)) machine, AVG(media_seconds) media
       FROM run WHERE campaign_id = @c AND scenario_id >= @lo AND scenario_id < @hi AND status = 'succeeded' ${NOT_LEFT_OUT}
       GROUP BY scenario_id, hardware_class, energy_kind, node_id ORDER BY scenario_id, hardware_class, energy_kind, node_id`,
  bySetup: `SELECT setup_id setupId, node_id nodeId, COUNT(*) n FROM run WHERE ${CELL} GROUP BY setup_id, node_id`,
  attention: `SELECT scenario_id s, hardware_class cls, energy_kind kind, flags, MAX(net_j) netJ, COUNT(*) n, json_group_array(id) ids
       FROM run WHERE campaign_id = @c AND status = 'succeeded' AND (flags <> '[]' OR net_j <= 0)
       GROUP BY scenario_id, hardware_class, energy_kind, flags, net_j <= 0`,
} as const;
type ReadName = keyof typeof READS;
const READ_NAMES = Object.keys(READS) as ReadName[];
const READ_SQL = READ_NAMES.map((k) => READS[k]);
const task = (name: ReadName, params: Record<string, unknown>, all = false): ReadTask => ({
  statement: READ_NAMES.indexOf(name),
  params,
  all,
});

/** Scenario ranges the grouped pass is cut into, so both readers share it. */
const GROUP_RANGES = 32;
/** From about this many runs in the campaign the report reads with a second thread (its start costs ~0.1 s of CPU). */
export const THREAD_FROM_RUNS = 50_000;

/** The counted runs of one cell on one node. */
interface NodeRow {
  node_id: string;
  n: number;
  j: number | null;
  machine: number | null;
  media: number | null;
}

/**
 * Succeeded runs of one cell that may be left out of the statistics (flagged, or with a
 * non-positive net figure) and carry the same flags on the same side of zero: the rule's
 * verdict on one of them (netJ is one of theirs) is its verdict on each.
 */
interface AttentionGroup {
  s: number;
  cls: string;
  kind: EnergyKind;
  flags: string;
  netJ: number | null;
  n: number;
  /** JSON array of the runs' ids. */
  ids: string;
}

export interface CampaignRuns {
  cells: Map<string, CellAggregate>;
  provenance: Provenance;
  /** Per cell (cellKey): its counted runs grouped by node, for the cost per row. */
  nodeRuns: Map<string, NodeRuns[]>;
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

export interface ReadCampaignOptions {
  /** Count flagged runs in the statistics (a non-positive net figure stays out regardless). */
  includeFlagged?: boolean;
  /** Read with a second thread from this many runs on (estimated from the first scenarios); default THREAD_FROM_RUNS. */
  threadFromRuns?: number;
  /** Wait up to this many ms for that thread to be ready before the first pass (tests: so it surely takes part); default 0. */
  awaitThreadMs?: number;
}

/**
 * Per (scenario, hardware class, energy kind): counts, moments of every figure over the
 * succeeded runs that count (flagged and non-positive-net runs left out unless
 * includeFlagged; a non-positive net figure always), energy sources, flags and the reasons
 * runs were left out; the counted runs per node with the means their cost needs; and the
 * provenance tallies of the succeeded runs. Everything is aggregated inside SQLite over the
 * run's stratum columns (migration 6), so memory follows cells, not runs, and no run's JSON
 * is parsed except the few flagged or non-positive ones: one grouped pass in run_stratum order
 * gives counts and means, then one pass per cell the squared deviations from its mean (so the
 * variance is exact). On a large campaign a worker thread with its own connection takes part
 * of these passes (store/read-pool.ts); each figure is computed by the same statement over the
 * same runs in the same order either way. Failed and canceled attempts carry no energy source:
 * they are counted on the cell of their scenario and class with the most succeeded runs
 * (measured first).
 */
export function readCampaignRuns(db: DB, campaignId: string, options: ReadCampaignOptions = {}): CampaignRuns {
  const pool = new ReadPool(db, READ_SQL);
  try {
    return readWith(pool, db, campaignId, options);
  } finally {
    pool.close();
  }
}

function readWith(pool: ReadPool, db: DB, campaignId: string, options: ReadCampaignOptions): CampaignRuns {
  const includeFlagged = options.includeFlagged ?? false;
  const c = campaignId;
  const ids = (
    db.prepare('SELECT id FROM scenario WHERE campaign_id = ? ORDER BY id').all(c) as Array<{ id: number }>
  ).map((r) => r.id);
  const per = Math.max(1, Math.ceil(ids.length / GROUP_RANGES));
  const bounds = [Number.MIN_SAFE_INTEGER];
  for (let i = per; i < ids.length; i += per) bounds.push(ids[i]);
  bounds.push(Number.MAX_SAFE_INTEGER);
  const ranges = bounds.slice(1).map((hi, i) => ({ c, lo: bounds[i], hi }));
  const firstRange = db
    .prepare('SELECT COUNT(*) n FROM run WHERE campaign_id = @c AND scenario_id >= @lo AND scenario_id < @hi')
    .get(ranges[0]) as { n: number };
  if (firstRange.n * ranges.length >= (options.threadFromRuns ?? THREAD_FROM_RUNS) && pool.startThread())
    pool.waitForThread(options.awaitThreadMs ?? 0);

  const out = new Map<string, CellAggregate>();
  const get = (s: number, cl: string, k: EnergyKind): CellAggregate => {
    const key = cellKey(s, cl, k);
    let a = out.get(key);
    if (!a) out.set(key, (a = emptyCell(s, cl, k)));
    return a;
  };
  // The grouped pass, and beside it the runs that may be left out.
  const [attention, ...ranged] = pool.run([
    task('attention', { c }, true),
    ...ranges.map((r) => task('groups', r, true)),
  ]) as [AttentionGroup[], ...GroupRow[][]];
  const groups = ranged.flat();
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
  const homes = new Map<string, CellAggregate[]>();
  for (const a of out.values()) {
    const k = `${a.scenarioId}\u0000${a.hardwareClass}`;
    (homes.get(k) ?? homes.set(k, []).get(k)!).push(a);
  }
  for (const u of unplaced) {
    const home = (homes.get(`${u.s}\u0000${u.cls}`) ?? [])
      .slice()
      .sort((a, b) => b.runs.succeeded - a.runs.succeeded || KIND_ORDER[a.energyKind] - KIND_ORDER[b.energyKind])[0];
    (home ?? get(u.s, u.cls, 'none')).runs[u.status] += u.n;
  }

  // The runs that may be left out: the rule is strata.ts' own, applied to these runs only.
  // Their ids stay the JSON arrays SQLite wrote until a statement needs them: at 1M runs most
  // belong to cells left out whole, which are never read again (parsing all took 30–80 ms while
  // the second reader waited).
  const leftOut = new Map<CellAggregate, string[]>();
  const leftOutIds = (a: CellAggregate): number[] =>
    (leftOut.get(a) ?? []).flatMap((ids) => JSON.parse(ids) as number[]);
  const excludingFlags: readonly string[] = includeFlagged ? [NET_NONPOSITIVE] : [NET_NONPOSITIVE, ...EXCLUDING_FLAGS];
  for (const r of attention) {
    const a = get(r.s, r.cls, r.kind);
    const flags = JSON.parse(r.flags) as unknown[];
    const netNonPositive = r.netJ != null && r.netJ <= 0;
    if (exclusionReasons({ flags: flags.map(String), netJ: r.netJ }, includeFlagged).length === 0) {
      for (const f of flags) a.flags[String(f)] = (a.flags[String(f)] ?? 0) + r.n;
      continue;
    }
    a.excluded.runs += r.n;
    (leftOut.get(a) ?? leftOut.set(a, []).get(a)!).push(r.ids);
    for (const f of flags)
      if (excludingFlags.includes(f as string))
        a.excluded.reasons[f as string] = (a.excluded.reasons[f as string] ?? 0) + r.n;
    if (netNonPositive && !flags.includes(NET_NONPOSITIVE))
      a.excluded.reasons[NET_NONPOSITIVE] = (a.excluded.reasons[NET_NONPOSITIVE] ?? 0) + r.n;
  }

  // Per cell: the figures of the runs that count (the grouped pass' own, or the cell again
  // without its left-out runs), then their squared deviations, sources, nodes and setups.
  interface Cell {
    a: CellAggregate;
    g: GroupRow;
    params: Record<string, unknown>;
    counted: boolean;
    f?: Figures;
    deviations?: Record<string, number | null>;
    sources?: Array<{ src: string; n: number }>;
    nodes?: NodeRow[];
    setups?: Array<{ setupId: number | null; nodeId: string; n: number }>;
  }
  const cells: Cell[] = [...succeeded].map(([a, g]) => {
    const counted = leftOut.has(a);
    const params: Record<string, unknown> = { c, s: a.scenarioId, cls: a.hardwareClass, kind: a.energyKind };
    // A cell left out whole is not read again, so it gets no @out: a statement that needed one would fail loudly.
    if (!counted) params.out = '[]';
    else if (a.excluded.runs < a.runs.succeeded) params.out = JSON.stringify(leftOutIds(a));
    return { a, g, params, counted, f: counted ? undefined : g };
  });
  /** A statement and what to do with its answer: a batch of them runs on both readers. */
  type Job = [ReadTask, (result: unknown) => void];
  const runJobs = (jobs: Job[]) => pool.run(jobs.map((j) => j[0])).forEach((r, i) => jobs[i][1](r));
  const figureJobs = (cell: Cell): Job[] => {
    const f = cell.f!;
    if (f.n === 0) return [];
    // Built key by key from fixed names: spreading and Object.fromEntries cost ~50 µs a cell on this cold path.
    const { c: campaign, s, cls, kind, out } = cell.params;
    const params: Record<string, unknown> = cell.counted
      ? { c: campaign, s, cls, kind, out }
      : { c: campaign, s, cls, kind };
    for (const m of MEANS) params[m] = f[m];
    const jobs: Job[] = [
      [
        task(cell.counted ? 'deviationsCounted' : 'deviations', params),
        (r) => (cell.deviations = r as Cell['deviations']),
      ],
    ];
    if (!(f.srcN === 0 || (f.srcLo === f.srcHi && KNOWN_SOURCES.includes(f.srcLo!))))
      jobs.push([task('bySource', cell.params, true), (r) => (cell.sources = r as Cell['sources'])]);
    return jobs;
  };
  const first: Job[] = [];
  for (const cell of cells) {
    // A cell whose every run is left out has no figures: nothing to read.
    if (cell.counted && cell.a.excluded.runs === cell.a.runs.succeeded)
      cell.f = { n: 0, srcN: 0, srcLo: null, srcHi: null, machine: null };
    else if (cell.counted) first.push([task('counted', cell.params), (r) => (cell.f = r as Figures)]);
    else first.push(...figureJobs(cell));
    if (cell.g.setupLo !== cell.g.setupHi || cell.g.nodeLo !== cell.g.nodeHi) {
      const { out: _, ...whole } = cell.params;
      first.push([task('bySetup', whole, true), (r) => (cell.setups = r as Cell['setups'])]);
    }
  }
  // The counted runs per node of the cells that ran on several nodes: one grouped pass per range of scenarios holding any.
  const byCell = new Map(
    cells.map((cell) => [cellKey(cell.a.scenarioId, cell.a.hardwareClass, cell.a.energyKind), cell]),
  );
  for (const r of ranges) {
    const inRange = cells.filter((x) => x.a.scenarioId >= r.lo && x.a.scenarioId < r.hi);
    if (!inRange.some((x) => x.g.nodeLo !== x.g.nodeHi)) continue;
    const skip = JSON.stringify(inRange.flatMap((x) => leftOutIds(x.a)));
    first.push([
      task('byNode', { ...r, out: skip }, true),
      (rows) => {
        for (const row of rows as Array<NodeRow & { s: number; cls: string; kind: EnergyKind }>) {
          const cell = byCell.get(cellKey(row.s, row.cls, row.kind))!;
          (cell.nodes ??= []).push(row);
        }
      },
    ]);
  }
  runJobs(first);
  runJobs(cells.flatMap((cell) => (cell.counted ? figureJobs(cell) : [])));

  const labels = new Map<string, string[]>();
  for (const r of db.prepare('SELECT id, labels FROM node').all() as Array<{ id: string; labels: string }>)
    labels.set(r.id, JSON.parse(r.labels) as string[]);
  const nodeRuns = new Map<string, NodeRuns[]>();
  for (const { a, g, f, deviations: d, sources, nodes } of cells) {
    if (f!.n === 0) continue;
    const known = f!;
    if (sources) for (const r of sources) a.energySources[r.src] = r.n;
    else if (known.srcN === 0) a.energySources.none = known.n;
    else {
      const counts: Array<[string, number]> = [
        ['none', known.n - known.srcN],
        [known.srcLo!, known.srcN],
      ];
      for (const [src, n] of counts.sort((x, y) => (x[0] < y[0] ? -1 : 1))) if (n > 0) a.energySources[src] = n;
    }
    METRIC_KEYS.forEach((k, i) => {
      const n = NOT_NULL.has(METRIC_COLUMNS[i]) ? known.n : (d![`n${i}`] ?? 0);
      const m = known[`m${i}`];
      const ss = d![`ss${i}`];
      a.metrics[k] =
        n > 0 && m != null
          ? summaryFromMoments(n, m, n > 1 && ss != null ? Math.sqrt(Math.max(0, ss) / (n - 1)) : null)
          : null;
    });
    const byNode = nodes ?? [
      { node_id: g.nodeLo, n: known.n, j: known[JPERMIN], machine: known.machine, media: known[MEDIA] },
    ];
    nodeRuns.set(
      cellKey(a.scenarioId, a.hardwareClass, a.energyKind),
      byNode.map((r) => ({
        nodeId: r.node_id,
        runs: r.n,
        figures: nodeCostFigures(labels.get(r.node_id) ?? [], `node ${r.node_id} (labels in the results database)`),
        jPerEncodedMinute: r.j,
        machineSeconds: r.machine,
        mediaSeconds: r.media,
      })),
    );
  }
  for (const a of out.values()) {
    a.flags = sortedKeys(a.flags);
    a.excluded.reasons = sortedKeys(a.excluded.reasons);
  }
  return { cells: out, provenance: provenanceOf(db, campaignId, cells), nodeRuns };
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
  return readCampaignRuns(db, campaignId, { includeFlagged }).cells;
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
 * one node and one run_setup is tallied whole; any other cell was counted again by node and setup.
 */
function provenanceOf(
  db: DB,
  campaignId: string,
  succeeded: Array<{
    a: CellAggregate;
    g: GroupRow;
    setups?: Array<{ setupId: number | null; nodeId: string; n: number }>;
  }>,
): Provenance {
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
  for (const { a, g, setups: bySetup } of succeeded) {
    if (!bySetup) add(g.setupLo, g.nodeLo, a.hardwareClass, g.n);
    else for (const r of bySetup) add(r.setupId, r.nodeId, a.hardwareClass, r.n);
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
