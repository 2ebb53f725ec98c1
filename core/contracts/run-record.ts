import { datetimeRegex, z } from 'zod';
import { ENERGY_SOURCES, METER_STATES, RUN_ENERGY_SOURCES, RUN_STATUSES, ZONE_ROLES } from './lists.ts';

// The run record: what an agent reports for one attempt of a job, validated by the master
// before anything is written (docs/api.md), stored once per (job, attempt). Field names are
// the JSON names; SQLite uses them in snake_case.

const num = z.number().finite();
const nnum = num.nonnegative();
// z.string().datetime() builds its RegExp on every parse (zod 3); the same expression, built once.
const isoTime = z.string().regex(datetimeRegex({ precision: null, offset: false, local: false }), {
  message: 'Invalid datetime',
});

export const ZoneEnergySchema = z
  .object({
    meter: z.string(),
    zone: z.string(),
    source: z.enum(ENERGY_SOURCES),
    role: z.enum(ZONE_ROLES),
    grossJ: nnum,
    /** Idle power of this zone from the baseline, if one was measured. */
    idleW: nnum.nullable(),
    netJ: num.nullable(),
    avgW: nnum,
    peakW: nnum,
  })
  .strict();
export type ZoneEnergy = z.infer<typeof ZoneEnergySchema>;

/**
 * How the idle baseline a run's net figure rests on was taken (energy/idle.ts measureCleanIdle):
 * after the cooldown, with the machine's other CPU load and package temperature recorded, and
 * re-measured (bounded) while it was not clean.
 */
export const IdleBaselineInfoSchema = z
  .object({
    /** Idle W of the total zones in the attempt kept (the clean one, else the last); null when no total zone was read. */
    watts: nnum.nullable(),
    /** Length of that attempt (s). */
    seconds: nnum,
    /** CPU load of processes other than the measurer during that attempt, in busy cores. */
    loadCores: nnum,
    /** Load above which an attempt is refused (the noisy-neighbour threshold), busy cores. */
    maxLoadCores: nnum,
    /** CPU package temperature at the start of that attempt; null when the machine exposes none (see notes). */
    tempC: num.nullable(),
    tempSensor: z.string().nullable(),
    /** Attempts made (1 = clean at once); at most maxAttempts. */
    attempts: z.number().int().positive(),
    maxAttempts: z.number().int().positive(),
    /** False when no attempt was clean: the run then has no net figure and the flag `idle-baseline-dirty`. */
    clean: z.boolean(),
    /** Wall-clock start and end (ISO) of the attempt kept. */
    startedAt: isoTime,
    endedAt: isoTime,
    /** True when the run reuses a clean baseline measured for an earlier job of the campaign on this node. */
    reused: z.boolean(),
    /** Why each refused attempt was refused, in order. */
    refusals: z.array(z.string().max(2000)).max(100),
    /** What could not be read (e.g. no package temperature sensor). */
    notes: z.array(z.string().max(2000)).max(100),
  })
  .strict();
export type IdleBaselineInfo = z.infer<typeof IdleBaselineInfoSchema>;

export const RunEnergySchema = z
  .object({
    /**
     * 'estimate' when every total zone is estimated, 'mixed' when estimated and measured total
     * zones are combined (e.g. an estimated CPU with a measured GPU), else the measured source.
     */
    source: z.enum(RUN_ENERGY_SOURCES),
    zones: z.array(ZoneEnergySchema),
    /** Sum of the `total` zones. */
    grossJ: nnum,
    idleW: nnum.nullable(),
    netJ: num.nullable(),
    avgW: nnum,
    peakW: nnum,
    /** Seconds of the measured window (monotonic clock). */
    windowS: nnum,
    jPerEncodedMinute: nnum.nullable(),
    netJPerEncodedMinute: num.nullable(),
    jPerFrame: nnum.nullable(),
    /**
     * J per megapixel of the main output only (the first rung of the first stream: its
     * width × height × frames); the energy of every output is in the numerator.
     */
    jPerMegapixel: nnum.nullable(),
    /** The idle baseline behind idleW/netJ, when one was measured (agents since the clean-baseline rules). */
    baseline: IdleBaselineInfoSchema.nullable().optional(),
    /** Why the net figure is not usable, when it is not (net ≤ 0: flag `net-energy-nonpositive`; dirty baseline). */
    netExplanation: z.string().max(10_000).nullable().optional(),
    /** Energy of the RAPL platform zones (psys, psys-N) over the window; absent/null without one. */
    platformJ: nnum.nullable().optional(),
    /** Energy-derived run flags (e.g. `topology-suspect`: RAPL total above the platform zone by more than 5 %). */
    flags: z.array(z.string().max(100)).max(20).optional(),
  })
  .strict();
export type RunEnergy = z.infer<typeof RunEnergySchema>;

export const FrameScoreSummarySchema = z.object({ mean: num, harmonicMean: num, p1: num, min: num });
export type FrameScoreSummary = z.infer<typeof FrameScoreSummarySchema>;

// Quality and provenance are nested documents written by ffwatt agents and stored as JSON; keys
// this version does not know are kept (passthrough), the ones it knows are checked. The types are
// inferred from the known shape (no index signature), the schemas add the passthrough.
const QualityOutputShape = z.object({
  rung: z.number().int().nonnegative(),
  psnrY: num.nullable(),
  psnrAvg: num.nullable(),
  ssim: num.nullable(),
  vmaf: FrameScoreSummarySchema.nullable(),
  psnrFrames: FrameScoreSummarySchema.nullable().optional(),
  ssimFrames: FrameScoreSummarySchema.nullable().optional(),
  /** Mean SSIM of the luma plane (`ssim` is the all-planes figure). */
  ssimY: num.nullable().optional(),
  /** True when at least one frame's PSNR was inf or above the cap and was capped. */
  psnrCapped: z.boolean().optional(),
  /** Frames compared (at the reference frame rate). */
  frames: z.number().int().nonnegative().optional(),
  /** Reference seconds the comparison started at (0 unless the output joined late). */
  referenceOffsetS: num.optional(),
});
export const QualityOutputSchema = QualityOutputShape.passthrough();
export type QualityOutput = z.infer<typeof QualityOutputShape>;

const QualityResultShape = z.object({
  /** Per output rung, in ladder order. */
  outputs: z.array(QualityOutputSchema),
  /** Exact filter graph, model, ffmpeg version used for scoring. */
  recipe: z.record(z.unknown()),
  vmafSkippedReason: z.string().optional(),
});
export const QualityResultSchema = QualityResultShape.passthrough();
export type QualityResult = Omit<z.infer<typeof QualityResultShape>, 'outputs'> & { outputs: QualityOutput[] };

/**
 * Where a run was made. ffmpegVersion, encoder and argv are required; ffwatt agents record the
 * rest, hand-driven nodes (docs/api.md) may leave it out, so readers must not assume it.
 */
const ProvenanceShape = z.object({
  ffmpegVersion: z.string(),
  encoder: z.string(),
  argv: z.array(z.array(z.string())),
  ffmpegBuildconfHash: z.string().optional(),
  inputDescription: z.string().optional(),
  inputHash: z.string().nullable().optional(),
  kernel: z.string().optional(),
  cpuModel: z.string().optional(),
  cores: z.number().int().nonnegative().optional(),
  gpu: z.string().nullable().optional(),
  governor: z.string().nullable().optional(),
  turbo: z.string().nullable().optional(),
  meters: z
    .array(
      z.object({
        meter: z.string(),
        source: z.enum(ENERGY_SOURCES),
        valid: z.boolean(),
        note: z.string().optional(),
        state: z.enum(METER_STATES).optional(),
      }),
    )
    .optional(),
  hybridMaster: z.boolean().optional(),
  /** Hardware class id of the node that made the run (docs/fleet.md); absent on runs recorded before classes existed. */
  hardwareClass: z.string().optional(),
});
export const ProvenanceSchema = ProvenanceShape.passthrough();
export type Provenance = z.infer<typeof ProvenanceShape>;

/** What an agent reports for one attempt of a job; stored once per (job, attempt). */
export const RunRecordSchema = z
  .object({
    jobId: z.string().min(1),
    attempt: z.number().int().positive(),
    nodeId: z.string().min(1),
    status: z.enum(RUN_STATUSES),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    error: z.string().max(100_000).nullable(),
    stderrTail: z.string().max(100_000),
    /** Wall clock, ISO. */
    startedAt: isoTime,
    endedAt: isoTime,
    /** Monotonic seconds of the whole job, warm-up included. */
    wallS: nnum,
    /** Media seconds of all streams together, measured window only. */
    mediaSeconds: nnum,
    frames: z.number().int().nonnegative(),
    outputBytes: z.number().int().nonnegative(),
    bitrateBps: nnum.nullable(),
    fps: nnum.nullable(),
    speed: nnum.nullable(),
    droppedFrames: z.number().int().nonnegative(),
    dupFrames: z.number().int().nonnegative(),
    energy: RunEnergySchema.nullable(),
    quality: QualityResultSchema.nullable(),
    /** Run flags (core/contracts/flags.ts RUN_FLAGS); unknown ones from newer agents are kept. */
    flags: z.array(z.string().max(100)).max(100),
    provenance: ProvenanceSchema,
  })
  .strict();
export type RunRecord = Omit<z.infer<typeof RunRecordSchema>, 'quality' | 'provenance'> & {
  quality: QualityResult | null;
  provenance: Provenance;
};
