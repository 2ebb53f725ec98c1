import type { ClaimedJob, LeaseAnswer, ResultOutcome } from './job.ts';
import type { IdleReport, NodeRegistration } from './node.ts';
import type { RunRecord } from './run-record.ts';

/**
 * The agent's view of the master. Local mode implements it in-process over the same job queue
 * the HTTP master serves, so both modes run the same agent code.
 */
export interface MasterClient {
  register(node: NodeRegistration): Promise<{ nodeId: string }>;
  heartbeat(nodeId: string): Promise<void>;
  /**
   * A job for this node, or null. `waitS` > 0 asks the master to hold the claim that long until a
   * job appears (long poll, docs/api.md); 0 answers at once.
   */
  claim(nodeId: string, opts?: { waitS?: number }): Promise<ClaimedJob | null>;
  /** The client knows the lease id of each job it claimed and sends it along (fencing). */
  extendLease(jobId: string, nodeId: string, attempt: number): Promise<{ ok: boolean; canceled: boolean }>;
  postResult(record: RunRecord, idle: IdleReport | null): Promise<ResultOutcome>;
}

/**
 * What the in-process client needs of a job queue (master/queue.ts JobQueue implements it).
 * Declared here so the agent depends on the contract, not on the master.
 */
export interface NodeQueue {
  registerNode(node: NodeRegistration, tokenHash?: string | null): void;
  heartbeat(nodeId: string): boolean;
  claimWithCampaign(nodeId: string): ClaimedJob | null;
  extendLease(jobId: string, nodeId: string, attempt: number, leaseId: string): LeaseAnswer;
  submitResult(record: RunRecord, idle: IdleReport | null | undefined, leaseId: string): ResultOutcome;
}
