// The seed system's batch-matrix JSON, converted to scenarios:
//   baseline → the campaign's idle baseline (its duration) and cooldown
//   multi    → one live cell with `count` concurrent streams
//   single   → one live stream with the output ladder
// Every multi/single cell: codec h264, preset from `preset` or 'veryfast', bitrate from
// `bitrate`, warm-up from `stabilization`, testsrc2 at the entry's resolution/fps as source.
// The campaign cooldown is the longest `cooldown` of any entry (the campaign has one cooldown).

import { basename, extname } from 'node:path';
import type { LadderRung, RepetitionPolicy, Scenario } from '../core/types.ts';
import { isValidPreset, validPresets } from '../media/presets.ts';
import { DEFAULTS, finishScenarios, originPath } from './expand.ts';
import type { Problem } from './problems.ts';
import type { LegacyEntry } from './schema.ts';

export const LEGACY_DEFAULT_PRESET = 'veryfast';
/** The seed system ran every entry once. */
export const LEGACY_REPETITIONS: RepetitionPolicy = { min: 1, max: 1, ciHalfwidthPct: 5 };

/** A top-level object holding only `scenarios`, whose entries carry `type`. */
export function isLegacyBatch(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const top = value as Record<string, unknown>;
  if ('name' in top || 'input' in top || !Array.isArray(top.scenarios)) return false;
  return top.scenarios.some((s) => s !== null && typeof s === 'object' && 'type' in s);
}

export interface LegacyCampaign {
  name: string;
  repetitions: RepetitionPolicy;
  cooldownS: number;
  idleBaselineS: number;
  scenarios: Scenario[];
}

const ALLOWED_BY_TYPE: Record<LegacyEntry['type'], Array<keyof LegacyEntry>> = {
  baseline: ['type', 'name', 'duration', 'cooldown'],
  multi: [
    'type',
    'name',
    'count',
    'bitrate',
    'resolution',
    'fps',
    'stabilization',
    'duration',
    'cooldown',
    'preset',
    'outputs',
  ],
  single: [
    'type',
    'name',
    'count',
    'bitrate',
    'resolution',
    'fps',
    'stabilization',
    'duration',
    'cooldown',
    'preset',
    'outputs',
  ],
};
const REQUIRED_BY_TYPE: Record<LegacyEntry['type'], Array<keyof LegacyEntry>> = {
  baseline: ['duration'],
  multi: ['count', 'bitrate', 'resolution', 'fps', 'duration'],
  single: ['bitrate', 'resolution', 'fps', 'duration'],
};
const EXAMPLE: Partial<Record<keyof LegacyEntry, string>> = {
  duration: '"duration": 30',
  count: '"count": 2',
  bitrate: '"bitrate": "3M"',
  resolution: '"resolution": "1280x720"',
  fps: '"fps": 30',
};

function checkEntry(e: LegacyEntry, i: number, problems: Problem[]): void {
  for (const key of Object.keys(e) as Array<keyof LegacyEntry>) {
    if (e[key] !== undefined && !ALLOWED_BY_TYPE[e.type].includes(key)) {
      problems.push({
        path: ['scenarios', i, key],
        message: `'${key}' has no meaning in a ${e.type} entry`,
        fix: `remove it; a ${e.type} entry takes ${ALLOWED_BY_TYPE[e.type].join(', ')}`,
      });
    }
  }
  for (const key of REQUIRED_BY_TYPE[e.type]) {
    if (e[key] === undefined) {
      problems.push({
        path: ['scenarios', i, key],
        message: `missing required key for a ${e.type} entry`,
        fix: `add ${EXAMPLE[key] ?? key}`,
      });
    }
  }
  if (e.type === 'single' && e.count !== undefined && e.count !== 1) {
    problems.push({
      path: ['scenarios', i, 'count'],
      message: `a single entry runs one stream, but count is ${e.count}`,
      fix: 'use type "multi" for concurrent streams, or remove count',
    });
  }
  const preset = e.preset ?? LEGACY_DEFAULT_PRESET;
  if (e.type !== 'baseline' && !isValidPreset('libx264', preset)) {
    problems.push({
      path: ['scenarios', i, 'preset'],
      message: `preset '${preset}' is not valid for libx264 (batch-matrix cells encode h264)`,
      fix: `use one of: ${validPresets('libx264').join(', ')}`,
    });
  }
}

export function convertLegacy(entries: LegacyEntry[], fileName: string, problems: Problem[]): LegacyCampaign {
  entries.forEach((e, i) => checkEntry(e, i, problems));
  const baselines = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.type === 'baseline');
  for (const extra of baselines.slice(1)) {
    problems.push({
      path: ['scenarios', extra.i, 'type'],
      message: `a second baseline entry (the first is scenarios[${baselines[0].i}])`,
      fix: 'keep one baseline: the idle power is measured once, before the campaign',
    });
  }
  const cells: Array<Omit<Scenario, 'key' | 'label'>> = [];
  const names = new Map<string, string>();
  entries.forEach((e, i) => {
    if (e.type === 'baseline' || !e.resolution || !e.fps || !e.bitrate || !e.duration) return;
    const resolution = e.resolution;
    const fps = e.fps;
    const outputs: LadderRung[] = (e.outputs ?? [{ resolution, fps }]).map((r) => ({
      resolution: r.resolution,
      fps: r.fps ?? fps,
    }));
    const origin = `scenarios[${i}]`;
    if (e.name) names.set(origin, e.name);
    cells.push({
      mode: 'live',
      input: { kind: 'synthetic', source: 'testsrc2', resolution, fps },
      codec: 'h264',
      preset: e.preset ?? LEGACY_DEFAULT_PRESET,
      rate: { kind: 'bitrate', value: e.bitrate },
      streams: e.type === 'multi' ? (e.count ?? 1) : 1,
      warmupS: e.stabilization ?? 0,
      durationS: e.duration,
      outputs,
      origin,
    });
  });
  if (cells.length === 0 && problems.length === 0) {
    problems.push({
      path: ['scenarios'],
      message: 'no multi or single entry: nothing to run',
      fix: 'add a {"type": "multi", …} or {"type": "single", …} entry',
    });
  }
  const scenarios = finishScenarios(cells, originPath, problems);
  for (const s of scenarios) {
    const name = names.get(s.origin ?? '');
    if (name) s.label = `${name}: ${s.label}`;
  }
  const cooldowns = entries.map((e) => e.cooldown).filter((c): c is number => c !== undefined);
  return {
    name: basename(fileName, extname(fileName)),
    repetitions: { ...LEGACY_REPETITIONS },
    cooldownS: cooldowns.length > 0 ? Math.max(...cooldowns) : DEFAULTS.cooldownS,
    idleBaselineS: baselines[0]?.e.duration ?? 0,
    scenarios,
  };
}
