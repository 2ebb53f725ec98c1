// Every flag a run record can carry (docs/methodology.md, "Validity preflight and flags"), listed once.

/** Machine-state flags set by energy/preflight.ts validityFlags. */
export const VALIDITY_FLAGS = [
  'estimated',
  'noisy_neighbour',
  'thermal_drift',
  'governor_not_performance',
  'governor_unknown',
  'turbo_on',
  'no_idle_baseline',
  'idle-baseline-dirty',
  'net-energy-nonpositive',
] as const;
export type ValidityFlag = (typeof VALIDITY_FLAGS)[number];

/** RAPL total above the platform zone by more than the margin (energy/rapl.ts). */
export const TOPOLOGY_SUSPECT_FLAG = 'topology-suspect';

/**
 * The machine-state flags, the meters' own (topology-suspect), the agent's (hybrid_master,
 * live_dropped_frames, quality_failed) and the encode cell's (media/cell.ts). Runs flagged
 * `idle-baseline-dirty` have no net figure; runs flagged `net-energy-nonpositive` keep theirs
 * for inspection, explained in `energy.netExplanation`, and are never ranked.
 */
export const RUN_FLAGS = [
  ...VALIDITY_FLAGS,
  TOPOLOGY_SUSPECT_FLAG,
  'hybrid_master',
  'live_dropped_frames',
  'quality_failed',
  'window-opened-after-stream-end',
  'live-behind-realtime',
] as const;
export type RunFlag = (typeof RUN_FLAGS)[number];

/** Flags that keep a run out of means, CIs, tests and the advisor unless --include-flagged is given. */
export const EXCLUDING_FLAGS = [
  'noisy_neighbour',
  'thermal_drift',
  'window-opened-after-stream-end',
  TOPOLOGY_SUSPECT_FLAG,
  'idle-baseline-dirty',
] as const satisfies readonly RunFlag[];
/** A run whose net energy is zero or negative is never ranked, --include-flagged or not. */
export const NET_NONPOSITIVE = 'net-energy-nonpositive' satisfies RunFlag;
