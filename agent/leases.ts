/**
 * The lease id of every job this agent holds, by job id and attempt: the Worker speaks in job ids
 * and attempts, the master wants the lease id of the claim (fencing) on extensions and results.
 */
export class LeaseBook {
  private readonly byJob = new Map<string, { attempt: number; leaseId: string }>();

  remember(jobId: string, attempt: number, leaseId: string): void {
    this.byJob.set(jobId, { attempt, leaseId });
  }

  /** The lease id of that claim; throws when this agent never claimed it (a bug, not a network fault). */
  leaseOf(jobId: string, attempt: number): string {
    const l = this.byJob.get(jobId);
    if (!l || l.attempt !== attempt) throw new Error(`no lease held for job ${jobId} attempt ${attempt}`);
    return l.leaseId;
  }

  forget(jobId: string): void {
    this.byJob.delete(jobId);
  }
}
