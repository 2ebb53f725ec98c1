// The strata rules of core/strata.ts written in SQL over a `run` row, for the queries of the store.
import { EXCLUDING_FLAGS, NET_NONPOSITIVE, UNCLASSIFIED } from '../core/strata.ts';

const sqlList = (xs: readonly string[]) => xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(', ');

/** SQL over a `run` row (alias given): its hardware class, energy kind, and exclusion. */
export function strataSql(alias = 'run', includeFlagged = false) {
  const nonPositive = `((${alias}.net_j IS NOT NULL AND ${alias}.net_j <= 0) OR EXISTS (SELECT 1 FROM json_each(${alias}.flags) fx WHERE fx.value = '${NET_NONPOSITIVE}'))`;
  const flagged = `EXISTS (SELECT 1 FROM json_each(${alias}.flags) fx WHERE fx.value IN (${sqlList(EXCLUDING_FLAGS)}))`;
  return {
    hardwareClass: `COALESCE(NULLIF(TRIM(json_extract(${alias}.provenance, '$.hardwareClass')), ''), '${UNCLASSIFIED}')`,
    energyKind: `CASE WHEN ${alias}.energy_source IN ('rapl', 'nvml') THEN 'measured' WHEN ${alias}.energy_source IN ('estimate', 'mixed') THEN 'estimated' ELSE 'none' END`,
    /** 1 when the run is left out of the statistics. */
    excluded: includeFlagged ? `(${nonPositive})` : `(${nonPositive} OR ${flagged})`,
    /** Flags that count as a reason for leaving a run out (read-db lists them per row). */
    excludingFlags: includeFlagged ? [NET_NONPOSITIVE] : [NET_NONPOSITIVE, ...EXCLUDING_FLAGS],
  };
}
