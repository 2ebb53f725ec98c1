// What the master benchmarks submit and post: the campaign matrix and the run record of a simulated
// encode (bench/master-load.ts over HTTP, bench/lib/queue-floor.ts straight into the queue,
// bench/metrics-vs-claims.ts into its history).
import type { RunRecord } from '../../core/types.ts';

/** A matrix of 100 cells (2 presets × 50 CRFs) with enough repetitions for the wanted number of jobs. */
export function loadMatrix(jobs: number): string {
  const reps = Math.ceil(jobs / 100);
  return `name: master-load
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: ${reps}, max: ${reps}, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - mode: file
    codec: h264
    preset: [ultrafast, veryfast]
    rate: [${Array.from({ length: 50 }, (_, i) => `{crf: ${i + 1}}`).join(', ')}]
    streams: 1
    warmup_s: 0
    duration_s: 1
`;
}

/**
 * The run record of a simulated 1 s encode of 30 frames at 320x240 that used `joules` (estimated,
 * flagged `simulated`): what the simulated agents post and what the metrics benchmark stores.
 */
export function simulatedRecord(jobId: string, attempt: number, nodeId: string, joules = 12): RunRecord {
  const started = new Date();
  const zone = {
    meter: 'estimate',
    zone: 'cpu',
    source: 'estimate' as const,
    role: 'total' as const,
    grossJ: joules,
    idleW: null,
    netJ: null,
    avgW: joules,
    peakW: joules * 1.2,
  };
  return {
    jobId,
    attempt,
    nodeId,
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: started.toISOString(),
    endedAt: new Date(started.getTime() + 1000).toISOString(),
    wallS: 1,
    mediaSeconds: 1,
    frames: 30,
    outputBytes: 20_000,
    bitrateBps: 160_000,
    fps: 30,
    speed: 1,
    droppedFrames: 0,
    dupFrames: 0,
    energy: {
      source: 'estimate',
      zones: [zone],
      grossJ: joules,
      idleW: null,
      netJ: null,
      avgW: joules,
      peakW: joules * 1.2,
      windowS: 1,
      jPerEncodedMinute: joules * 60,
      netJPerEncodedMinute: null,
      jPerFrame: joules / 30,
      jPerMegapixel: joules / ((30 * 320 * 240) / 1e6),
    },
    quality: null,
    flags: ['estimated', 'simulated'],
    provenance: { ffmpegVersion: 'simulated', encoder: 'libx264', argv: [] },
  };
}
