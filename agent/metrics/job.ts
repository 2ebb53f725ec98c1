// Job collectors: FFmpeg progress and the job's process-tree resources, fed by events and by
// setJobResources. Label sets stay bounded: `job_id` and `scenario` live only on
// ffwatt_job_running and go when the job is done; per-stream gauges go with their job.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FfwattEvent } from '../../core/types.ts';

export interface JobResources {
  /** CPU seconds (user + system) of the job's FFmpeg process tree so far. */
  cpuSeconds: number;
  peakRssBytes: number;
  readBytes: number;
  writeBytes: number;
}

export interface JobCollectors {
  onEvent(ev: FfwattEvent): void;
  setJobResources(jobId: string, r: JobResources): void;
}

/** How many finished jobs' resource figures are remembered so late updates are not counted twice. */
const JOB_MEMORY = 32;

export function registerJobCollectors(registry: Registry): JobCollectors {
  // --- FFmpeg progress, from events ---
  const frames = new Counter({
    name: 'ffwatt_ffmpeg_frames_total',
    help: 'Frames encoded by FFmpeg on this agent (all jobs, all streams), from progress reports.',
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'ffwatt_ffmpeg_dropped_frames_total',
    help: 'Frames FFmpeg dropped on this agent, counted when each job result arrives.',
    registers: [registry],
  });
  const fps = new Gauge({
    name: 'ffwatt_ffmpeg_fps',
    help: 'Encoding speed of a stream of the running job, in frames per second (removed when the job is done).',
    labelNames: ['stream'],
    registers: [registry],
  });
  const speed = new Gauge({
    name: 'ffwatt_ffmpeg_speed_ratio',
    help: 'Encoding speed of a stream of the running job relative to real time (1 = real time; removed when the job is done).',
    labelNames: ['stream'],
    registers: [registry],
  });
  const jobRunning = new Gauge({
    name: 'ffwatt_job_running',
    help: '1 while a job runs on this agent; the job_id and scenario labels exist only while it runs.',
    // job_id, not job: a `job` label would collide with the scrape job and be renamed exported_job.
    labelNames: ['job_id', 'scenario', 'phase'],
    registers: [registry],
  });

  // --- resources of the FFmpeg process tree, accumulated over jobs ---
  const cpuSeconds = new Counter({
    name: 'ffwatt_job_cpu_seconds_total',
    help: 'CPU seconds (user + system) used by the FFmpeg process trees of jobs on this agent.',
    registers: [registry],
  });
  const readBytes = new Counter({
    name: 'ffwatt_job_read_bytes_total',
    help: 'Bytes read from storage by the FFmpeg process trees of jobs on this agent.',
    registers: [registry],
  });
  const writtenBytes = new Counter({
    name: 'ffwatt_job_written_bytes_total',
    help: 'Bytes written to storage by the FFmpeg process trees of jobs on this agent.',
    registers: [registry],
  });
  const peakMemory = new Gauge({
    name: 'ffwatt_job_peak_memory_bytes',
    help: 'Peak resident memory of the FFmpeg process tree of the current (or last) job, in bytes.',
    registers: [registry],
  });

  // Per-job bookkeeping (bounded to the last JOB_MEMORY jobs).
  const lastFrame = new Map<string, number>(); // `${job}/${stream}` -> frame
  const jobStreams = new Map<string, Set<number>>();
  const jobLabels = new Map<string, { scenario: string; phase: string }>();
  const lastResources = new Map<string, JobResources>();
  const resultSeen = new Set<string>();

  function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > JOB_MEMORY) map.delete(map.keys().next().value as K);
  }

  function endJob(jobId: string): void {
    const labels = jobLabels.get(jobId);
    if (labels) jobRunning.remove({ job_id: jobId, ...labels });
    jobLabels.delete(jobId);
    for (const stream of jobStreams.get(jobId) ?? []) {
      fps.remove({ stream: String(stream) });
      speed.remove({ stream: String(stream) });
      lastFrame.delete(`${jobId}/${stream}`);
    }
    jobStreams.delete(jobId);
  }

  function onEvent(ev: FfwattEvent): void {
    switch (ev.kind) {
      case 'job': {
        if (ev.phase === 'done') {
          endJob(ev.jobId);
          break;
        }
        const prev = jobLabels.get(ev.jobId);
        if (prev) jobRunning.remove({ job_id: ev.jobId, ...prev });
        const labels = { scenario: ev.scenario.label, phase: ev.phase };
        jobLabels.set(ev.jobId, labels);
        jobRunning.set({ job_id: ev.jobId, ...labels }, 1);
        break;
      }
      case 'progress': {
        const key = `${ev.jobId}/${ev.stream}`;
        const before = lastFrame.get(key) ?? 0;
        if (ev.frame > before) frames.inc(ev.frame - before);
        if (ev.frame >= before) lastFrame.set(key, ev.frame);
        const streams = jobStreams.get(ev.jobId) ?? new Set<number>();
        streams.add(ev.stream);
        jobStreams.set(ev.jobId, streams);
        const label = { stream: String(ev.stream) };
        if (ev.fps !== null) fps.set(label, ev.fps);
        else fps.remove(label);
        if (ev.speed !== null) speed.set(label, ev.speed);
        else speed.remove(label);
        break;
      }
      case 'result': {
        if (!resultSeen.has(`${ev.jobId}/${ev.record.attempt}`)) {
          if (ev.record.droppedFrames > 0) dropped.inc(ev.record.droppedFrames);
          resultSeen.add(`${ev.jobId}/${ev.record.attempt}`);
          while (resultSeen.size > JOB_MEMORY) resultSeen.delete(resultSeen.values().next().value as string);
        }
        endJob(ev.jobId);
        break;
      }
      default:
        break; // campaign, idle, sample and error events carry nothing exported here
    }
  }

  function setJobResources(jobId: string, r: JobResources): void {
    for (const [field, value] of Object.entries(r)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new TypeError(`setJobResources(${jobId}): ${field} must be a finite number >= 0, got ${String(value)}`);
      }
    }
    const before = lastResources.get(jobId) ?? { cpuSeconds: 0, peakRssBytes: 0, readBytes: 0, writeBytes: 0 };
    // A process tree's totals can drop when a child exits; a drop adds nothing (counters never go back).
    if (r.cpuSeconds > before.cpuSeconds) cpuSeconds.inc(r.cpuSeconds - before.cpuSeconds);
    if (r.readBytes > before.readBytes) readBytes.inc(r.readBytes - before.readBytes);
    if (r.writeBytes > before.writeBytes) writtenBytes.inc(r.writeBytes - before.writeBytes);
    const merged: JobResources = {
      cpuSeconds: Math.max(r.cpuSeconds, before.cpuSeconds),
      peakRssBytes: Math.max(r.peakRssBytes, before.peakRssBytes),
      readBytes: Math.max(r.readBytes, before.readBytes),
      writeBytes: Math.max(r.writeBytes, before.writeBytes),
    };
    peakMemory.set(merged.peakRssBytes);
    remember(lastResources, jobId, merged);
  }

  return { onEvent, setJobResources };
}
