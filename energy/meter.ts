import type { EnergySource, MeterState, ZoneRole } from '../core/types.ts';

/** One zone a meter exposes (a RAPL zone, a GPU, the estimate). */
export interface ZoneInfo {
  meter: string;
  zone: string;
  source: EnergySource;
  role: ZoneRole;
  /** Counter range in µJ where the hardware wraps (RAPL max_energy_range_uj). */
  maxRangeUj?: bigint;
  /** Why the zone has its role, where that is not obvious (a mirrored counter, a second interface, psys). */
  note?: string;
}

/** A cumulative, monotonic (wrap-corrected) energy reading of one zone, in µJ. */
export interface ZoneSample {
  zone: string;
  uj: bigint;
}

/** A source of energy counters. read() is cheap and synchronous so one loop can sample all meters. */
export interface Meter {
  readonly name: string;
  readonly source: EnergySource;
  zones(): ZoneInfo[];
  /** Every zone's reading now. A meter may reuse the returned array and objects on its next read(): copy what must outlive it. */
  read(): ZoneSample[];
  close(): void;
}

/** Result of trying to open a meter: a meter, or a reason (and fix) why there is none. */
export type MeterProbe =
  | { ok: true; meter: Meter }
  | {
      ok: false;
      meter: string;
      source: EnergySource;
      reason: string;
      fix?: string;
      state: Exclude<MeterState, 'in-use'>;
    };
