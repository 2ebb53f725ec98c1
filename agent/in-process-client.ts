import type { JobQueue } from '../master/queue.ts';
import type { ClaimedJob, IdleReport, MasterClient, NodeRegistration } from './client.ts';
import type { RunRecord } from '../core/types.ts';

/** MasterClient over a JobQueue in this process (local mode). */
export class InProcessClient implements MasterClient {
  constructor(private readonly queue: JobQueue) {}

  async register(node: NodeRegistration): Promise<{ nodeId: string }> {
    this.queue.registerNode(node);
    return { nodeId: node.id };
  }

  async heartbeat(nodeId: string): Promise<void> {
    this.queue.heartbeat(nodeId);
  }

  async claim(nodeId: string): Promise<ClaimedJob | null> {
    return this.queue.claimWithCampaign(nodeId);
  }

  async extendLease(jobId: string, nodeId: string, attempt: number) {
    return this.queue.extendLease(jobId, nodeId, attempt);
  }

  async postResult(record: RunRecord, idle: IdleReport | null) {
    return this.queue.submitResult(record, idle);
  }
}
