import { statfsSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

/**
 * The agent claims no job while its work or spool folder has less free space than the threshold:
 * an encode that cannot finish, or a result that cannot be spooled, would only burn an attempt
 * (and before, re-ran the same job in a loop). The reason goes out in the heartbeat and metrics.
 */
export class DiskGuard {
  private paused: string | null = null;
  private readonly freeGauge: Gauge<'path'>;
  private readonly pausedGauge: Gauge;

  constructor(
    private readonly paths: string[],
    private readonly minFreeBytes: number,
    registry: Registry,
  ) {
    this.freeGauge = new Gauge({
      name: 'ffwatt_agent_free_bytes',
      help: 'Free bytes (for unprivileged users) on the filesystem of the agent work and spool folders.',
      labelNames: ['path'],
      registers: [registry],
    });
    this.pausedGauge = new Gauge({
      name: 'ffwatt_agent_claims_paused',
      help: '1 while the agent claims no job because a folder it writes to has less free space than --min-free-mb.',
      registers: [registry],
    });
  }

  /** Checks the folders now; returns why claims are paused, or null. */
  check(): string | null {
    const low: string[] = [];
    for (const path of this.paths) {
      const s = statfsSync(path);
      const free = s.bavail * s.bsize;
      this.freeGauge.set({ path }, free);
      if (free < this.minFreeBytes) low.push(`${path} has ${(free / 2 ** 20).toFixed(1)} MiB free`);
    }
    this.paused = low.length
      ? `low disk: ${low.join(', ')}; below --min-free-mb ${(this.minFreeBytes / 2 ** 20).toFixed(0)}`
      : null;
    this.pausedGauge.set(this.paused ? 1 : 0);
    return this.paused;
  }

  /** The reason of the last check (null: claims allowed). */
  reason(): string | null {
    return this.paused;
  }
}
