import type { CampaignPlan, RunRecord, Scenario } from '../core/types.ts';

// Small valid inputs for the queue's tests (queue, placement): a cell, a campaign plan, a run record.

/** A small valid cell (320x240 testsrc2, x264-style crf 23, 2 s). */
export function testScenario(
  key: string,
  codec: Scenario['codec'] = 'h264',
  mode: Scenario['mode'] = 'file',
  warmupS = 0.5,
): Scenario {
  const res = { width: 320, height: 240 };
  return {
    key,
    label: `${mode} ${codec}/ultrafast ${key}`,
    mode,
    input: { kind: 'synthetic', source: 'testsrc2', resolution: res, fps: 30 },
    codec,
    preset: 'ultrafast',
    rate: { kind: 'crf', value: 23 },
    streams: 1,
    warmupS,
    durationS: 2,
    outputs: [{ resolution: res, fps: 30 }],
  };
}

/** A campaign plan of these cells: seed 42, 2–4 repetitions to a 5 % CI half-width, no cooldown or idle baseline. */
export function testPlan(scenarios: Scenario[], extra: Partial<CampaignPlan> = {}): CampaignPlan {
  return {
    name: 't',
    matrixText: 'x',
    matrixHash: 'h',
    matrixFormat: 'native',
    repetitions: { min: 2, max: 4, ciHalfwidthPct: 5 },
    cooldownS: 0,
    idleBaselineS: 0,
    seed: 42,
    scenarios,
    ...extra,
  };
}

/** A run record of an estimated 1 s encode at `jPerMin` J per encoded minute. */
export function testRecord(
  jobId: string,
  attempt: number,
  nodeId: string,
  jPerMin: number,
  status: RunRecord['status'] = 'succeeded',
): RunRecord {
  return {
    jobId,
    attempt,
    nodeId,
    status,
    exitCode: 0,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: new Date(0).toISOString(),
    endedAt: new Date(1000).toISOString(),
    wallS: 1,
    mediaSeconds: 2,
    frames: 60,
    outputBytes: 1000,
    bitrateBps: 4000,
    fps: 60,
    speed: 2,
    droppedFrames: 0,
    dupFrames: 0,
    energy: {
      source: 'estimate',
      zones: [],
      grossJ: jPerMin / 30,
      idleW: null,
      netJ: null,
      avgW: 1,
      peakW: 1,
      windowS: 1,
      jPerEncodedMinute: jPerMin,
      netJPerEncodedMinute: null,
      jPerFrame: null,
      jPerMegapixel: null,
    },
    quality: null,
    flags: ['estimated'],
    provenance: {
      ffmpegVersion: '5.1',
      ffmpegBuildconfHash: 'x',
      argv: [['ffmpeg']],
      inputDescription: 'lavfi',
      inputHash: null,
      kernel: 'k',
      cpuModel: 'c',
      cores: 2,
      gpu: null,
      governor: null,
      turbo: null,
      meters: [],
      encoder: 'libx264',
    },
  };
}
