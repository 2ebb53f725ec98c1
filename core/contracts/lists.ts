// The closed vocabularies of ffwatt, each listed once. Types, zod enums, SQL CHECKs and CLI
// help read these lists; nothing else spells them out.

export const CODECS = ['h264', 'hevc', 'av1', 'vp9'] as const;
export type Codec = (typeof CODECS)[number];

export const MODES = ['file', 'live'] as const;
export type Mode = (typeof MODES)[number];

/** A job's life: queued → leased → running → succeeded | failed | canceled. */
export const JOB_STATES = ['queued', 'leased', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** States in which a job still waits for or holds a node. */
export const OPEN_JOB_STATES = ['queued', 'leased', 'running'] as const satisfies readonly JobState[];

/** How one attempt (a run record) ended. */
export const RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const QUEUE_CLASSES = ['live', 'default', 'batch'] as const;
export type QueueClass = (typeof QUEUE_CLASSES)[number];

/**
 * Where a campaign's jobs run (docs/fleet.md): `any` node that can; `each-class`: every
 * cell on every selected hardware class; `each-node`: every cell on every selected node.
 */
export const PLACEMENTS = ['any', 'each-class', 'each-node'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export const CAMPAIGN_STATUSES = ['running', 'done', 'canceled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const NODE_STATES = ['alive', 'suspect', 'dead'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** Where a zone's energy comes from. */
export const ENERGY_SOURCES = ['rapl', 'nvml', 'estimate'] as const;
export type EnergySource = (typeof ENERGY_SOURCES)[number];
/** A run's source: one of the above, or `mixed` when estimated and measured total zones are combined. */
export const RUN_ENERGY_SOURCES = [...ENERGY_SOURCES, 'mixed'] as const;
export type RunEnergySource = (typeof RUN_ENERGY_SOURCES)[number];

/**
 * measured: a hardware counter (RAPL, NVML); estimated: modelled CPU energy, alone or plus a
 * measured GPU (`mixed`); none: no energy figure. Runs of different kinds are never pooled.
 */
export const ENERGY_KINDS = ['measured', 'estimated', 'none'] as const;
export type EnergyKind = (typeof ENERGY_KINDS)[number];
export const MEASURED_SOURCES = ['rapl', 'nvml'] as const satisfies readonly EnergySource[];
export const ESTIMATED_SOURCES = ['estimate', 'mixed'] as const satisfies readonly RunEnergySource[];

/**
 * A meter on one machine: `in-use`; `absent`, the machine does not have it (no powercap tree,
 * no NVIDIA driver or GPU): nothing is wrong; `unusable`, it is there but cannot be read
 * (permissions, an incomplete tree, a driver that does not start): something to fix.
 */
export const METER_STATES = ['in-use', 'absent', 'unusable'] as const;
export type MeterState = (typeof METER_STATES)[number];

/**
 * How a zone adds up: `total` zones are summed into the job's energy (RAPL packages, the
 * dram zone nested under each package, GPUs, the estimate); `component` zones are inside a
 * total zone or repeat one (core, uncore, the MMIO/TPMI view of a package, a mirrored
 * per-die package counter) and are never added; `platform` (psys, psys-N) overlaps the
 * packages and is reported on its own (docs/methodology.md, RAPL zones).
 */
export const ZONE_ROLES = ['total', 'component', 'platform'] as const;
export type ZoneRole = (typeof ZONE_ROLES)[number];

/** A count of zero for each member of a list (e.g. jobs per state), so absent members read 0, not undefined. */
export function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Whether a job still waits for or holds a node (queued, leased, running). */
export function isOpenJobState(state: JobState): boolean {
  return (OPEN_JOB_STATES as readonly JobState[]).includes(state);
}

/** Whether a string is a member of a list, narrowing it (`state` query parameters, CLI flags). */
export function isOneOf<K extends string>(list: readonly K[], value: string): value is K {
  return (list as readonly string[]).includes(value);
}
