import type { EnergySource, ZoneRole } from '../core/types.ts';
import type { Meter, ZoneInfo, ZoneSample } from './meter.ts';

/**
 * A meter whose counters the caller sets: for tests of the sampler and of energy arithmetic,
 * and for demos on machines without counters. Its zones carry whatever source the caller
 * gives, so label it honestly.
 */
export class FakeMeter implements Meter {
  private readonly counters = new Map<string, bigint>();
  private readonly infos: ZoneInfo[];
  private failure: string | null = null;
  reads = 0;

  constructor(
    readonly name: string,
    readonly source: EnergySource,
    zones: Array<{ zone: string; role: ZoneRole; maxRangeUj?: bigint }>,
  ) {
    this.infos = zones.map((z) => ({
      meter: name,
      zone: z.zone,
      source,
      role: z.role,
      ...(z.maxRangeUj ? { maxRangeUj: z.maxRangeUj } : {}),
    }));
    for (const z of zones) this.counters.set(z.zone, 0n);
  }

  zones(): ZoneInfo[] {
    return this.infos.map((z) => ({ ...z }));
  }

  /** Adds µJ to a zone's counter. */
  add(zone: string, uj: bigint): void {
    const cur = this.counters.get(zone);
    if (cur === undefined) throw new Error(`FakeMeter ${this.name}: no zone ${zone}`);
    if (uj < 0n) throw new Error('FakeMeter: counters only go up');
    this.counters.set(zone, cur + uj);
  }

  /** Makes read() throw `message` until cleared with null. */
  failWith(message: string | null): void {
    this.failure = message;
  }

  read(): ZoneSample[] {
    if (this.failure) throw new Error(this.failure);
    this.reads += 1;
    return [...this.counters.entries()].map(([zone, uj]) => ({ zone, uj }));
  }

  close(): void {}
}
