import { z } from 'zod';
import { ENERGY_SOURCES, METER_STATES, NODE_STATES } from './lists.ts';

const nnum = z.number().finite().nonnegative();

/** A meter as a node reports it at registration. */
export const NodeMeterSchema = z
  .object({
    meter: z.string(),
    source: z.enum(ENERGY_SOURCES),
    ok: z.boolean(),
    reason: z.string().optional(),
    state: z.enum(METER_STATES).optional(),
  })
  .strict();

/** What a node sends to register (POST /api/v1/nodes/register). */
export const NodeRegistrationSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ - only'),
    hostname: z.string().min(1).max(255),
    hardware: z.record(z.unknown()).default({}),
    /** codec → encoder usable on this node. */
    encoders: z.record(z.string()),
    meters: z.array(NodeMeterSchema).default([]),
    labels: z.array(z.string().max(100)).max(50).default([]),
    /** Hardware class id derived from the host facts (docs/fleet.md). */
    hardwareClass: z
      .string()
      .max(200)
      .regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and - only')
      .optional(),
  })
  .strict();
/** As validated (defaults filled in); `z.input` is what a client may send. */
export type NodeRegistration = z.infer<typeof NodeRegistrationSchema>;

/** A registered node as the master lists it. */
export const NodeInfoSchema = NodeRegistrationSchema.extend({
  lastHeartbeat: z.number().nullable(),
  state: z.enum(NODE_STATES),
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

/** An idle baseline a node measured, posted with a result (stored per campaign). */
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
export type IdleReport = z.infer<typeof IdleReportSchema>;
/** The stored row: the report plus the campaign it was measured for. */
export type IdleBaselineRow = IdleReport & { campaignId: string };
