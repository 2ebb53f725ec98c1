import { z } from 'zod';

// Request bodies of the master API. Every body is validated before anything is written;
// a failure answers 400 naming the field (see formatZodError).

const num = z.number().finite();
const nnum = num.nonnegative();
const source = z.enum(['rapl', 'nvml', 'estimate']);

export const NodeRegistrationSchema = z
  .object({
    id: z.string().min(1).max(200).regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ - only'),
    hostname: z.string().min(1).max(255),
    hardware: z.record(z.unknown()).default({}),
    encoders: z.record(z.string()),
    meters: z.array(z.object({ meter: z.string(), source, ok: z.boolean(), reason: z.string().optional() }).strict()).default([]),
    labels: z.array(z.string().max(100)).max(50).default([]),
  })
  .strict();

export const HeartbeatSchema = z.object({ claimsPaused: z.string().max(1000).nullable().optional() }).strict();
export const ClaimSchema = z.object({ nodeId: z.string().min(1) }).strict();
const leaseId = z.string().min(1).max(100);
export const LeaseSchema = z.object({ nodeId: z.string().min(1), attempt: z.number().int().positive(), leaseId }).strict();

export const CampaignSubmitSchema = z
  .object({
    matrix: z.string().min(1).max(1_000_000),
    fileName: z.string().max(255).default('matrix.yml'),
    nodeConstraint: z.array(z.string().min(1)).max(10_000).default([]),
    priority: z.number().int().min(-1000).max(1000).default(0),
    queueClass: z.enum(['live', 'default', 'batch']).optional(),
    seed: z.number().int().nonnegative().optional(),
  })
  .strict();

const zoneEnergy = z
  .object({
    meter: z.string(),
    zone: z.string(),
    source,
    role: z.enum(['total', 'component', 'platform']),
    grossJ: nnum,
    idleW: nnum.nullable(),
    netJ: num.nullable(),
    avgW: nnum,
    peakW: nnum,
  })
  .strict();

const energy = z
  .object({
    source: z.enum(['rapl', 'nvml', 'estimate', 'mixed']),
    zones: z.array(zoneEnergy),
    grossJ: nnum,
    idleW: nnum.nullable(),
    netJ: num.nullable(),
    avgW: nnum,
    peakW: nnum,
    windowS: nnum,
    jPerEncodedMinute: nnum.nullable(),
    netJPerEncodedMinute: num.nullable(),
    jPerFrame: nnum.nullable(),
    jPerMegapixel: nnum.nullable(),
  })
  .strict();

export const RunRecordSchema = z
  .object({
    jobId: z.string().min(1),
    attempt: z.number().int().positive(),
    nodeId: z.string().min(1),
    status: z.enum(['succeeded', 'failed', 'canceled']),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    error: z.string().max(100_000).nullable(),
    stderrTail: z.string().max(100_000),
    startedAt: z.string().datetime(),
    endedAt: z.string().datetime(),
    wallS: nnum,
    mediaSeconds: nnum,
    frames: z.number().int().nonnegative(),
    outputBytes: z.number().int().nonnegative(),
    bitrateBps: nnum.nullable(),
    fps: nnum.nullable(),
    speed: nnum.nullable(),
    droppedFrames: z.number().int().nonnegative(),
    dupFrames: z.number().int().nonnegative(),
    energy: energy.nullable(),
    // Quality and provenance are nested documents written by ffwatt agents; their shape is
    // checked at the top level and stored as JSON.
    quality: z.object({ outputs: z.array(z.record(z.unknown())), recipe: z.record(z.unknown()) }).passthrough().nullable(),
    flags: z.array(z.string().max(100)).max(100),
    provenance: z.object({ ffmpegVersion: z.string(), encoder: z.string(), argv: z.array(z.array(z.string())) }).passthrough(),
  })
  .strict();

export const IdleReportSchema = z
  .object({
    nodeId: z.string().min(1),
    measuredAt: z.number().int().nonnegative(),
    seconds: nnum,
    totalW: nnum,
    source: z.string(),
    zones: z.unknown(),
  })
  .strict();

export const ResultSchema = z.object({ record: RunRecordSchema, idle: IdleReportSchema.nullable().default(null), leaseId }).strict();

/** "record.energy.grossJ: Expected number, received string" — names the field. */
export function formatZodError(err: z.ZodError): { error: string; field: string; issues: Array<{ field: string; message: string }> } {
  const issues = err.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  const first = issues[0];
  return { error: `invalid field ${first.field}: ${first.message}`, field: first.field, issues };
}
