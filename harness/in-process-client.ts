import type {
  ClaimedJob,
  IdleReport,
  MasterClient,
  NodeQueue,
  NodeRegistration,
  RunRecord,
} from '../core/contracts/index.ts';
import { LeaseBook } from '../agent/leases.ts';

/** MasterClient over a job queue in this process (local mode passes master/queue.ts JobQueue). */
export class InProcessClient implements MasterClient {
  private readonly leases = new LeaseBook();

  constructor(private readonly queue: NodeQueue) {}

  async register(node: NodeRegistration): Promise<{ nodeId: string }> {
    this.queue.registerNode(node);
    return { nodeId: node.id };
  }

  async heartbeat(nodeId: string): Promise<void> {
    this.queue.heartbeat(nodeId);
  }

  async claim(nodeId: string): Promise<ClaimedJob | null> {
    const job = this.queue.claimWithCampaign(nodeId);
    if (job) this.leases.remember(job.id, job.attempts, job.leaseId);
    return job;
  }

  async extendLease(jobId: string, nodeId: string, attempt: number) {
    return this.queue.extendLease(jobId, nodeId, attempt, this.leases.leaseOf(jobId, attempt));
  }

  async postResult(record: RunRecord, idle: IdleReport | null) {
    const outcome = this.queue.submitResult(record, idle, this.leases.leaseOf(record.jobId, record.attempt));
    this.leases.forget(record.jobId);
    return outcome;
  }
}
