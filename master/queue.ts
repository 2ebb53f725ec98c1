import { randomUUID } from 'node:crypto';
import type { CampaignPlan, NodeInfo, Placement, QueueClass, RunRecord, Scenario } from '../core/types.ts';
import { InputError } from '../core/errors.ts';
import type { CampaignRow, JobLease, Store, StoredJob } from '../store/store.ts';
import {
  isOpenJobState,
  type ClaimedJob,
  type IdleReport,
  type LeaseAnswer,
  type NodeQueue,
  type NodeRegistration,
  type ResultOutcome,
} from '../core/contracts/index.ts';
import { ciHalfwidthPct } from '../core/repetition.ts';
import { seededRandom } from '../core/random.ts';

export type { LeaseAnswer, ResultOutcome };

export interface QueueOptions {
  /** Lease length granted on claim and on each extension. */
  leaseMs: number;
  /** Attempts before a job whose lease keeps expiring is failed. */
  maxAttempts: number;
  /** A node silent this long is dead and its jobs are requeued. */
  nodeTimeoutMs: number;
  /** Server clock (ms). Leases and timeouts use only this clock, never the agent's. */
  now: () => number;
  /** Job deadline = (warm-up + duration) × this factor + deadlineMarginS (the agent kills the job past it). */
  deadlineFactor: number;
  deadlineMarginS: number;
  /** No lease is extended past this age, whatever the job (see leaseAgeLimitMs). */
  maxLeaseAgeMs: number;
  /**
   * A claim reaps first when the last reap is at least this old (server clock). The master's
   * reaper also runs every second; reaping on every claim was most of a claim's statements.
   */
  claimReapMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  leaseMs: 60_000,
  maxAttempts: 3,
  nodeTimeoutMs: 90_000,
  now: () => Date.now(),
  deadlineFactor: 10,
  deadlineMarginS: 600,
  maxLeaseAgeMs: 24 * 3600_000,
  claimReapMs: 1000,
};

export interface SubmitOptions {
  /** Overrides the matrix's `priority`. */
  priority?: number;
  /** Overrides the matrix's `queue` (and the live class of live cells). */
  queueClass?: QueueClass;
  nodeConstraint?: string[];
  preflight?: unknown;
  /** Overrides the matrix's `placement`; neither given: `any`. */
  placement?: Placement;
}

/** A class or node a campaign runs every cell on, and the nodes that belong to it. */
export interface PlacementTarget {
  /** `class:<hardware class>` or `node:<node id>`, as stored in job.placement_target. */
  id: string;
  nodes: Array<Pick<NodeInfo, 'id' | 'hostname' | 'encoders'> & { hardwareClass?: string }>;
}

export interface CreatedCampaign {
  campaignId: string;
  jobs: number;
  placement: Placement;
  /** Placement targets (empty with placement any). */
  targets: string[];
  /** Cells left out on a target because none of its nodes has the encoder. */
  skipped: Array<{ scenario: string; target: string }>;
}

/** Class of unclassified nodes (agents older than hardware classes). */
export const UNCLASSIFIED = 'unclassified';

/** extendLease's refusal for a job id the master does not know (the route answers 404). */
export const UNKNOWN_JOB = 'unknown job';

/** Whether a node can encode a scenario (its explicit encoder, else any encoder of its codec). */
export function canRun(node: Pick<NodeInfo, 'encoders'>, s: Pick<Scenario, 'encoder' | 'codec'>): boolean {
  return s.encoder ? Object.values(node.encoders).includes(s.encoder) : Boolean(node.encoders[s.codec]);
}

/** Whether a job placed on `target` may run on `node`. */
export function targetMatches(
  target: string | null | undefined,
  node: Pick<NodeInfo, 'id' | 'hardwareClass'>,
): boolean {
  if (!target) return true;
  if (target.startsWith('node:')) return target.slice(5) === node.id;
  if (target.startsWith('class:')) return target.slice(6) === (node.hardwareClass ?? UNCLASSIFIED);
  return false;
}

/**
 * The targets of a placement among the registered nodes that are not dead (and, with a node
 * constraint, in it). Fixed when the campaign is created: a node registering later is not one.
 */
export function placementTargets(
  placement: Placement,
  nodes: Array<Pick<NodeInfo, 'id' | 'hostname' | 'encoders' | 'state'> & { hardwareClass?: string }>,
  nodeConstraint: string[] = [],
): PlacementTarget[] {
  if (placement === 'any') return [];
  const eligible = nodes.filter(
    (n) =>
      n.state !== 'dead' &&
      (nodeConstraint.length === 0 || nodeConstraint.includes(n.id) || nodeConstraint.includes(n.hostname)),
  );
  if (eligible.length === 0) {
    throw new InputError(
      `placement ${placement} needs registered nodes, and none is alive${nodeConstraint.length ? ` among ${nodeConstraint.join(', ')}` : ''}: start the agents first (ffwatt nodes lists them), or use placement: any`,
      { field: 'placement' },
    );
  }
  if (placement === 'each-node') return eligible.map((n) => ({ id: `node:${n.id}`, nodes: [n] }));
  const byClass = new Map<string, PlacementTarget>();
  for (const n of eligible) {
    const id = `class:${n.hardwareClass ?? UNCLASSIFIED}`;
    const t = byClass.get(id) ?? { id, nodes: [] };
    t.nodes.push(n);
    byClass.set(id, t);
  }
  return [...byClass.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Queue class and priority of a cell: the submit options, else the matrix keys, else live cells → live. */
export function jobClass(
  s: Pick<Scenario, 'mode'>,
  plan: Pick<CampaignPlan, 'queueClass' | 'priority'>,
  opts: Pick<SubmitOptions, 'queueClass' | 'priority'>,
): { queueClass: QueueClass; priority: number } {
  return {
    queueClass: opts.queueClass ?? plan.queueClass ?? (s.mode === 'live' ? 'live' : 'default'),
    priority: opts.priority ?? plan.priority ?? 0,
  };
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The job queue: campaigns → jobs, claims with leases, results, retries, adaptive repetitions.
 * Used in-process by local mode and behind HTTP by the master service: one code path.
 * Every state change runs in one IMMEDIATE transaction.
 */
export class JobQueue implements NodeQueue {
  readonly opts: QueueOptions;

  /** Name and settings of campaigns: fixed at creation, read on every claim, extension and result. */
  private readonly campaignSettings = new Map<string, Pick<CampaignRow, 'id' | 'name' | 'settings'>>();

  /** Server-clock time of the last reap (claim skips its own reap within claimReapMs of it). */
  private lastReapAt: number | null = null;
  /** What a claim needs of each node (hostname, encoders, class), read once: only registration changes it. */
  private readonly claimNodes = new Map<string, ReturnType<Store['nodeForClaim']>>();
  private readonly credentials = new Map<string, { nodeId: string; tokenHash: string }>();

  /** Heartbeats received and not written yet: node → time heard, and claimsPaused when it was sent. */
  private readonly unwrittenHeartbeats = new Map<string, { at: number; claimsPaused?: string | null }>();
  /** Lease extensions granted and not written yet (extendLeaseLater): job → the lease and its new expiry. */
  private readonly unwrittenLeases = new Map<
    string,
    { nodeId: string; attempt: number; leaseId: string; leaseExpiresAt: number }
  >();

  constructor(
    readonly store: Store,
    opts: Partial<QueueOptions> = {},
  ) {
    this.opts = { ...DEFAULT_QUEUE_OPTIONS, ...opts };
  }

  private campaignOf(id: string): Pick<CampaignRow, 'id' | 'name' | 'settings'> | null {
    let c = this.campaignSettings.get(id);
    if (!c) {
      const row = this.store.getCampaign(id);
      if (!row) return null;
      c = { id: row.id, name: row.name, settings: row.settings };
      this.campaignSettings.set(id, c);
    }
    return c;
  }

  /**
   * Creates a campaign and its first `repetitions.min` jobs per cell — per cell and placement
   * target with each-class/each-node. Repetition numbers count per cell across targets (they
   * are unique per cell); the repetition policy counts per (cell, target).
   */
  createCampaign(plan: CampaignPlan, opts: SubmitOptions = {}): CreatedCampaign {
    const now = this.opts.now();
    const campaignId = randomUUID();
    const rand = seededRandom(plan.seed);
    const placement = opts.placement ?? plan.placement ?? 'any';
    let jobs = 0;
    const skipped: CreatedCampaign['skipped'] = [];
    let targetIds: string[] = [];
    this.store.tx(() => {
      const targets = placementTargets(placement, this.store.listNodes(), opts.nodeConstraint ?? []);
      targetIds = targets.map((t) => t.id);
      this.store.insertCampaign(campaignId, plan, now, opts.preflight ?? null, placement);
      const pending: Array<{ scenarioId: number; repetition: number; target: string | null; scenario: Scenario }> = [];
      for (const s of plan.scenarios) {
        const scenarioId = this.store.insertScenario(campaignId, s);
        let repetition = 0;
        for (const target of targets.length ? targets : [null]) {
          if (target && !target.nodes.some((n) => canRun(n, s))) {
            skipped.push({ scenario: s.label, target: target.id });
            continue;
          }
          for (let r = 1; r <= plan.repetitions.min; r++)
            pending.push({ scenarioId, repetition: ++repetition, target: target?.id ?? null, scenario: s });
        }
      }
      let seq = this.store.maxSeq();
      // Repetitions are interleaved in a seeded random order, so drift over time spreads over all cells.
      for (const p of shuffle(pending, rand)) {
        this.store.insertJob({
          id: randomUUID(),
          campaignId,
          scenarioId: p.scenarioId,
          repetition: p.repetition,
          ...jobClass(p.scenario, plan, opts),
          seq: ++seq,
          maxAttempts: this.opts.maxAttempts,
          nodeConstraint: opts.nodeConstraint ?? [],
          cooldownS: plan.cooldownS,
          createdAt: now,
          placementTarget: p.target,
        });
        jobs++;
      }
      if (jobs === 0) {
        throw new InputError(
          `no job to run: no selected node can encode any cell of ${plan.name} (${skipped.length} cell/target pairs left out)`,
          { field: 'placement' },
        );
      }
    });
    return { campaignId, jobs, placement, targets: targetIds, skipped };
  }

  registerNode(node: NodeRegistration, tokenHash: string | null = null): void {
    this.claimNodes.delete(node.id);
    this.credentials.clear();
    this.store.upsertNode(node, this.opts.now(), tokenHash);
  }

  /**
   * The node whose credential has this SHA-256 (master/auth.ts), read once and then kept: only
   * registerNode and revokeNode change a node's credential, and both drop every kept one. A hash
   * that matches no node is not kept, so unknown tokens cannot grow this map.
   */
  nodeByTokenHash(tokenHash: string): { nodeId: string; tokenHash: string } | null {
    const kept = this.credentials.get(tokenHash);
    if (kept) return kept;
    const found = this.store.nodeByTokenHash(tokenHash);
    if (found) this.credentials.set(tokenHash, found);
    return found;
  }

  private nodeForClaim(nodeId: string): ReturnType<Store['nodeForClaim']> {
    let n = this.claimNodes.get(nodeId);
    if (!n) {
      n = this.store.nodeForClaim(nodeId);
      if (n) this.claimNodes.set(nodeId, n);
    }
    return n;
  }

  /** A heartbeat written at once (local mode's in-process client); the HTTP routes keep theirs in memory (heartbeatLater). */
  heartbeat(nodeId: string): boolean {
    return this.store.setNodeHeartbeat(nodeId, this.opts.now());
  }

  /**
   * A claim's contact: false for a node never registered; otherwise a heartbeat kept in memory
   * (heartbeatLater), so a claim that gets no job writes nothing.
   */
  claimContact(nodeId: string): boolean {
    if (!this.nodeForClaim(nodeId)) return false;
    this.heartbeatLater(nodeId);
    return true;
  }

  /**
   * A heartbeat request (POST /nodes/:id/heartbeat, the end of a held claim): kept in memory with
   * the time it came and written by the next `reap` (every claim, and the master's reaper every
   * second) or `writePending`. A commit per heartbeat was most of the master's work at 2,000
   * agents; liveness is judged only by the reaper, which writes them first, so no node is ever
   * declared dead over a heartbeat still in memory. Losing them in a crash is harmless: on start
   * every live node gets a fresh heartbeat (recoverAfterStart).
   */
  heartbeatLater(nodeId: string, claimsPaused?: string | null): void {
    const earlier = this.unwrittenHeartbeats.get(nodeId);
    this.unwrittenHeartbeats.set(nodeId, {
      at: this.opts.now(),
      claimsPaused: claimsPaused !== undefined ? claimsPaused : earlier?.claimsPaused,
    });
  }

  /** Writes the heartbeats and lease extensions kept in memory (heartbeatLater, extendLeaseLater); returns how many. */
  writePending(): number {
    const n = this.unwrittenHeartbeats.size + this.unwrittenLeases.size;
    if (n === 0) return 0;
    this.store.tx(() => {
      for (const [nodeId, h] of this.unwrittenHeartbeats) {
        this.store.setNodeHeartbeat(nodeId, h.at, h.claimsPaused);
      }
      for (const [jobId, l] of this.unwrittenLeases)
        this.store.extendLeaseIfHeld(jobId, l.nodeId, l.attempt, l.leaseId, l.leaseExpiresAt);
    });
    this.unwrittenHeartbeats.clear();
    this.unwrittenLeases.clear();
    return n;
  }

  /**
   * Gives the node the first queued job it may run (class, priority, FIFO), with a lease.
   * A node holds at most one measured job at a time: while it has one, it gets that one back.
   */
  claim(nodeId: string): StoredJob | null {
    if (this.lastReapAt === null || this.opts.now() - this.lastReapAt >= this.opts.claimReapMs) this.reap();
    return this.store.tx(() => {
      const node = this.nodeForClaim(nodeId);
      if (!node) throw new Error(`unknown node ${nodeId}: register first`);
      const active = this.store.activeJobOf(nodeId);
      if (active) return active;
      // Candidates are read light (ids and what eligibility needs), a page at a time, only those
      // placed on this node or its class: a node can nearly always run the first one, and only
      // the chosen one is loaded whole.
      const targets = { node: `node:${node.id}`, class: `class:${node.hardwareClass ?? UNCLASSIFIED}` };
      for (let offset = 0, page = 2; offset < 200; offset += page, page = 200 - 2) {
        const candidates = this.store.claimCandidateKeys(targets, page, offset);
        for (const c of candidates) {
          if (c.nodeConstraint !== '[]') {
            const constraint = JSON.parse(c.nodeConstraint) as string[];
            if (constraint.length > 0 && !constraint.includes(nodeId) && !constraint.includes(node.hostname)) continue;
          }
          if (!targetMatches(c.placementTarget, node)) continue;
          if (!canRun(node, { codec: c.codec as Scenario['codec'], encoder: c.encoder ?? undefined })) continue;
          const now = this.opts.now();
          return this.store.leaseJob(c.id, {
            attempts: c.attempts + 1,
            owner: nodeId,
            expiresAt: now + this.opts.leaseMs,
            // The fencing token: extensions and the result must name it; a later claim gets a new one.
            leaseId: randomUUID(),
            startedAt: now,
            firstStartedAt: c.startedAt ?? now,
          });
        }
        if (candidates.length < page) return null;
      }
      return null;
    });
  }

  /** A claim plus the campaign settings the agent needs to measure it (idle baseline, cooldown). */
  claimWithCampaign(nodeId: string): ClaimedJob | null {
    const job = this.claim(nodeId);
    if (!job) return null;
    const c = this.campaignOf(job.campaignId);
    if (!c) throw new Error(`job ${job.id} belongs to unknown campaign ${job.campaignId}`);
    const { lastError: _e, leaseStartedAt: _s, leaseId, ...rest } = job;
    return {
      ...rest,
      leaseId: leaseId as string,
      deadlineS: this.jobDeadlineS(job.scenario),
      campaign: { id: c.id, name: c.name, idleBaselineS: c.settings.idleBaselineS, cooldownS: c.settings.cooldownS },
    };
  }

  /** Seconds the agent gives one encode before killing it: media duration × factor + margin. */
  jobDeadlineS(s: { warmupS: number; durationS: number }): number {
    return (s.warmupS + s.durationS) * this.opts.deadlineFactor + this.opts.deadlineMarginS;
  }

  /**
   * How long a lease may be extended: the encode deadline twice (the second covers quality scoring
   * after the encode) plus the idle baseline and cooldown before it, never past maxLeaseAgeMs.
   */
  leaseAgeLimitMs(job: Pick<JobLease, 'campaignId' | 'cooldownS' | 'scenario'>): number {
    const c = this.campaignOf(job.campaignId);
    const before = (c?.settings.idleBaselineS ?? 0) + job.cooldownS;
    return Math.min(this.opts.maxLeaseAgeMs, (2 * this.jobDeadlineS(job.scenario) + before) * 1000);
  }

  /**
   * Extends a lease (and marks the job running). Refused when the caller no longer holds it (node,
   * attempt and lease id must all match) and once the lease is older than leaseAgeLimitMs.
   */
  extendLease(jobId: string, nodeId: string, attempt: number, leaseId: string): LeaseAnswer {
    return this.store.tx(() => {
      const refused = this.leaseRefusal(this.store.jobLease(jobId), nodeId, attempt, leaseId);
      if (refused) return refused;
      const leaseExpiresAt = this.opts.now() + this.opts.leaseMs;
      this.store.updateJob(jobId, { state: 'running', lease_expires_at: leaseExpiresAt });
      this.store.setNodeHeartbeat(nodeId, this.opts.now());
      return { ok: true, canceled: false, leaseExpiresAt };
    });
  }

  /**
   * extendLease as the HTTP route answers it: the same checks on the job's current row, answered
   * at once; the new expiry, the `running` state and the node's heartbeat are kept in memory and
   * written with the heartbeats (writePending, run first by every reap), fenced again there: an
   * extension whose lease was ended, requeued or canceled in between writes nothing. A lease is
   * judged expired only by the reaper, after that write, so a granted extension always counts.
   */
  extendLeaseLater(jobId: string, nodeId: string, attempt: number, leaseId: string): LeaseAnswer {
    const refused = this.leaseRefusal(this.store.jobLease(jobId), nodeId, attempt, leaseId);
    if (refused) return refused;
    const leaseExpiresAt = this.opts.now() + this.opts.leaseMs;
    this.unwrittenLeases.set(jobId, { nodeId, attempt, leaseId, leaseExpiresAt });
    this.heartbeatLater(nodeId);
    return { ok: true, canceled: false, leaseExpiresAt };
  }

  /** Why an extension of this lease is refused; null when it may be extended. */
  private leaseRefusal(job: JobLease | null, nodeId: string, attempt: number, leaseId: string): LeaseAnswer | null {
    if (!job) return { ok: false, canceled: false, reason: UNKNOWN_JOB };
    const holds = job.leaseOwner === nodeId && job.attempts === attempt && job.leaseId === leaseId;
    if (job.state === 'canceled')
      return holds
        ? { ok: false, canceled: true }
        : { ok: false, canceled: false, reason: 'lease not held by this node, attempt and lease id' };
    if (!holds || !(job.state === 'leased' || job.state === 'running')) {
      return { ok: false, canceled: false, reason: 'lease not held by this node, attempt and lease id' };
    }
    const limitMs = this.leaseAgeLimitMs(job);
    const age = this.opts.now() - (job.leaseStartedAt ?? this.opts.now());
    if (age > limitMs) {
      return {
        ok: false,
        canceled: false,
        reason: `lease is ${Math.round(age / 1000)} s old, past the maximum lease age of ${Math.round(limitMs / 1000)} s for this job; it will expire`,
      };
    }
    return null;
  }

  /**
   * Stores a run record for the lease that is current: node, attempt and lease id must match the
   * job's (checked first). The same lease's result sent again (the answer was lost) is a duplicate;
   * anything else is stale, so a late or foreign writer never replaces a newer attempt.
   */
  submitResult(record: RunRecord, idle: IdleReport | null | undefined, leaseId: string): ResultOutcome {
    return this.store.tx(() => {
      const job = this.store.jobLease(record.jobId);
      if (!job) return { kind: 'unknown-job' } as const;
      const holds =
        job.attempts === record.attempt &&
        job.leaseOwner === record.nodeId &&
        job.leaseId === leaseId &&
        (job.state === 'leased' || job.state === 'running' || job.state === 'canceled');
      if (!holds) {
        const stored = this.store.runLease(record.jobId, record.attempt);
        if (stored && stored.nodeId === record.nodeId && stored.leaseId === leaseId)
          return { kind: 'duplicate' } as const;
        return {
          kind: 'stale',
          reason: `job ${job.id} is at attempt ${job.attempts} (${job.state}, owner ${job.leaseOwner ?? 'none'}); result for attempt ${record.attempt} from ${record.nodeId} under another lease refused`,
        } as const;
      }
      const now = this.opts.now();
      this.store.insertRun(record, job, now, leaseId);
      if (idle) this.store.insertIdleBaseline({ ...idle, campaignId: job.campaignId });
      const state = job.state === 'canceled' ? 'canceled' : record.status === 'succeeded' ? 'succeeded' : record.status;
      this.store.updateJob(job.id, {
        state,
        finished_at: now,
        lease_owner: null,
        lease_expires_at: null,
        lease_id: null,
        last_error: record.error,
      });
      if (state === 'succeeded') this.maybeAddRepetition(job);
      this.updateCampaignStatus(job.campaignId);
      return { kind: 'stored' } as const;
    });
  }

  /** Adds one more repetition of the job's (cell, placement target) while its CI half-width target is missed and the cap allows. */
  private maybeAddRepetition(job: JobLease): void {
    const campaign = this.campaignOf(job.campaignId);
    if (!campaign) return;
    const policy = campaign.settings.repetitions;
    // Every cell got `min` jobs at submission: with max <= min none is ever added, nothing to count.
    if (policy.max <= policy.min) return;
    const target = job.placementTarget ?? null;
    // Counted in SQL: loading every job of a large campaign here made each result O(campaign size).
    const counts = this.store.repetitionCounts(job.campaignId, job.scenarioId, target);
    if (counts.jobs >= policy.max || counts.open > 0) return;
    const runs = this.store
      .runsOfScenario(job.campaignId, job.scenarioId, target)
      .filter((r) => r.status === 'succeeded');
    if (runs.length < policy.min) return;
    const values = runs
      .map((r) => r.energy?.netJPerEncodedMinute ?? r.energy?.jPerEncodedMinute)
      .filter((v): v is number => v != null);
    const half = ciHalfwidthPct(values);
    if (half != null && half <= policy.ciHalfwidthPct) return;
    this.store.insertJob({
      id: randomUUID(),
      campaignId: job.campaignId,
      scenarioId: job.scenarioId,
      repetition: this.store.maxRepetition(job.campaignId, job.scenarioId) + 1,
      priority: job.priority,
      queueClass: job.queueClass,
      seq: this.store.maxSeq() + 1,
      maxAttempts: job.maxAttempts,
      nodeConstraint: job.nodeConstraint,
      cooldownS: job.cooldownS,
      createdAt: this.opts.now(),
      placementTarget: target,
    });
  }

  private updateCampaignStatus(campaignId: string): void {
    if (this.store.hasOpenJobs(campaignId)) return;
    const campaign = this.store.getCampaign(campaignId);
    if (campaign?.status === 'running') this.store.setCampaignStatus(campaignId, 'done');
  }

  /**
   * A node that says it is stopping: it leaves `alive` at once (state dead, so it also leaves
   * the per-node metrics) and its running job goes back to the queue without waiting for the lease.
   */
  nodeStopped(nodeId: string): { known: boolean; requeued: string[]; failed: string[] } {
    const out = { requeued: [] as string[], failed: [] as string[] };
    // A heartbeat still in memory must not make the stopped node alive again when it is written.
    this.unwrittenHeartbeats.delete(nodeId);
    const known = this.store.tx(() => {
      if (!this.store.getNode(nodeId)) return false;
      this.store.setNodeState(nodeId, 'dead');
      const active = this.store.activeJobOf(nodeId);
      if (active) this.releaseJob(active, `node ${nodeId} stopped`, out);
      return true;
    });
    return { known, ...out };
  }

  /** Cancels every queued or running job of a campaign and marks it canceled; null for an unknown campaign. */
  cancelCampaign(campaignId: string): { canceled: number; status: string; changed: boolean } | null {
    return this.store.tx(() => {
      const campaign = this.store.getCampaign(campaignId);
      if (!campaign) return null;
      if (campaign.status !== 'running') return { canceled: 0, status: campaign.status, changed: false };
      let canceled = 0;
      for (const j of this.store.listJobs({ campaignId })) {
        if (isOpenJobState(j.state)) {
          this.cancelJob(j.id);
          canceled++;
        }
      }
      this.store.setCampaignStatus(campaignId, 'canceled');
      return { canceled, status: 'canceled', changed: true };
    });
  }

  /** Requeues every failed job of a campaign (the campaign runs again); null for an unknown campaign. */
  retryFailed(campaignId: string): { requeued: string[] } | null {
    return this.store.tx(() => {
      if (!this.store.getCampaign(campaignId)) return null;
      const requeued: string[] = [];
      for (const j of this.store.listJobs({ campaignId, state: 'failed' })) {
        this.retryJob(j.id);
        requeued.push(j.id);
      }
      return { requeued };
    });
  }

  cancelJob(jobId: string): StoredJob | null {
    return this.store.tx(() => {
      const job = this.store.getJob(jobId);
      if (!job) return null;
      if (job.state === 'queued') this.store.updateJob(jobId, { state: 'canceled', finished_at: this.opts.now() });
      else if (job.state === 'leased' || job.state === 'running') this.store.updateJob(jobId, { state: 'canceled' });
      this.updateCampaignStatus(job.campaignId);
      return this.store.getJob(jobId);
    });
  }

  retryJob(jobId: string): StoredJob | null {
    return this.store.tx(() => {
      const job = this.store.getJob(jobId);
      if (!job) return null;
      if (job.state === 'failed' || job.state === 'canceled') {
        // Attempt numbers only grow: the retry runs as attempt attempts+1 with a fresh budget.
        this.store.updateJob(jobId, {
          state: 'queued',
          lease_owner: null,
          lease_expires_at: null,
          lease_id: null,
          finished_at: null,
          max_attempts: job.attempts + this.opts.maxAttempts,
        });
        const campaign = this.store.getCampaign(job.campaignId);
        if (campaign && campaign.status !== 'running') this.store.setCampaignStatus(job.campaignId, 'running');
      }
      return this.store.getJob(jobId);
    });
  }

  /** Requeues jobs whose lease expired and jobs of nodes silent past the timeout. */
  reap(): { requeued: string[]; failed: string[]; deadNodes: string[] } {
    const now = this.opts.now();
    this.lastReapAt = now;
    const out = { requeued: [] as string[], failed: [] as string[], deadNodes: [] as string[] };
    this.store.tx(() => {
      this.writePending();
      // Only overdue nodes are loaded: reap runs on every claim, and a fleet has thousands of nodes.
      for (const nodeId of this.store.overdueNodes(now - this.opts.nodeTimeoutMs)) {
        this.store.setNodeState(nodeId, 'dead');
        out.deadNodes.push(nodeId);
        const active = this.store.activeJobOf(nodeId);
        if (active) this.releaseJob(active, `node ${nodeId} silent for more than ${this.opts.nodeTimeoutMs} ms`, out);
      }
      for (const job of this.store.expiredLeases(now)) this.releaseJob(job, `lease of ${job.leaseOwner} expired`, out);
    });
    return out;
  }

  private releaseJob(job: StoredJob, why: string, out: { requeued: string[]; failed: string[] }): void {
    if (job.attempts >= job.maxAttempts) {
      this.store.updateJob(job.id, {
        state: 'failed',
        lease_owner: null,
        lease_expires_at: null,
        lease_id: null,
        finished_at: this.opts.now(),
        last_error: `${why}; attempts exhausted (${job.attempts}/${job.maxAttempts})`,
      });
      out.failed.push(job.id);
      this.updateCampaignStatus(job.campaignId);
    } else {
      this.store.updateJob(job.id, {
        state: 'queued',
        lease_owner: null,
        lease_expires_at: null,
        lease_id: null,
        last_error: why,
      });
      out.requeued.push(job.id);
    }
  }

  /**
   * After a master start: the outage was the master's, not the nodes'. Leases in flight get lease_s
   * from now and live nodes a fresh heartbeat, so no attempt is burnt and no node declared dead
   * for time the master was not there to hear them.
   */
  recoverAfterStart(): { leases: number; nodes: number } {
    const now = this.opts.now();
    return this.store.tx(() => ({
      leases: this.store.extendLeasesInFlight(now + this.opts.leaseMs),
      nodes: this.store.refreshLiveHeartbeats(now),
    }));
  }

  /** Revokes a node: its credential stops working and its job goes back to the queue. */
  revokeNode(nodeId: string): { revoked: boolean; requeued: string[]; failed: string[] } {
    const out = { revoked: false, requeued: [] as string[], failed: [] as string[] };
    this.unwrittenHeartbeats.delete(nodeId);
    this.claimNodes.delete(nodeId);
    this.credentials.clear();
    this.store.tx(() => {
      if (!this.store.getNode(nodeId)) return;
      this.store.setNodeTokenHash(nodeId, null);
      this.store.setNodeState(nodeId, 'dead');
      const active = this.store.activeJobOf(nodeId);
      if (active) this.releaseJob(active, `node ${nodeId} revoked`, out);
      out.revoked = true;
    });
    return out;
  }

  campaignProgress(campaignId: string): { status: string; counts: ReturnType<Store['jobCountsByState']> } | null {
    const c = this.store.getCampaign(campaignId);
    if (!c) return null;
    return { status: c.status, counts: this.store.jobCountsByState(campaignId) };
  }
}
