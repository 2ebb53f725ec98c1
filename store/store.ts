import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.ts';
import { energyKindOf, hardwareClassOf } from '../core/strata.ts';
import type {
  CampaignPlan,
  Job,
  JobState,
  NodeInfo,
  NodeState,
  Placement,
  Provenance,
  QueueClass,
  RunRecord,
  Scenario,
} from '../core/types.ts';
import { qualityPerJoule } from '../core/quality-per-joule.ts';
import {
  JOB_STATES,
  NODE_STATES,
  OPEN_JOB_STATES,
  QUEUE_CLASSES,
  zeroCounts,
  type IdleBaselineRow,
} from '../core/contracts/index.ts';

const OPEN_STATES_SQL = OPEN_JOB_STATES.map((s) => `'${s}'`).join(',');

export type DB = Database.Database;

export interface CampaignRow {
  id: string;
  name: string;
  matrixHash: string;
  matrixFormat: string;
  settings: { repetitions: CampaignPlan['repetitions']; cooldownS: number; idleBaselineS: number; seed: number };
  preflight: unknown;
  createdAt: number;
  status: 'running' | 'done' | 'canceled';
  placement: Placement;
}

export type { IdleBaselineRow };
export { qualityPerJoule };

/** Opens (creating if needed) a results database in WAL mode and applies pending migrations. */
export function openDatabase(path: string): DB {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // FULL: a result answered 201 is on disk before the answer leaves (NORMAL in WAL mode may lose
  // the last commits on a power cut, after the agent already dropped its spooled copy).
  db.pragma('synchronous = FULL');
  migrate(db);
  return db;
}

export function migrate(db: DB): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const latest = Math.max(0, ...MIGRATIONS.map((m) => m.version));
  const known = Math.max(0, ...applied);
  if (known > latest) {
    throw new Error(`results database schema version ${known} is newer than this ffwatt (${latest}): upgrade ffwatt`);
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    })();
  }
  return latest;
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/**
 * The provenance fields a report tallies, as one JSON array: the key of the run's run_setup row
 * (migration 6 builds the same text with json_extract over those paths).
 */
export function setupKey(
  p: Partial<Pick<Provenance, 'ffmpegVersion' | 'cpuModel' | 'kernel' | 'gpu' | 'meters'>> | null | undefined,
): string {
  return JSON.stringify([
    p?.ffmpegVersion ?? null,
    p?.cpuModel ?? null,
    p?.kernel ?? null,
    p?.gpu ?? null,
    p?.meters ?? null,
  ]);
}
const parse = <T>(s: string | null): T => (s == null ? (null as T) : (JSON.parse(s) as T));

interface JobRow {
  id: string;
  campaign_id: string;
  scenario_id: number;
  repetition: number;
  state: JobState;
  priority: number;
  queue_class: QueueClass;
  seq: number;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  node_constraint: string;
  cooldown_s: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  last_error: string | null;
  placement_target: string | null;
  lease_id: string | null;
  lease_started_at: number | null;
  spec: string;
}

/** A job as stored: the Job plus the master-only fields (last error, current lease id and start). */
export type StoredJob = Job & { lastError: string | null; leaseId: string | null; leaseStartedAt: number | null };

function toJob(r: JobRow): StoredJob {
  return jobOfRow(r, JSON.parse(r.spec) as Scenario);
}

/** A job row as a job, with the cell it is given (parsed whole, kept, or only what a caller reads). */
function jobOfRow<S>(r: Omit<JobRow, 'spec'>, scenario: S): Omit<StoredJob, 'scenario'> & { scenario: S } {
  return {
    id: r.id,
    campaignId: r.campaign_id,
    scenarioId: r.scenario_id,
    scenario,
    repetition: r.repetition,
    state: r.state,
    priority: r.priority,
    queueClass: r.queue_class,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    nodeConstraint: r.node_constraint === '[]' ? [] : (JSON.parse(r.node_constraint) as string[]),
    cooldownS: r.cooldown_s,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    lastError: r.last_error,
    placementTarget: r.placement_target ?? null,
    leaseId: r.lease_id,
    leaseStartedAt: r.lease_started_at,
  };
}

/**
 * A job as checking and ending a lease reads it (store.jobLease): every job field, and of the cell
 * only its warm-up and duration (the lease age limit), so the cell's JSON is not read.
 */
export type JobLease = Omit<StoredJob, 'scenario'> & { scenario: Pick<Scenario, 'warmupS' | 'durationS'> };

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A queued job as a claim first sees it (store.claimCandidateKeys). */
export interface ClaimCandidate {
  id: string;
  attempts: number;
  startedAt: number | null;
  /** JSON array text, usually `[]`. */
  nodeConstraint: string;
  placementTarget: string | null;
  codec: string;
  encoder: string | null;
}

const JOB_SELECT = 'SELECT job.*, scenario.spec FROM job JOIN scenario ON scenario.id = job.scenario_id';

/** Row-level access to the results database. Policy (leases, retries, repetitions) lives in queue.ts. */
export class Store {
  /** Statements prepared once, for the calls made per request or per row. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly scenarioSpecs = new Map<number, Scenario>();
  /**
   * Bumped whenever a job becomes queued (inserted, requeued, retried): the master wakes its
   * long-poll claims when it moves. A rolled-back change bumps it too; a spurious wake is harmless.
   */
  queuedVersion = 0;

  /**
   * One transaction function for every `tx` (better-sqlite3 builds four wrappers per
   * `db.transaction()` call): BEGIN IMMEDIATE at the top level, a savepoint when nested.
   */
  private readonly runImmediate: (fn: () => unknown) => unknown;

  constructor(readonly db: DB) {
    this.runImmediate = db.transaction((fn: () => unknown) => fn()).immediate;
  }

  static open(path: string): Store {
    return new Store(openDatabase(path));
  }

  /** A read-only connection beside the writer (WAL): the master's /metrics thread reads through one. */
  static openReadOnly(path: string): Store {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return new Store(db);
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Throws when the database cannot answer (the master's readiness check). */
  ping(): void {
    this.statement('SELECT 1').get();
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.runImmediate(fn) as T;
  }

  // campaigns
  insertCampaign(
    id: string,
    plan: CampaignPlan,
    createdAt: number,
    preflight: unknown = null,
    placement: Placement = 'any',
  ): void {
    this.statement(
      `INSERT INTO campaign (id, name, matrix_text, matrix_hash, matrix_format, settings, preflight, created_at, status, placement)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
    ).run(
      id,
      plan.name,
      plan.matrixText,
      plan.matrixHash,
      plan.matrixFormat,
      json({
        repetitions: plan.repetitions,
        cooldownS: plan.cooldownS,
        idleBaselineS: plan.idleBaselineS,
        seed: plan.seed,
      }),
      json(preflight),
      createdAt,
      placement,
    );
  }

  insertScenario(campaignId: string, s: Scenario): number {
    const info = this.statement(
      `INSERT INTO scenario (campaign_id, key, label, mode, codec, encoder, preset, rate_kind, rate_value, width, height, fps, streams, warmup_s, duration_s, spec)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      campaignId,
      s.key,
      s.label,
      s.mode,
      s.codec,
      s.encoder ?? null,
      s.preset,
      s.rate.kind,
      s.rate.value,
      s.outputs[0]?.resolution.width ?? s.input.resolution.width,
      s.outputs[0]?.resolution.height ?? s.input.resolution.height,
      s.outputs[0]?.fps ?? s.input.fps,
      s.streams,
      s.warmupS,
      s.durationS,
      json(s),
    );
    return Number(info.lastInsertRowid);
  }

  getCampaign(id: string): CampaignRow | null {
    const r = this.statement('SELECT * FROM campaign WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    if (!r) return null;
    return {
      id: r.id as string,
      name: r.name as string,
      matrixHash: r.matrix_hash as string,
      matrixFormat: r.matrix_format as string,
      settings: JSON.parse(r.settings as string),
      preflight: parse(r.preflight as string | null),
      createdAt: r.created_at as number,
      status: r.status as CampaignRow['status'],
      placement: (r.placement as Placement | undefined) ?? 'any',
    };
  }

  /** Campaigns, newest first. */
  listCampaigns(limit = 1000): CampaignRow[] {
    return (
      this.statement('SELECT id FROM campaign ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as Array<{
        id: string;
      }>
    ).map((r) => this.getCampaign(r.id)!);
  }

  setCampaignStatus(id: string, status: CampaignRow['status']): void {
    this.statement('UPDATE campaign SET status = ? WHERE id = ?').run(status, id);
  }

  scenarios(campaignId: string): Array<Scenario & { id: number }> {
    return (
      this.statement('SELECT id, spec FROM scenario WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<{
        id: number;
        spec: string;
      }>
    ).map((r) => ({ ...(JSON.parse(r.spec) as Scenario), id: r.id }));
  }

  // jobs
  insertJob(
    j: Omit<
      Job,
      | 'scenario'
      | 'state'
      | 'attempts'
      | 'leaseOwner'
      | 'leaseExpiresAt'
      | 'startedAt'
      | 'finishedAt'
      | 'placementTarget'
    > & { seq: number; placementTarget?: string | null },
  ): void {
    this.statement(
      `INSERT INTO job (id, campaign_id, scenario_id, repetition, state, priority, queue_class, seq, attempts, max_attempts, node_constraint, cooldown_s, created_at, placement_target)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
    ).run(
      j.id,
      j.campaignId,
      j.scenarioId,
      j.repetition,
      j.priority,
      j.queueClass,
      j.seq,
      j.maxAttempts,
      json(j.nodeConstraint),
      j.cooldownS,
      j.createdAt,
      j.placementTarget ?? null,
    );
    this.queuedVersion++;
  }

  getJob(id: string): StoredJob | null {
    const r = this.statement(`${JOB_SELECT} WHERE job.id = ?`).get(id) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  /**
   * Leases a queued job (a claim): the lease fields written and the job returned by the same
   * statement. The cell comes from the parsed cells kept per scenario id (a cell never changes).
   */
  leaseJob(
    id: string,
    lease: {
      attempts: number;
      owner: string;
      expiresAt: number;
      leaseId: string;
      startedAt: number;
      firstStartedAt: number;
    },
  ): StoredJob | null {
    const r = this.statement(
      `UPDATE job SET state = 'leased', attempts = ?, lease_owner = ?, lease_expires_at = ?, lease_id = ?,
              lease_started_at = ?, started_at = ?
       WHERE id = ? RETURNING *`,
    ).get(lease.attempts, lease.owner, lease.expiresAt, lease.leaseId, lease.startedAt, lease.firstStartedAt, id) as
      | Omit<JobRow, 'spec'>
      | undefined;
    return r ? jobOfRow(r, this.scenarioSpec(r.scenario_id)) : null;
  }

  /** A cell as stored, parsed once and frozen (cells are written once, with their campaign). */
  private scenarioSpec(scenarioId: number): Scenario {
    let spec = this.scenarioSpecs.get(scenarioId);
    if (!spec) {
      const row = this.statement('SELECT spec FROM scenario WHERE id = ?').get(scenarioId) as { spec: string };
      spec = deepFreeze(JSON.parse(row.spec) as Scenario);
      // Bounded: a master running for months forgets old campaigns' cells.
      if (this.scenarioSpecs.size >= 10_000) this.scenarioSpecs.clear();
      this.scenarioSpecs.set(scenarioId, spec);
    }
    return spec;
  }

  jobLease(id: string): JobLease | null {
    const r = this.statement(
      `SELECT job.*, scenario.warmup_s, scenario.duration_s
       FROM job JOIN scenario ON scenario.id = job.scenario_id WHERE job.id = ?`,
    ).get(id) as (Omit<JobRow, 'spec'> & { warmup_s: number; duration_s: number }) | undefined;
    return r ? jobOfRow(r, { warmupS: r.warmup_s, durationS: r.duration_s }) : null;
  }

  listJobs(filter: { campaignId?: string; state?: JobState; limit?: number } = {}): StoredJob[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.campaignId) where.push('job.campaign_id = ?'), args.push(filter.campaignId);
    if (filter.state) where.push('job.state = ?'), args.push(filter.state);
    const sql = `${JOB_SELECT} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY job.seq LIMIT ?`;
    return (this.statement(sql).all(...args, filter.limit ?? 100000) as JobRow[]).map(toJob);
  }

  /** Queued jobs in claim order: live > default > batch, then priority (high first), then FIFO. */
  claimCandidates(limit = 200): StoredJob[] {
    return (
      this.statement(
        `${JOB_SELECT} WHERE job.state = 'queued'
           ORDER BY CASE job.queue_class WHEN 'live' THEN 0 WHEN 'default' THEN 1 ELSE 2 END, job.priority DESC, job.seq
           LIMIT ?`,
      ).all(limit) as JobRow[]
    ).map(toJob);
  }

  /**
   * The queued jobs a claim looks at, in claim order, with only what eligibility needs (no job
   * row or scenario JSON is loaded until one is chosen): those placed on no target or on one of
   * the node's (`node:<id>`, `class:<class>`). `offset` continues past an earlier page.
   */
  claimCandidateKeys(targets: { node: string; class: string }, limit: number, offset = 0): ClaimCandidate[] {
    // LIMIT and OFFSET are written into the SQL: bound as parameters they made this read three
    // times slower (the planner then cannot see the small limit). Callers pass a few fixed pages.
    if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(offset) || limit < 0 || offset < 0)
      throw new Error(`claimCandidateKeys: limit and offset must be whole numbers (got ${limit}, ${offset})`);
    return this.statement(
      `SELECT job.id, job.attempts, job.started_at startedAt, job.node_constraint nodeConstraint, job.placement_target placementTarget,
              scenario.codec, scenario.encoder
       FROM job JOIN scenario ON scenario.id = job.scenario_id
       WHERE job.state = 'queued' AND (job.placement_target IS NULL OR job.placement_target IN (?, ?))
       ORDER BY CASE job.queue_class WHEN 'live' THEN 0 WHEN 'default' THEN 1 ELSE 2 END, job.priority DESC, job.seq
       LIMIT ${limit} OFFSET ${offset}`,
    ).all(targets.node, targets.class) as ClaimCandidate[];
  }

  /** What a claim needs of a node: no hardware or meter JSON parsed. */
  nodeForClaim(
    id: string,
  ): { id: string; hostname: string; encoders: Record<string, string>; hardwareClass?: string } | null {
    const r = this.statement('SELECT id, hostname, encoders, hardware_class hardwareClass FROM node WHERE id = ?').get(
      id,
    ) as { id: string; hostname: string; encoders: string; hardwareClass: string | null } | undefined;
    if (!r) return null;
    return {
      id: r.id,
      hostname: r.hostname,
      encoders: JSON.parse(r.encoders) as Record<string, string>,
      ...(r.hardwareClass ? { hardwareClass: r.hardwareClass } : {}),
    };
  }

  activeJobOf(nodeId: string): StoredJob | null {
    const r = this.statement(
      `${JOB_SELECT} WHERE job.lease_owner = ? AND job.state IN ('leased','running') LIMIT 1`,
    ).get(nodeId) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  expiredLeases(now: number): StoredJob[] {
    return (
      // INDEXED BY: without statistics the planner walks every leased job by state instead.
      (
        this.statement(
          `SELECT job.*, scenario.spec FROM job INDEXED BY job_lease_expiry JOIN scenario ON scenario.id = job.scenario_id
         WHERE job.state IN ('leased','running') AND job.lease_expires_at < ?`,
        ).all(now) as JobRow[]
      ).map(toJob)
    );
  }

  updateJob(
    id: string,
    fields: Partial<
      Record<
        | 'state'
        | 'attempts'
        | 'max_attempts'
        | 'lease_owner'
        | 'lease_expires_at'
        | 'lease_id'
        | 'lease_started_at'
        | 'started_at'
        | 'finished_at'
        | 'last_error'
        | 'priority',
        unknown
      >
    >,
  ): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    const sql = `UPDATE job SET ${keys.map((k) => `${k} = ?`).join(', ')} WHERE id = ?`;
    this.statement(sql).run(...keys.map((k) => (fields as Record<string, unknown>)[k]), id);
    if (fields.state === 'queued') this.queuedVersion++;
  }

  /** A lease extension written later (JobQueue.writePending): only while that same lease is held. */
  extendLeaseIfHeld(jobId: string, nodeId: string, attempt: number, leaseId: string, expiresAt: number): boolean {
    // A running job's extension leaves `state` unassigned (assigning it rewrites the row's state
    // index entries even to the same value); only the first extension moves leased → running.
    const held = 'WHERE id = ? AND lease_owner = ? AND attempts = ? AND lease_id = ?';
    return (
      this.statement(`UPDATE job SET lease_expires_at = ? ${held} AND state = 'running'`).run(
        expiresAt,
        jobId,
        nodeId,
        attempt,
        leaseId,
      ).changes > 0 ||
      this.statement(`UPDATE job SET state = 'running', lease_expires_at = ? ${held} AND state = 'leased'`).run(
        expiresAt,
        jobId,
        nodeId,
        attempt,
        leaseId,
      ).changes > 0
    );
  }

  jobCountsByState(campaignId?: string): Record<JobState, number> {
    const counts = zeroCounts(JOB_STATES);
    const rows = (
      campaignId
        ? this.statement('SELECT state, COUNT(*) n FROM job WHERE campaign_id = ? GROUP BY state').all(campaignId)
        : this.statement('SELECT state, COUNT(*) n FROM job GROUP BY state').all()
    ) as Array<{ state: JobState; n: number }>;
    for (const r of rows) counts[r.state] = r.n;
    return counts;
  }

  /** Whether any job is queued (an index probe). */
  hasQueuedJobs(): boolean {
    return this.statement("SELECT 1 FROM job WHERE state = 'queued' LIMIT 1").get() !== undefined;
  }

  /** Whether the campaign still has a queued, leased or running job (an index probe, not a count). */
  hasOpenJobs(campaignId: string): boolean {
    return (
      this.statement("SELECT 1 FROM job WHERE campaign_id = ? AND state IN ('queued','leased','running') LIMIT 1").get(
        campaignId,
      ) !== undefined
    );
  }

  queueLengthByClass(): Record<QueueClass, number> {
    const out = zeroCounts(QUEUE_CLASSES);
    for (const r of this.statement(
      "SELECT queue_class c, COUNT(*) n FROM job WHERE state = 'queued' GROUP BY queue_class",
    ).all() as Array<{ c: QueueClass; n: number }>) {
      out[r.c] = r.n;
    }
    return out;
  }

  maxRepetition(campaignId: string, scenarioId: number): number {
    const r = this.statement(
      'SELECT MAX(repetition) m, MAX(seq) s FROM job WHERE campaign_id = ? AND scenario_id = ?',
    ).get(campaignId, scenarioId) as { m: number | null };
    return r.m ?? 0;
  }

  /** Jobs of one cell and placement target, and how many of them are still open (queued, leased, running). */
  repetitionCounts(
    campaignId: string,
    scenarioId: number,
    placementTarget: string | null,
  ): { jobs: number; open: number } {
    const r = this.statement(
      `SELECT COUNT(*) n, SUM(state IN (${OPEN_STATES_SQL})) open FROM job
       WHERE campaign_id = ? AND scenario_id = ? AND placement_target IS ?`,
    ).get(campaignId, scenarioId, placementTarget) as { n: number; open: number | null };
    return { jobs: r.n, open: r.open ?? 0 };
  }

  /** Leases in flight (leased, running) now expire at `expiresAt`; returns how many. */
  extendLeasesInFlight(expiresAt: number): number {
    return this.statement("UPDATE job SET lease_expires_at = ? WHERE state IN ('leased','running')").run(expiresAt)
      .changes;
  }

  maxSeq(): number {
    return ((this.statement('SELECT MAX(seq) s FROM job').get() as { s: number | null }).s ?? 0) as number;
  }

  // runs
  getRun(jobId: string, attempt: number): RunRecord | null {
    const r = this.statement('SELECT * FROM run WHERE job_id = ? AND attempt = ?').get(jobId, attempt) as
      | Record<string, unknown>
      | undefined;
    return r ? rowToRun(r) : null;
  }

  /** The lease a stored run was accepted under (null: stored before fencing, or no such run). */
  runLease(jobId: string, attempt: number): { nodeId: string; leaseId: string | null } | null {
    return (
      (this.statement('SELECT node_id nodeId, lease_id leaseId FROM run WHERE job_id = ? AND attempt = ?').get(
        jobId,
        attempt,
      ) as { nodeId: string; leaseId: string | null } | undefined) ?? null
    );
  }

  /** Id of the run_setup row of these provenance fields, added when new. */
  setupId(provenance: Provenance): number {
    const key = setupKey(provenance);
    const found = this.statement('SELECT id FROM run_setup WHERE key = ?').get(key) as { id: number } | undefined;
    return found ? found.id : Number(this.statement('INSERT INTO run_setup (key) VALUES (?)').run(key).lastInsertRowid);
  }

  /** The node of the job's latest run (null: no run yet). */
  lastRunNode(jobId: string): string | null {
    return (
      (this.statement('SELECT node_id FROM run WHERE job_id = ? ORDER BY attempt DESC LIMIT 1').pluck().get(jobId) as
        | string
        | undefined) ?? null
    );
  }

  /** The attempts of one job, oldest first. */
  runAttempts(jobId: string): Array<{ attempt: number; status: string; nodeId: string; error: string | null }> {
    return this.statement(
      'SELECT attempt, status, node_id nodeId, error FROM run WHERE job_id = ? ORDER BY attempt',
    ).all(jobId) as Array<{
      attempt: number;
      status: string;
      nodeId: string;
      error: string | null;
    }>;
  }

  insertRun(
    record: RunRecord,
    job: Pick<Job, 'campaignId' | 'scenarioId'>,
    receivedAt: number,
    leaseId: string | null = null,
  ): void {
    const e = record.energy;
    const firstQ = record.quality?.outputs[0];
    const setupId = this.setupId(record.provenance);
    this.statement(
      `INSERT INTO run (job_id, attempt, campaign_id, scenario_id, node_id, status, exit_code, signal, error, stderr_tail,
           started_at, ended_at, wall_s, media_seconds, frames, output_bytes, bitrate_bps, fps, speed, dropped_frames, dup_frames,
           energy_source, gross_j, idle_w, net_j, avg_w, peak_w, window_s, j_per_encoded_minute, net_j_per_encoded_minute, j_per_frame, j_per_megapixel,
           psnr, ssim, vmaf, quality_per_joule, energy, quality, flags, provenance, received_at, lease_id, hardware_class, energy_kind, setup_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.jobId,
      record.attempt,
      job.campaignId,
      job.scenarioId,
      record.nodeId,
      record.status,
      record.exitCode,
      record.signal,
      record.error,
      record.stderrTail,
      record.startedAt,
      record.endedAt,
      record.wallS,
      record.mediaSeconds,
      record.frames,
      record.outputBytes,
      record.bitrateBps,
      record.fps,
      record.speed,
      record.droppedFrames,
      record.dupFrames,
      e?.source ?? null,
      e?.grossJ ?? null,
      e?.idleW ?? null,
      e?.netJ ?? null,
      e?.avgW ?? null,
      e?.peakW ?? null,
      e?.windowS ?? null,
      e?.jPerEncodedMinute ?? null,
      e?.netJPerEncodedMinute ?? null,
      e?.jPerFrame ?? null,
      e?.jPerMegapixel ?? null,
      firstQ?.psnrAvg ?? null,
      firstQ?.ssim ?? null,
      firstQ?.vmaf?.mean ?? null,
      qualityPerJoule(record),
      e ? json(e) : null,
      record.quality ? json(record.quality) : null,
      json(record.flags),
      json(record.provenance),
      receivedAt,
      leaseId,
      hardwareClassOf(record.provenance),
      energyKindOf(e?.source ?? null),
      setupId,
    );
  }

  /** Runs of a cell; with a placement target (undefined: all targets), only the runs of that target's jobs (null: placement any). */
  runsOfScenario(campaignId: string, scenarioId: number, placementTarget?: string | null): RunRecord[] {
    const rows =
      placementTarget === undefined
        ? this.statement('SELECT * FROM run WHERE campaign_id = ? AND scenario_id = ? ORDER BY id').all(
            campaignId,
            scenarioId,
          )
        : this.statement(
            'SELECT run.* FROM run JOIN job ON job.id = run.job_id WHERE run.campaign_id = ? AND run.scenario_id = ? AND job.placement_target IS ? ORDER BY run.id',
          ).all(campaignId, scenarioId, placementTarget);
    return (rows as Array<Record<string, unknown>>).map(rowToRun);
  }

  runsOfCampaign(campaignId: string): Array<RunRecord & { scenarioId: number }> {
    return (
      this.statement('SELECT * FROM run WHERE campaign_id = ? ORDER BY id').all(campaignId) as Array<
        Record<string, unknown>
      >
    ).map((r) => ({
      ...rowToRun(r),
      scenarioId: r.scenario_id as number,
    }));
  }

  // idle baselines
  insertIdleBaseline(b: IdleBaselineRow): void {
    this.statement(
      'INSERT INTO idle_baseline (campaign_id, node_id, measured_at, seconds, total_w, source, zones) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(b.campaignId, b.nodeId, b.measuredAt, b.seconds, b.totalW, b.source, json(b.zones));
  }

  idleBaselines(campaignId: string): IdleBaselineRow[] {
    return (
      this.statement('SELECT * FROM idle_baseline WHERE campaign_id = ? ORDER BY measured_at').all(campaignId) as Array<
        Record<string, unknown>
      >
    ).map((r) => ({
      campaignId: r.campaign_id as string,
      nodeId: r.node_id as string,
      measuredAt: r.measured_at as number,
      seconds: r.seconds as number,
      totalW: r.total_w as number,
      source: r.source as string,
      zones: JSON.parse(r.zones as string),
    }));
  }

  // nodes
  upsertNode(n: Omit<NodeInfo, 'lastHeartbeat' | 'state'>, now: number, tokenHash: string | null): void {
    this.statement(
      `INSERT INTO node (id, hostname, hardware, encoders, meters, labels, token_hash, registered_at, last_heartbeat, state, hardware_class)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'alive', ?)
         ON CONFLICT(id) DO UPDATE SET hostname = excluded.hostname, hardware = excluded.hardware, encoders = excluded.encoders,
           meters = excluded.meters, labels = excluded.labels, token_hash = COALESCE(excluded.token_hash, node.token_hash),
           last_heartbeat = excluded.last_heartbeat, state = 'alive', hardware_class = excluded.hardware_class`,
    ).run(
      n.id,
      n.hostname,
      json(n.hardware),
      json(n.encoders),
      json(n.meters),
      json(n.labels),
      tokenHash,
      now,
      now,
      n.hardwareClass ?? null,
    );
  }

  getNode(id: string): (NodeInfo & { tokenHash: string | null; claimsPaused: string | null }) | null {
    const r = this.statement('SELECT * FROM node WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? rowToNode(r) : null;
  }

  listNodes(): Array<NodeInfo & { tokenHash: string | null; claimsPaused: string | null }> {
    return (this.statement('SELECT * FROM node ORDER BY id').all() as Array<Record<string, unknown>>).map(rowToNode);
  }

  /** The node holding this credential hash (null: none). */
  nodeByTokenHash(tokenHash: string): { nodeId: string; tokenHash: string } | null {
    return (
      (this.statement('SELECT id nodeId, token_hash tokenHash FROM node WHERE token_hash = ?').get(tokenHash) as
        | { nodeId: string; tokenHash: string }
        | undefined) ?? null
    );
  }

  /** Nodes not dead whose last heartbeat is older than `heardBefore`. */
  overdueNodes(heardBefore: number): string[] {
    return this.statement(
      "SELECT id FROM node WHERE state != 'dead' AND last_heartbeat IS NOT NULL AND last_heartbeat < ?",
    )
      .pluck()
      .all(heardBefore) as string[];
  }

  /** Every node not dead is heard `now` (after a master start); returns how many. */
  refreshLiveHeartbeats(now: number): number {
    return this.statement("UPDATE node SET last_heartbeat = ? WHERE state != 'dead'").run(now).changes;
  }

  /**
   * A heartbeat: never backwards (one kept in memory may be written after a later one,
   * JobQueue.heartbeatLater), and a dead node is alive again. `claimsPaused` undefined keeps the
   * node's reason as it is. False for an unknown node.
   */
  setNodeHeartbeat(id: string, now: number, claimsPaused?: string | null): boolean {
    // An alive node is updated without assigning `state`: assigning it, even to its own value,
    // rewrites every index entry of the row that holds state (three times the cost). The pause
    // reason is in no index; it is assigned its own value when the heartbeat carries none.
    const set = 'last_heartbeat = MAX(COALESCE(last_heartbeat, 0), ?), claims_paused = IIF(?, ?, claims_paused)';
    const args = [now, claimsPaused !== undefined ? 1 : 0, claimsPaused ?? null, id];
    return (
      this.statement(`UPDATE node SET ${set} WHERE id = ? AND state = 'alive'`).run(...args).changes > 0 ||
      this.statement(`UPDATE node SET ${set}, state = 'alive' WHERE id = ?`).run(...args).changes > 0
    );
  }

  /** A new per-node credential (its SHA-256) for an existing node; the old one stops working. */
  setNodeTokenHash(id: string, tokenHash: string | null): void {
    this.statement('UPDATE node SET token_hash = ? WHERE id = ?').run(tokenHash, id);
  }

  setNodeState(id: string, state: NodeState): void {
    this.statement('UPDATE node SET state = ? WHERE id = ?').run(state, id);
  }

  nodeCountsByState(): Record<NodeState, number> {
    const out = zeroCounts(NODE_STATES);
    for (const r of this.statement('SELECT state, COUNT(*) n FROM node GROUP BY state').all() as Array<{
      state: NodeState;
      n: number;
    }>)
      out[r.state] = r.n;
    return out;
  }
}

function rowToRun(r: Record<string, unknown>): RunRecord {
  return {
    jobId: r.job_id as string,
    attempt: r.attempt as number,
    nodeId: r.node_id as string,
    status: r.status as RunRecord['status'],
    exitCode: r.exit_code as number | null,
    signal: r.signal as string | null,
    error: r.error as string | null,
    stderrTail: r.stderr_tail as string,
    startedAt: r.started_at as string,
    endedAt: r.ended_at as string,
    wallS: r.wall_s as number,
    mediaSeconds: r.media_seconds as number,
    frames: r.frames as number,
    outputBytes: r.output_bytes as number,
    bitrateBps: r.bitrate_bps as number | null,
    fps: r.fps as number | null,
    speed: r.speed as number | null,
    droppedFrames: r.dropped_frames as number,
    dupFrames: r.dup_frames as number,
    energy: parse(r.energy as string | null),
    quality: parse(r.quality as string | null),
    flags: JSON.parse(r.flags as string),
    provenance: JSON.parse(r.provenance as string),
  };
}

function rowToNode(r: Record<string, unknown>): NodeInfo & { tokenHash: string | null; claimsPaused: string | null } {
  return {
    id: r.id as string,
    hostname: r.hostname as string,
    hardware: JSON.parse(r.hardware as string),
    encoders: JSON.parse(r.encoders as string),
    meters: JSON.parse(r.meters as string),
    labels: JSON.parse(r.labels as string),
    ...(r.hardware_class ? { hardwareClass: r.hardware_class as string } : {}),
    lastHeartbeat: r.last_heartbeat as number | null,
    state: r.state as NodeState,
    tokenHash: r.token_hash as string | null,
    claimsPaused: (r.claims_paused as string | null) ?? null,
  };
}
