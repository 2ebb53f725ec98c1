// Shared data types that are not on the wire: the campaign plan and the event union. The wire
// and storage contract (run records, jobs, nodes, the closed lists) is core/contracts/, as zod
// schemas with these types inferred from them; it is re-exported here for convenience.

import type { EnergySource, Placement, QueueClass } from './contracts/lists.ts';
import type { RunRecord } from './contracts/run-record.ts';
import type { Scenario } from './contracts/job.ts';

export {
  CODECS,
  PLACEMENTS,
  type Codec,
  type EnergySource,
  type JobState,
  type MeterState,
  type Mode,
  type NodeState,
  type Placement,
  type QueueClass,
  type ZoneRole,
} from './contracts/lists.ts';
export type {
  FrameScoreSummary,
  IdleBaselineInfo,
  Provenance,
  QualityResult,
  RunEnergy,
  RunRecord,
  ZoneEnergy,
} from './contracts/run-record.ts';
export type { InputSpec, Job, LadderRung, RateControl, Resolution, Scenario } from './contracts/job.ts';
export type { NodeInfo } from './contracts/node.ts';

export interface RepetitionPolicy {
  min: number;
  max: number;
  /** Stop repeating once the 95% CI half-width of J/encoded minute is under this % of the mean. */
  ciHalfwidthPct: number;
}

/** A validated, expanded matrix: what a campaign is created from. */
export interface CampaignPlan {
  name: string;
  /** Original text of the matrix file and its SHA-256. */
  matrixText: string;
  matrixHash: string;
  matrixFormat: 'native' | 'legacy-batch';
  repetitions: RepetitionPolicy;
  cooldownS: number;
  idleBaselineS: number;
  /** Seed for the interleaving order of repetitions; recorded with the campaign. */
  seed: number;
  scenarios: Scenario[];
  /** Matrix key `placement`; absent: each-class in fleet mode, any in local mode. */
  placement?: Placement;
  /** Matrix key `queue`; absent: live cells go to the live class, the others to default. */
  queueClass?: QueueClass;
  /** Matrix key `priority` (higher first); absent: 0. */
  priority?: number;
}

/** Events from the agent/harness; one union feeds progress, logs, metrics and the store. */
export type FfwattEvent =
  | { kind: 'campaign'; campaignId: string; jobs: number; scenarios: number }
  | { kind: 'idle'; nodeId: string; phase: 'start' | 'done'; seconds: number; watts?: number; source?: string }
  | {
      kind: 'job';
      jobId: string;
      scenario: Scenario;
      repetition: number;
      phase: 'cooldown' | 'warmup' | 'measure' | 'quality' | 'done';
      index?: number;
      total?: number;
    }
  | {
      kind: 'progress';
      jobId: string;
      stream: number;
      frame: number;
      fps: number | null;
      speed: number | null;
      outTimeS: number;
      bitrateBps: number | null;
    }
  | { kind: 'sample'; meter: string; zone: string; watts: number; source: EnergySource }
  | { kind: 'result'; jobId: string; record: RunRecord }
  | { kind: 'error'; jobId?: string; message: string };
