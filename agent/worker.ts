import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from '../core/types.ts';
import { measureIdle, type IdleBaseline } from '../energy/index.ts';
import type { ClaimedJob, IdleReport, MasterClient } from './client.ts';
import { runJob, type JobContext } from './run-job.ts';
import type { ResultOutcome } from '../master/queue.ts';

/** What the loop needs: the per-job context of run-job.ts (less what the loop decides per job), plus the master. */
export interface WorkerOptions extends Omit<JobContext, 'idle' | 'signal' | 'sleep'> {
  client: MasterClient;
  /** How often a running job's lease is extended (and cancel checked). */
  leaseExtendMs?: number;
  /** Idle baselines older than this are measured again before the next job. */
  idleRecheckMs?: number;
  /** Delivers a result; the fleet agent wraps this with retries and an on-disk spool. */
  deliver?: (record: RunRecord, idle: IdleReport | null) => Promise<ResultOutcome | 'spooled'>;
}

/**
 * The agent's job loop: claim → (idle baseline for a new campaign) → run with lease extension
 * and cancel checks → deliver the result. One job at a time: a node measures one job at a time.
 */
export class Worker {
  private readonly idle = new Map<string, { baseline: IdleBaseline; at: number }>();

  constructor(readonly opts: WorkerOptions) {}

  /** Claims and runs one job; 'idle' when the queue had nothing for this node. */
  async runOnce(signal?: AbortSignal): Promise<'ran' | 'idle'> {
    const o = this.opts;
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
              o.log.warn(r.canceled ? `job ${job.id} canceled by the master: stopping FFmpeg` : `lease of job ${job.id} lost: stopping`);
              controller.abort();
            }
          })
          .catch((err) => o.log.warn(`lease extension for ${job.id} failed: ${(err as Error).message}`));
      }, o.leaseExtendMs ?? 10_000);
      const { baseline, fresh } = await this.idleBaseline(job, controller.signal);
      const { client: _client, leaseExtendMs: _lease, idleRecheckMs: _recheck, deliver: _deliver, ...context } = o;
      const record = await runJob(job, { ...context, idle: baseline, signal: controller.signal });
      clearInterval(lease);
      const idle: IdleReport | null = fresh && baseline ? idleReport(o.nodeId, baseline) : null;
      const outcome = o.deliver ? await o.deliver(record, idle) : await o.client.postResult(record, idle);
      if (typeof outcome === 'object' && outcome.kind === 'stale') o.log.warn(`result refused: ${outcome.reason}`);
      o.onEvent?.({ kind: 'result', jobId: job.id, record });
      return 'ran';
    } finally {
      clearInterval(lease);
      signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  /** Runs jobs until `until()` says stop (checked between jobs), sleeping pollMs when idle. */
  async loop(until: () => boolean, opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    while (!until() && !opts.signal?.aborted) {
      const r = await this.runOnce(opts.signal);
      if (r === 'idle' && !until()) await sleep(opts.pollMs ?? 1000, undefined, { signal: opts.signal }).catch(() => {});
    }
  }

  /** The node's idle baseline for the job's campaign: measured before its first job and re-checked when old. */
  private async idleBaseline(job: ClaimedJob, signal: AbortSignal): Promise<{ baseline: IdleBaseline | null; fresh: boolean }> {
    const seconds = job.campaign.idleBaselineS;
    if (!(seconds > 0)) return { baseline: null, fresh: false };
    const known = this.idle.get(job.campaign.id);
    if (known && Date.now() - known.at < (this.opts.idleRecheckMs ?? 30 * 60_000)) return { baseline: known.baseline, fresh: false };
    this.opts.onEvent?.({ kind: 'idle', nodeId: this.opts.nodeId, phase: 'start', seconds });
    const baseline = await measureIdle(this.opts.sampler, seconds, { signal });
    this.idle.set(job.campaign.id, { baseline, at: Date.now() });
    this.opts.onEvent?.({ kind: 'idle', nodeId: this.opts.nodeId, phase: 'done', seconds, watts: baseline.totalW, source: baseline.source });
    return { baseline, fresh: true };
  }
}

function idleReport(nodeId: string, b: IdleBaseline): IdleReport {
  return { nodeId, measuredAt: Date.now(), seconds: b.seconds, totalW: b.totalW, source: b.source, zones: b.zones };
}
