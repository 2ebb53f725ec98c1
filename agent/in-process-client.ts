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
    return claimWithCampaign(this.queue, nodeId);
  }

  async extendLease(jobId: string, nodeId: string, attempt: number) {
    return this.queue.extendLease(jobId, nodeId, attempt);
  }

  async postResult(record: RunRecord, idle: IdleReport | null) {
    return this.queue.submitResult(record, idle);
  }
}

/** A claim plus the campaign settings the agent needs; shared by the in-process client and the HTTP API. */
export function claimWithCampaign(queue: JobQueue, nodeId: string): ClaimedJob | null {
  const job = queue.claim(nodeId);
  if (!job) return null;
  const c = queue.store.getCampaign(job.campaignId);
  if (!c) throw new Error(`job ${job.id} belongs to unknown campaign ${job.campaignId}`);
  return { ...job, campaign: { id: c.id, name: c.name, idleBaselineS: c.settings.idleBaselineS, cooldownS: c.settings.cooldownS } };
}
