import { z } from 'zod';
import { CODECS, JOB_STATES, MODES, QUEUE_CLASSES } from './lists.ts';

// Scenarios and jobs as the queue hands them out (docs/api.md, POST /jobs/claim). Matrices are
// validated by matrix/ against their own file format; these schemas check the expanded cells
// that travel between the master and the agents.

const num = z.number().finite();
const pos = num.positive();

export const ResolutionSchema = z.object({ width: z.number().int().positive(), height: z.number().int().positive() });
export type Resolution = z.infer<typeof ResolutionSchema>;

/** crf: constant quality value; bitrate: target bits per second. */
export const RateControlSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('crf'), value: num }),
  z.object({ kind: z.literal('bitrate'), value: pos }),
]);
export type RateControl = z.infer<typeof RateControlSchema>;

export const SYNTHETIC_SOURCES = ['testsrc2', 'smptehdbars'] as const;

export const InputSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('synthetic'), source: z.enum(SYNTHETIC_SOURCES), resolution: ResolutionSchema, fps: pos }),
  z.object({ kind: z.literal('file'), path: z.string().min(1), resolution: ResolutionSchema, fps: pos }),
]);
export type InputSpec = z.infer<typeof InputSpecSchema>;

/** One output of a ladder; the first rung is the cell's main output. */
export const LadderRungSchema = z.object({
  resolution: ResolutionSchema,
  fps: pos,
  /** Defaults to the scenario's rate control. */
  rate: RateControlSchema.optional(),
});
export type LadderRung = z.infer<typeof LadderRungSchema>;

/** One expanded cell of a matrix. */
export const ScenarioSchema = z.object({
  /** Stable identity inside a campaign: hash of the fields below. */
  key: z.string().min(1),
  /** Human-readable, e.g. "file h264/medium crf23 720p30 x1". */
  label: z.string(),
  mode: z.enum(MODES),
  input: InputSpecSchema,
  codec: z.enum(CODECS),
  /** Explicit encoder from the matrix; otherwise resolved per node from the codec. */
  encoder: z.string().optional(),
  preset: z.string(),
  rate: RateControlSchema,
  /** Concurrent encodes in this cell (the stress axis). */
  streams: z.number().int().positive(),
  /** Seconds run before the measured window opens (excluded from energy). */
  warmupS: num.nonnegative(),
  /** Media seconds encoded inside the measured window, per stream. */
  durationS: pos,
  /** Output ladder; at least one rung (the main output). */
  outputs: z.array(LadderRungSchema).min(1),
  /** Extra encoder options (`-key value` pairs placed after the encoder). */
  encoderOptions: z.record(z.string()).optional(),
  /** Where in the matrix file this cell came from, e.g. "scenarios[0]". */
  origin: z.string().optional(),
});
export type Scenario = z.infer<typeof ScenarioSchema>;

export const JobSchema = z.object({
  id: z.string().min(1),
  campaignId: z.string().min(1),
  scenarioId: z.number().int(),
  scenario: ScenarioSchema,
  repetition: z.number().int().nonnegative(),
  state: z.enum(JOB_STATES),
  priority: z.number().int(),
  queueClass: z.enum(QUEUE_CLASSES),
  /** Attempts started so far (the running attempt included). */
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: z.number().nullable(),
  /** Node ids allowed to run this job; empty = any. */
  nodeConstraint: z.array(z.string()),
  /** Seconds of idle sleep the agent does before the job (cooldown). */
  cooldownS: num.nonnegative(),
  /** Hardware class (placement each-class) or node id (each-node) this job is for; null: any node. */
  placementTarget: z.string().nullable().optional(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
export type Job = z.infer<typeof JobSchema>;

/** What a claim hands the agent: the job plus the campaign settings it needs to measure it. */
export const ClaimedJobSchema = JobSchema.extend({
  /** Fencing token of this claim: lease extensions and the result must carry it. */
  leaseId: z.string().min(1),
  /** Seconds the agent lets the encode run before it kills it (media duration × factor + margin). */
  deadlineS: pos,
  campaign: z.object({
    id: z.string(),
    name: z.string(),
    idleBaselineS: num.nonnegative(),
    cooldownS: num.nonnegative(),
  }),
  /** The master's lease length (ms), so the agent can check its extension interval; absent in local mode. */
  leaseMs: pos.optional(),
});
export type ClaimedJob = z.infer<typeof ClaimedJobSchema>;

/** The answer to a lease extension. */
export const LeaseAnswerSchema = z.object({
  ok: z.boolean(),
  canceled: z.boolean(),
  leaseExpiresAt: z.number().optional(),
  reason: z.string().optional(),
});
export type LeaseAnswer = z.infer<typeof LeaseAnswerSchema>;

/** What became of a posted result. */
export const ResultOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stored') }),
  z.object({ kind: z.literal('duplicate') }),
  z.object({ kind: z.literal('stale'), reason: z.string() }),
  z.object({ kind: z.literal('unknown-job') }),
]);
export type ResultOutcome = z.infer<typeof ResultOutcomeSchema>;
