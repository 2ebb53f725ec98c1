import { RunError } from '../core/errors.ts';
import type { RunEnergy, ZoneEnergy } from '../core/types.ts';
import { combinedSource, type IdleBaseline } from './idle.ts';
import { TOPOLOGY_SUSPECT_FLAG, TOPOLOGY_SUSPECT_MARGIN } from './rapl.ts';
import type { WindowEnergy } from './sampler.ts';

export interface MediaAmount {
  /** Output media seconds encoded in the window, all streams together. */
  mediaSeconds: number;
  frames: number;
  /** Megapixels of the main output only (its width × height × frames / 1e6): J per megapixel counts that output. */
  megapixels: number;
}

const perUnit = (joules: number | null, amount: number) => (joules !== null && amount > 0 ? joules / amount : null);

/**
 * Energy of one job from its window and the idle baseline:
 * - gross J = sum of the `total` zones (RAPL packages and their dram, GPUs, or the estimate);
 *   `component` zones (inside or repeating a package) and `platform` (psys) are reported, never added;
 * - where a platform zone exists, a RAPL total above it by more than 5 % flags `topology-suspect`;
 * - net J per zone = gross J − idle W × window seconds (may be slightly negative from noise: not clamped);
 * - J per encoded minute = J / (media seconds / 60), J/frame, J/megapixel (main output's megapixels).
 * Throws RunError when the window holds no `total` zone (no meter: no figure, never 0 J).
 */
export function computeRunEnergy(window: WindowEnergy, idle: IdleBaseline | null, media: MediaAmount): RunEnergy {
  const seconds = window.seconds;
  const zones: ZoneEnergy[] = window.zones.map((z) => {
    const idleZone = idle?.zones.find((i) => i.meter === z.meter && i.zone === z.zone);
    const idleW = idleZone ? idleZone.watts : null;
    return {
      meter: z.meter,
      zone: z.zone,
      source: z.source,
      role: z.role,
      grossJ: z.joules,
      idleW,
      netJ: idleW === null ? null : z.joules - idleW * seconds,
      avgW: z.avgW,
      peakW: z.peakW,
    };
  });
  const totals = zones.filter((z) => z.role === 'total');
  const missingTotals = window.missing?.filter((m) => m.role === 'total') ?? [];
  if (missingTotals.length > 0) {
    const list = missingTotals.map((m) => `${m.meter}/${m.zone}: ${m.reason}`).join('; ');
    throw new RunError(`no energy figure: a total zone is missing from the window, the sum would be short (${list})`);
  }
  if (totals.length === 0) {
    const missing = window.missing?.map((m) => `${m.meter}/${m.zone}: ${m.reason}`).join('; ');
    throw new RunError(`no energy figure: the window holds no total zone${missing ? ` (${missing})` : ''}`);
  }
  const grossJ = totals.reduce((s, z) => s + z.grossJ, 0);
  const platform = zones.filter((z) => z.role === 'platform');
  const platformJ = platform.length > 0 ? platform.reduce((s, z) => s + z.grossJ, 0) : null;
  const raplTotalJ = totals.filter((z) => z.source === 'rapl').reduce((s, z) => s + z.grossJ, 0);
  // psys covers the packages and DRAM: a RAPL total clearly above it means zones were counted wrong.
  const flags =
    platformJ !== null && raplTotalJ > platformJ * (1 + TOPOLOGY_SUSPECT_MARGIN) ? [TOPOLOGY_SUSPECT_FLAG] : [];
  const idleW = totals.every((z) => z.idleW !== null) ? totals.reduce((s, z) => s + (z.idleW as number), 0) : null;
  const netJ = idleW === null ? null : grossJ - idleW * seconds;
  return {
    source: combinedSource(totals.map((z) => ({ source: z.source, role: z.role, weight: z.grossJ }))),
    zones,
    grossJ,
    idleW,
    netJ,
    avgW: seconds > 0 ? grossJ / seconds : 0,
    peakW: window.totalPeakW ?? totals.reduce((s, z) => s + z.peakW, 0),
    windowS: seconds,
    jPerEncodedMinute: perUnit(grossJ, media.mediaSeconds / 60),
    netJPerEncodedMinute: perUnit(netJ, media.mediaSeconds / 60),
    jPerFrame: perUnit(grossJ, media.frames),
    jPerMegapixel: perUnit(grossJ, media.megapixels),
    platformJ,
    flags,
  };
}
