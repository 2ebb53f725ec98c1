import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../core/types.ts';
import { DEFAULT_IDLE_ATTEMPTS, measureCleanIdle, type MeasuredIdle } from '../energy/idle.ts';
import { packageTemperature } from '../energy/preflight.ts';
import type { ClaimedJob, IdleReport, MasterClient } from './client.ts';
import { HostLock, hostLockWaitS, type HostLockLease } from './host-lock.ts';
import { runJob, type JobContext } from './run-job.ts';
import type { ResultOutcome } from '../core/contracts/index.ts';

/** What the loop needs: the per-job context of run-job.ts (less what the loop decides per job), plus the master. */
export interface WorkerOptions extends Omit<JobContext, 'idle' | 'signal' | 'sleep'> {
  client: MasterClient;
  /** How often a running job's lease is extended (and cancel checked). */
  leaseExtendMs?: number;
  /** Idle baselines older than this are measured again before the next job. */
  idleRecheckMs?: number;
  /** Attempts an idle baseline gets before the run is flagged idle-baseline-dirty (default 3). */
  idleAttempts?: number;
  /** Other processes' CPU (busy cores) above which a baseline attempt is refused (default: the noisy-neighbour threshold, 0.25). */
  idleMaxLoadCores?: number;
  /** Delivers a result; the fleet agent wraps this with retries and an on-disk spool. */
  deliver?: (record: RunRecord, idle: IdleReport | null) => Promise<ResultOutcome | 'spooled'>;
  /**
   * The machine's measuring lock, held from before the claim to the end of the job (cooldown,
   * baseline, encode, quality). Default: agent/host-lock.ts's default path and wait (or
   * FFWATT_HOST_LOCK / FFWATT_HOST_LOCK_WAIT_S), role "measurer"; null only where nothing real is measured.
   */
  hostLock?: HostLock | null;
}

/**
 * The agent's job loop: take the host lock → claim → run (cooldown, clean idle baseline when the
 * campaign's is missing or old, encode, quality) with lease extension and cancel checks →
 * release → deliver the result. One job at a time per agent, and one measurer per machine.
 */
export class Worker {
  /** Clean baselines only: a dirty one is measured again for the next job. */
  private readonly idle = new Map<string, { measured: MeasuredIdle; at: number }>();
  private readonly hostLock: HostLock | null;

  constructor(readonly opts: WorkerOptions) {
    this.hostLock =
      opts.hostLock === undefined
        ? new HostLock({ nodeId: opts.nodeId, role: 'measurer', waitS: hostLockWaitS(), log: opts.log })
        : opts.hostLock;
  }

  /** Claims and runs one job; 'idle' when the queue had nothing for this node. */
  async runOnce(signal?: AbortSignal): Promise<'ran' | 'idle'> {
    const o = this.opts;
    // Taken before the claim: a job is never leased to a node that cannot measure it yet.
    let lock: HostLockLease | null = null;
    try {
      lock = this.hostLock ? await this.hostLock.acquire(signal) : null;
    } catch (err) {
      if (signal?.aborted) return 'idle'; // stopped while waiting for the machine: nothing claimed
      throw err;
    }
    const release = () => {
      lock?.release();
      lock = null;
    };
    try {
      const job = await o.client.claim(o.nodeId);
      if (!job) return 'idle';
      const controller = new AbortController();
      const onOuterAbort = () => controller.abort();
      signal?.addEventListener('abort', onOuterAbort, { once: true });
      let lease: NodeJS.Timeout | undefined;
      try {
        lease = setInterval(() => {
          o.client
            .extendLease(job.id, o.nodeId, job.attempts)
            .then((r) => {
              if (r.canceled || !r.ok) {
                o.log.warn(
                  r.canceled
                    ? `job ${job.id} canceled by the master: stopping FFmpeg`
                    : `lease of job ${job.id} lost: stopping`,
                );
                controller.abort();
              }
            })
            .catch((err) => o.log.warn(`lease extension for ${job.id} failed: ${(err as Error).message}`));
        }, o.leaseExtendMs ?? 10_000);
        let fresh: MeasuredIdle | null = null;
        const {
          client: _client,
          leaseExtendMs: _lease,
          idleRecheckMs: _recheck,
          idleAttempts: _attempts,
          idleMaxLoadCores: _maxLoad,
          deliver: _deliver,
          hostLock: _lock,
          ...context
        } = o;
        const record = await runJob(job, {
          ...context,
          idle: async (sig) => {
            const r = await this.idleBaseline(job, sig);
            if (r && !r.info.reused) fresh = r;
            return r;
          },
          signal: controller.signal,
        });
        clearInterval(lease);
        release();
        const measured = fresh as MeasuredIdle | null;
        const idle: IdleReport | null = measured && measured.info.clean ? idleReport(o.nodeId, measured) : null;
        const outcome = o.deliver ? await o.deliver(record, idle) : await o.client.postResult(record, idle);
        if (typeof outcome === 'object' && outcome.kind === 'stale') o.log.warn(`result refused: ${outcome.reason}`);
        o.onEvent?.({ kind: 'result', jobId: job.id, record });
        return 'ran';
      } finally {
        clearInterval(lease);
        signal?.removeEventListener('abort', onOuterAbort);
      }
    } finally {
      release();
    }
  }

  /** Runs jobs until `until()` says stop (checked between jobs), sleeping pollMs when idle. */
  async loop(
    until: () => boolean,
    opts: { pollMs?: number | (() => number); signal?: AbortSignal } = {},
  ): Promise<void> {
    while (!until() && !opts.signal?.aborted) {
      const r = await this.runOnce(opts.signal);
      // After a job, a short pause lets another measurer waiting on this machine's lock take its turn.
      const idlePause = typeof opts.pollMs === 'function' ? opts.pollMs() : (opts.pollMs ?? 1000);
      const pause = r === 'idle' ? idlePause : this.hostLock ? 300 : 0;
      if (pause > 0 && !until()) await sleep(pause, undefined, { signal: opts.signal }).catch(() => {});
    }
  }

  /**
   * The node's idle baseline for the job's campaign, asked for by runJob after the cooldown:
   * a clean one measured for this campaign within idleRecheckMs is reused, else one is measured
   * now (refused and re-measured while other load is above the noisy-neighbour threshold).
   */
  private async idleBaseline(job: ClaimedJob, signal?: AbortSignal): Promise<MeasuredIdle | null> {
    const seconds = job.campaign.idleBaselineS;
    if (!(seconds > 0)) return null;
    const o = this.opts;
    const known = this.idle.get(job.campaign.id);
    if (known && Date.now() - known.at < (o.idleRecheckMs ?? 30 * 60_000))
      return { ...known.measured, info: { ...known.measured.info, reused: true } };
    o.onEvent?.({ kind: 'idle', nodeId: o.nodeId, phase: 'start', seconds });
    const measured = await measureCleanIdle(o.sampler, seconds, {
      signal,
      maxAttempts: o.idleAttempts,
      maxLoadCores: o.idleMaxLoadCores,
      readPackageTemperature: () => packageTemperature(o.host.preflight()),
      onRefused: (attempt, reason) =>
        o.log.warn(
          `idle baseline refused, ${attempt < (o.idleAttempts ?? DEFAULT_IDLE_ATTEMPTS) ? 'measuring again' : 'giving up'}: ${reason}`,
        ),
    });
    if (measured.info.clean) this.idle.set(job.campaign.id, { measured, at: Date.now() });
    else this.idle.delete(job.campaign.id);
    const source = measured.info.clean
      ? measured.baseline.source
      : `${measured.baseline.source}; not clean after ${measured.info.attempts} attempts: no net figure`;
    o.onEvent?.({ kind: 'idle', nodeId: o.nodeId, phase: 'done', seconds, watts: measured.baseline.totalW, source });
    return measured;
  }
}

function idleReport(nodeId: string, m: MeasuredIdle): IdleReport {
  const b = m.baseline;
  return {
    nodeId,
    measuredAt: Date.parse(m.info.startedAt),
    seconds: b.seconds,
    totalW: b.totalW,
    source: b.source,
    zones: b.zones,
  };
}
