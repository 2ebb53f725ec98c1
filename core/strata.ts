// Strata of the statistics: runs are only averaged, ranked and tested against runs of the
// same energy kind (measured vs estimated) on the same hardware class, and flagged runs stay
// out of them unless asked for. Each rule is defined here once: the store writes a run's class
// and kind with these functions when it stores the run (migration 6 back-filled older runs with
// the same rules in SQL), so the report, the campaign comparison, the advisor's training set and
// the metrics agree.

import { ENERGY_KINDS, ESTIMATED_SOURCES, MEASURED_SOURCES, type EnergyKind } from './contracts/lists.ts';
import { EXCLUDING_FLAGS, NET_NONPOSITIVE } from './contracts/flags.ts';

export { ENERGY_KINDS, EXCLUDING_FLAGS, NET_NONPOSITIVE, type EnergyKind };

/** Class of runs recorded without a hardware class (before classes existed, or a node that reports none). */
export const UNCLASSIFIED = 'unclassified';

export function energyKindOf(source: string | null | undefined): EnergyKind {
  if ((MEASURED_SOURCES as readonly unknown[]).includes(source)) return 'measured';
  if ((ESTIMATED_SOURCES as readonly unknown[]).includes(source)) return 'estimated';
  return 'none';
}

/** The one accessor of a run's hardware class. */
export function hardwareClassOf(provenance: { hardwareClass?: string | null } | null | undefined): string {
  const c = provenance?.hardwareClass;
  return typeof c === 'string' && c.trim() !== '' ? c : UNCLASSIFIED;
}

/** Why a succeeded run is left out of the statistics; empty when it counts. */
export function exclusionReasons(
  run: { flags: readonly string[]; netJ: number | null | undefined },
  includeFlagged = false,
): string[] {
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
