import type { ServerResponse } from 'node:http';
import { MAX_CLAIM_WAIT_S } from '../core/claim-wait.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { JobQueue } from './queue.ts';
import type { Store } from '../store/store.ts';

type ClaimedJob = NonNullable<ReturnType<JobQueue['claimWithCampaign']>>;

/**
 * The `wait_s` query parameter of `POST /jobs/claim`: absent → 0 (the short claim of older
 * agents), else a number of seconds from 0 to `max`. A string is the error to answer with 400.
 */
export function parseClaimWait(raw: string | undefined, max = MAX_CLAIM_WAIT_S): number | string {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > max)
    return `wait_s must be a number of seconds from 0 to ${max} (got ${raw}); 0 answers at once`;
  return n;
}

interface Waiter {
  nodeId: string;
  done: (job: ClaimedJob | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * Long-poll claims held by the master. A held claim is tried again only when a job becomes
 * queued (Store.queuedVersion moves: a campaign or repetition inserted, a job retried, a lease
 * expired or a node's job released), never by polling SQL on a timer. One wake pass tries the
 * waiting nodes in arrival order, in one group-commit batch, until no queued job is left.
 */
export class ClaimWaiters {
  private readonly waiters = new Set<Waiter>();
  private seenVersion: number;
  private forced = false;
  private waking = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly queue: JobQueue,
    private readonly commits: GroupCommit,
  ) {
    this.seenVersion = store.queuedVersion;
  }

  /** The master is stopping (close() was called). */
  get stopping(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Holds a claim that found nothing for up to `ms`: resolves with the job a wake pass leased to
   * this node, or null when the wait ends, the client goes away or the master stops.
   * `versionAtClaim` is Store.queuedVersion right after the claim that found nothing: a job
   * queued later in the same batch forces a pass.
   */
  wait(nodeId: string, ms: number, conn: ServerResponse, versionAtClaim: number): Promise<ClaimedJob | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const w: Waiter = {
        nodeId,
        done: (job) => {
          clearTimeout(w.timer);
          conn.off('close', gone);
          this.waiters.delete(w);
          resolve(job);
        },
        timer: setTimeout(() => w.done(null), ms),
      };
      // The response closes before it is sent only when the agent gave up (aborted, or its
      // connection dropped): stop holding it.
      const gone = () => w.done(null);
      conn.once('close', gone);
      this.waiters.add(w);
      if (this.store.queuedVersion !== versionAtClaim) {
        this.forced = true;
        this.wake();
      }
    });
  }

  /** Tries the waiting nodes again if a job became queued since the last pass. */
  wake(): void {
    if (this.waking) return;
    const version = this.store.queuedVersion;
    if (!this.forced && version === this.seenVersion) return;
    if (this.waiters.size === 0) {
      this.seenVersion = version;
      this.forced = false;
      return;
    }
    this.seenVersion = version;
    this.forced = false;
    this.waking = true;
    const order = [...this.waiters];
    this.commits
      .run(() => {
        const leased: Array<[Waiter, ClaimedJob]> = [];
        for (const w of order) {
          if (!this.waiters.has(w)) continue;
          if (!this.store.hasQueuedJobs()) break;
          this.queue.heartbeatLater(w.nodeId);
          const job = this.queue.claimWithCampaign(w.nodeId);
          if (job) leased.push([w, job]);
        }
        return leased;
      })
      .then(
        (leased) => {
          // A node whose client left meanwhile gets the same job back on its next claim (it holds
          // the lease), or the lease expires and the job is queued again.
          for (const [w, job] of leased) if (this.waiters.has(w)) w.done(job);
        },
        () => {
          /* the batch failed: the held claims stay held and the next change wakes them again */
        },
      )
      .finally(() => {
        this.waking = false;
        this.wake();
      });
  }

  /** A revoked or stopped node's held claims are answered "nothing" now (no job is leased to it). */
  release(nodeId: string): void {
    for (const w of [...this.waiters]) if (w.nodeId === nodeId) w.done(null);
  }

  /** The master is stopping: every held claim is answered "nothing" (204) now. */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiters]) w.done(null);
  }
}
