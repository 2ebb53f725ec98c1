// What the master benchmarks submit and post: the campaign matrix and the run record of a simulated
// encode (bench/master-load.ts over HTTP, bench/lib/queue-floor.ts straight into the queue).

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

export function simulatedRecord(jobId: string, attempt: number, nodeId: string) {
  const now = new Date();
  const zone = {
    meter: 'estimate',
    zone: 'cpu',
    source: 'estimate',
    role: 'total',
    grossJ: 12,
    idleW: null,
    netJ: null,
    avgW: 12,
    peakW: 14,
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
    startedAt: now.toISOString(),
    endedAt: now.toISOString(),
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
      grossJ: 12,
      idleW: null,
      netJ: null,
      avgW: 12,
      peakW: 14,
      windowS: 1,
      jPerEncodedMinute: 720,
      netJPerEncodedMinute: null,
      jPerFrame: 0.4,
      jPerMegapixel: 5.2,
    },
    quality: null,
    flags: ['estimated', 'simulated'],
    provenance: { ffmpegVersion: 'simulated', encoder: 'libx264', argv: [] },
  };
}
