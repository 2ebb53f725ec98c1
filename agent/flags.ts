import type { Mode, RunEnergy } from '../core/types.ts';
import type { HostFacts } from './host-facts.ts';

/** Share of the window's CPU capacity used by other processes above which a run is flagged. */
export const NOISY_NEIGHBOUR_SHARE = 0.1;

export interface FlagInputs {
  energy: RunEnergy;
  windowS: number;
  jobCpuSeconds: number;
  otherCpuSeconds: number;
  cores: number;
  streams: number;
  host: HostFacts;
  droppedFrames: number;
  mode: Mode;
  speed: number | null;
}

/**
 * Validity flags carried by a run (shown on every report row):
 * estimated — energy comes (partly) from the CPU-time estimate, not a counter;
 * noisy_neighbour — other processes used more than 10% of the machine's CPU during the window;
 * governor_not_performance — frequency scaling may shift energy between runs;
 * hybrid_master — the master service shares this machine;
 * live_dropped_frames / live_slower_than_realtime — the live encode did not keep up.
 */
export function runFlags(i: FlagInputs): string[] {
  const flags: string[] = [];
  if (i.energy.source === 'estimate' || i.energy.source === 'mixed') flags.push('estimated');
  if (i.windowS > 0 && i.otherCpuSeconds / (i.windowS * i.cores) > NOISY_NEIGHBOUR_SHARE) flags.push('noisy_neighbour');
  const governor = i.host.governor();
  if (governor != null && governor !== 'performance') flags.push('governor_not_performance');
  if (i.host.hybridMaster) flags.push('hybrid_master');
  if (i.mode === 'live' && i.droppedFrames > 0) flags.push('live_dropped_frames');
  if (i.mode === 'live' && i.speed != null && i.speed < 0.95) flags.push('live_slower_than_realtime');
  return flags;
}
