import type { Mode, RunEnergy } from '../core/types.ts';
import { validityFlags, type Preflight } from '../energy/preflight.ts';
import type { ProcTreeUsage } from '../energy/proctree.ts';

export interface FlagInputs {
  energy: RunEnergy;
  windowS: number;
  usage: ProcTreeUsage;
  before: Preflight;
  after: Preflight;
  hybridMaster: boolean;
  droppedFrames: number;
  mode: Mode;
}

export { RUN_FLAGS, type RunFlag } from '../core/contracts/flags.ts';

/**
 * Validity flags carried by a run (shown on every report row): the machine-state flags of
 * energy/preflight.ts (estimated, noisy_neighbour, thermal_drift, governor_*, turbo_on,
 * no_idle_baseline, idle-baseline-dirty, net-energy-nonpositive), plus hybrid_master (the
 * master service shares this machine) and live_dropped_frames (a live encode dropped frames).
 */
export function runFlags(i: FlagInputs): string[] {
  const flags: string[] = validityFlags({
    before: i.before,
    after: i.after,
    energy: i.energy,
    usage: i.usage,
    windowS: i.windowS,
  });
  flags.push(...(i.energy.flags ?? [])); // from the meters' topology, e.g. topology-suspect
  if (i.hybridMaster) flags.push('hybrid_master');
  if (i.mode === 'live' && i.droppedFrames > 0) flags.push('live_dropped_frames');
  return flags;
}
