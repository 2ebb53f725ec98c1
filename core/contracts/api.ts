import { z } from 'zod';
import { PLACEMENTS, QUEUE_CLASSES } from './lists.ts';
import { RunRecordSchema } from './run-record.ts';
import { IdleReportSchema } from './node.ts';

// Request and response bodies of the master API (`/api/v1`, docs/api.md). The master validates
// every request body before anything is written (a failure answers 400 naming the field, see
// formatZodError); the agent's HTTP client parses the answers with the same schemas.

export const HeartbeatSchema = z.object({ claimsPaused: z.string().max(1000).nullable().optional() }).strict();
export const ClaimSchema = z.object({ nodeId: z.string().min(1) }).strict();
const leaseId = z.string().min(1).max(100);
export const LeaseSchema = z
  .object({ nodeId: z.string().min(1), attempt: z.number().int().positive(), leaseId })
  .strict();

export const CampaignSubmitSchema = z
  .object({
    matrix: z.string().min(1).max(1_000_000),
    fileName: z.string().max(255).default('matrix.yml'),
    nodeConstraint: z.array(z.string().min(1)).max(10_000).default([]),
    // Absent: the matrix's priority/queue (docs/matrix.md); given: they override it.
    priority: z.number().int().min(-1000).max(1000).optional(),
    queueClass: z.enum(QUEUE_CLASSES).optional(),
    placement: z.enum(PLACEMENTS).optional(),
    seed: z.number().int().nonnegative().optional(),
  })
  .strict();

export const ResultSchema = z
  .object({ record: RunRecordSchema, idle: IdleReportSchema.nullable().default(null), leaseId })
  .strict();

/** Path parameter of the routes under /nodes/:id, /campaigns/:id and /jobs/:id. */
export const IdParamsSchema = z.object({ id: z.string() });

/** Answer to a registration: the node id and its own credential. */
export const RegisteredSchema = z.object({ nodeId: z.string().min(1), token: z.string().min(1) });

/** Every error answer carries a message; `field` names the request field at fault, when one is. */
export const ErrorBodySchema = z.object({ error: z.string(), field: z.string().optional() }).passthrough();

/** "record.energy.grossJ: Expected number, received string" — names the field. */
export function formatZodError(err: z.ZodError): {
  error: string;
  field: string;
  issues: Array<{ field: string; message: string }>;
} {
  const issues = err.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  const first = issues[0];
  return { error: `invalid field ${first.field}: ${first.message}`, field: first.field, issues };
}
