import type { Job, NodeInfo, RunRecord } from '../core/types.ts';
import type { IdleBaselineRow } from '../store/store.ts';
import type { ResultOutcome } from '../master/queue.ts';

export type NodeRegistration = Omit<NodeInfo, 'lastHeartbeat' | 'state'>;

/** What a claim hands the agent: the job plus the campaign settings it needs to measure it. */
export interface ClaimedJob extends Job {
  /** Fencing token of this claim: lease extensions and the result must carry it. */
  leaseId: string;
  /** Seconds the agent lets the encode run before it kills it (media duration × factor + margin). */
  deadlineS: number;
  campaign: { id: string; name: string; idleBaselineS: number; cooldownS: number };
}

export type IdleReport = Omit<IdleBaselineRow, 'campaignId'>;

/**
 * The agent's view of the master. Local mode implements it in-process over the same JobQueue
 * the HTTP master serves, so both modes run the same agent code.
 */
export interface MasterClient {
  register(node: NodeRegistration): Promise<{ nodeId: string }>;
  heartbeat(nodeId: string): Promise<void>;
  claim(nodeId: string): Promise<ClaimedJob | null>;
  /** The client knows the lease id of each job it claimed and sends it along (fencing). */
  extendLease(jobId: string, nodeId: string, attempt: number): Promise<{ ok: boolean; canceled: boolean }>;
  postResult(record: RunRecord, idle: IdleReport | null): Promise<ResultOutcome>;
}
