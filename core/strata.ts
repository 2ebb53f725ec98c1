// Strata of the statistics: runs are only averaged, ranked and tested against runs of the
// same energy kind (measured vs estimated) on the same hardware class, and flagged runs stay
// out of them unless asked for. Each rule is defined here once; store/strata-sql.ts writes the
// same rules in SQL from these constants, so the report, the campaign comparison, the advisor's
// training set and the metrics agree.

/** measured: a hardware counter (RAPL, NVML); estimated: modelled CPU energy, alone or plus a measured GPU (`mixed`); none: no energy figure. */
export type EnergyKind = 'measured' | 'estimated' | 'none';
export const ENERGY_KINDS: readonly EnergyKind[] = ['measured', 'estimated', 'none'];

/** Class of runs recorded without a hardware class (before classes existed, or a node that reports none). */
export const UNCLASSIFIED = 'unclassified';

export function energyKindOf(source: string | null | undefined): EnergyKind {
  if (source === 'rapl' || source === 'nvml') return 'measured';
  if (source === 'estimate' || source === 'mixed') return 'estimated';
  return 'none';
}

/** The one accessor of a run's hardware class. */
export function hardwareClassOf(provenance: { hardwareClass?: string | null } | null | undefined): string {
  const c = provenance?.hardwareClass;
  return typeof c === 'string' && c.trim() !== '' ? c : UNCLASSIFIED;
}

/** Flags that keep a run out of means, CIs, tests and the advisor unless --include-flagged is given. */
export const EXCLUDING_FLAGS = ['noisy_neighbour', 'thermal_drift', 'window-opened-after-stream-end', 'topology-suspect', 'idle-baseline-dirty'] as const;
/** Reason given for a run whose net energy is zero or negative: such a run is never ranked, --include-flagged or not. */
export const NET_NONPOSITIVE = 'net-energy-nonpositive';

/** Why a succeeded run is left out of the statistics; empty when it counts. */
export function exclusionReasons(run: { flags: readonly string[]; netJ: number | null | undefined }, includeFlagged = false): string[] {
  const reasons: string[] = [];
  if (run.flags.includes(NET_NONPOSITIVE) || (run.netJ != null && run.netJ <= 0)) reasons.push(NET_NONPOSITIVE);
  if (!includeFlagged) for (const f of EXCLUDING_FLAGS) if (run.flags.includes(f)) reasons.push(f);
  return reasons;
}

/** Label of a stratum as the reports print it. */
export function stratumLabel(hardwareClass: string, kind: EnergyKind): string {
  return `${hardwareClass} · ${kind === 'measured' ? 'measured' : kind === 'estimated' ? 'ESTIMATE' : 'no energy'}`;
}

export const KIND_ORDER: Record<EnergyKind, number> = { measured: 0, estimated: 1, none: 2 };
