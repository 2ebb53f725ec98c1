// The agent's Prometheus exporter (docs/metrics.md). Energy is read from the meters at
// scrape time, so the exported counters are the meters' own monotonic counters, never a
// copy kept in gauges. Label sets stay bounded: the `job_id` and `scenario` labels live only
// on ffwatt_job_running and are removed when the job is done; per-stream gauges are
// removed with their job; everything else is labelled by meter/zone/gpu/engine, which
// are fixed by the hardware.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EnergySource, FfwattEvent, ZoneRole } from '../core/types.ts';
import type { Meter } from '../energy/meter.ts';

export type GpuEngine = 'encoder' | 'decoder' | 'sm';

export interface GpuStat {
  gpu: string;
  engine: GpuEngine;
  ratio: number;
}

export interface JobResources {
  /** CPU seconds (user + system) of the job's FFmpeg process tree so far. */
  cpuSeconds: number;
  peakRssBytes: number;
  readBytes: number;
  writeBytes: number;
}

export interface AgentMetricsOptions {
  meters: () => Meter[];
  nodeId: string;
  /** GPU engine utilization; default: gpuStatsFromMeters(meters), i.e. what the NVML meter reports. */
  gpuStats?: () => GpuStat[];
  /** Monotonic clock in seconds; injected by tests. */
  clock?: () => number;
  /** Power is computed between reads at least this far apart (default 1 s) to keep it from being noise. */
  minPowerWindowS?: number;
  /** Add prom-client's default process metrics (default true). */
  processMetrics?: boolean;
}

export interface AgentMetrics {
  registry: Registry;
  onEvent(ev: FfwattEvent): void;
  setJobResources(jobId: string, r: JobResources): void;
  metricsText(): Promise<string>;
}

interface ZoneReading {
  meter: string;
  zone: string;
  source: EnergySource;
  role: ZoneRole;
  joules: number;
}

interface Reading {
  at: number;
  zones: Map<string, ZoneReading>;
}

interface MeterStatus {
  meter: string;
  source: EnergySource;
  up: boolean;
  durationS: number;
}

/** How many finished jobs' resource figures are remembered so late updates are not counted twice. */
const JOB_MEMORY = 32;

const zoneKey = (meter: string, zone: string): string => `${meter}\u0000${zone}`;

/** What a meter that knows GPU utilization offers (energy/nvml.ts NvmlMeter.readings()). */
interface GpuReadingSource {
  readings(): Array<{ gpu: string; zone?: string; utilization: { gpu: number | null; encoder: number | null; decoder: number | null } }>;
}

const hasGpuReadings = (m: Meter): m is Meter & GpuReadingSource => typeof (m as Partial<GpuReadingSource>).readings === 'function';

/**
 * GPU engine utilization from the meters that report it (the NVML meter), labelled by the
 * GPU's zone (gpu0, …) so it lines up with that GPU's energy and power series. Engines a
 * GPU does not report are left out, not zero.
 */
export function gpuStatsFromMeters(meters: () => Meter[]): () => GpuStat[] {
  return () =>
    meters()
      .filter(hasGpuReadings)
      .flatMap((m) =>
        m.readings().flatMap((r) => {
          const gpu = r.zone ?? r.gpu;
          const out: GpuStat[] = [];
          if (r.utilization.encoder !== null) out.push({ gpu, engine: 'encoder', ratio: r.utilization.encoder });
          if (r.utilization.decoder !== null) out.push({ gpu, engine: 'decoder', ratio: r.utilization.decoder });
          if (r.utilization.gpu !== null) out.push({ gpu, engine: 'sm', ratio: r.utilization.gpu });
          return out;
        }),
      );
}

export function createAgentMetrics(opts: AgentMetricsOptions): AgentMetrics {
  if (!opts.nodeId) throw new TypeError('createAgentMetrics: nodeId is required');
  const clock = opts.clock ?? (() => performance.now() / 1000);
  const gpuStats = opts.gpuStats ?? gpuStatsFromMeters(opts.meters);
  const minWindow = opts.minPowerWindowS ?? 1;
  const registry = new Registry();

  // --- energy: one read of every meter per scrape, shared by the collectors below ---
  let current: { reading: Reading; status: MeterStatus[] } | null = null;
  let metersListed = true;
  let readTurnOpen = false;
  let powerAnchor: Reading | null = null; // older end of the power window
  let powerLatest: Reading | null = null; // newer end

  function readMeters(): { reading: Reading; status: MeterStatus[] } {
    const zones = new Map<string, ZoneReading>();
    const status: MeterStatus[] = [];
    let meters: Meter[];
    try {
      meters = opts.meters();
      metersListed = true;
    } catch {
      meters = [];
      metersListed = false;
    }
    for (const meter of meters) {
      const t0 = clock();
      try {
        const infos = new Map(meter.zones().map((z) => [z.zone, z]));
        for (const s of meter.read()) {
          const info = infos.get(s.zone);
          zones.set(zoneKey(meter.name, s.zone), {
            meter: meter.name,
            zone: s.zone,
            source: info?.source ?? meter.source,
            // A zone the meter does not describe is never added to a total (no double counting).
            role: info?.role ?? 'component',
            joules: Number(s.uj) / 1e6,
          });
        }
        status.push({ meter: meter.name, source: meter.source, up: true, durationS: clock() - t0 });
      } catch {
        // The agent's own probe/sampler logs the reason; here the meter is down and its series absent.
        status.push({ meter: meter.name, source: meter.source, up: false, durationS: clock() - t0 });
      }
    }
    return { reading: { at: clock(), zones }, status };
  }

  function advancePowerWindow(r: Reading): void {
    if (!powerLatest) {
      powerLatest = r;
    } else if (r.at - powerLatest.at >= minWindow) {
      powerAnchor = powerLatest;
      powerLatest = r;
    }
  }

  /** Reads the meters once per scrape: prom-client starts every collector synchronously, so a microtask marks the end of one scrape. */
  function snapshot(): { reading: Reading; status: MeterStatus[] } {
    if (!readTurnOpen || !current) {
      current = readMeters();
      advancePowerWindow(current.reading);
      readTurnOpen = true;
      queueMicrotask(() => {
        readTurnOpen = false;
      });
    }
    return current;
  }

  // A first read at start, so the first scrape at least one window later already has power.
  advancePowerWindow(readMeters().reading);

  new Counter({
    name: 'ffwatt_energy_joules_total',
    help: 'Energy counted by a meter zone since the meter was opened, in joules (wrap-corrected, monotonic). role=total zones add up; component zones are inside a total zone; platform (psys) overlaps the packages.',
    labelNames: ['meter', 'zone', 'source', 'role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const z of snapshot().reading.zones.values()) {
        this.inc({ meter: z.meter, zone: z.zone, source: z.source, role: z.role }, z.joules);
      }
    },
  });

  new Gauge({
    name: 'ffwatt_power_watts',
    help: 'Average power of a meter zone between the last two meter reads at least the power window apart, in watts.',
    labelNames: ['meter', 'zone', 'source', 'role'],
    registers: [registry],
    collect() {
      this.reset();
      snapshot();
      if (!powerAnchor || !powerLatest) return;
      const dt = powerLatest.at - powerAnchor.at;
      if (dt <= 0) return;
      for (const [key, now] of powerLatest.zones) {
        const before = powerAnchor.zones.get(key);
        // A zone that appeared since the previous read, or a counter that went back (meter
        // reopened), has no valid window yet: no value rather than a made-up zero.
        if (!before || now.joules < before.joules) continue;
        this.set({ meter: now.meter, zone: now.zone, source: now.source, role: now.role }, (now.joules - before.joules) / dt);
      }
    },
  });

  new Gauge({
    name: 'ffwatt_meter_up',
    help: '1 if the meter was read successfully at this scrape, 0 if the read failed (its energy series are then absent, not zero).',
    labelNames: ['meter', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshot().status) this.set({ meter: s.meter, source: s.source }, s.up ? 1 : 0);
    },
  });

  new Gauge({
    name: 'ffwatt_meter_read_duration_seconds',
    help: 'How long the last read of a meter took, in seconds.',
    labelNames: ['meter', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshot().status) this.set({ meter: s.meter, source: s.source }, s.durationS);
    },
  });

  // --- collectors that can fail independently: their health is exported, failures are never zeros ---
  const collectorSuccess = new Gauge({
    name: 'ffwatt_collector_success',
    help: '1 if the named collector produced its values at the last scrape, 0 if it failed (its series are then absent).',
    labelNames: ['collector'],
    registers: [], // registered last: it reports on collectors that run earlier in the same scrape
    collect() {
      this.set({ collector: 'meters' }, metersListed ? 1 : 0);
    },
  });

  new Gauge({
    name: 'ffwatt_gpu_utilization_ratio',
    help: 'Utilization of a GPU engine (encoder, decoder, sm) as a ratio 0..1.',
    labelNames: ['gpu', 'engine'],
    registers: [registry],
    collect() {
      this.reset();
      try {
        for (const g of gpuStats()) this.set({ gpu: g.gpu, engine: g.engine }, g.ratio);
        collectorSuccess.set({ collector: 'gpu_stats' }, 1);
      } catch {
        this.reset();
        collectorSuccess.set({ collector: 'gpu_stats' }, 0);
      }
    },
  });

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

  const agentUp = new Gauge({
    name: 'ffwatt_agent_up',
    help: 'Always 1 while the agent serves metrics; node_id is the id the agent registers with (the scrape adds node from the inventory).',
    labelNames: ['node_id'],
    registers: [registry],
  });
  agentUp.set({ node_id: opts.nodeId }, 1);

  if (opts.processMetrics !== false) addProcessMetrics(registry);
  registry.registerMetric(collectorSuccess);

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

  return {
    registry,
    onEvent,
    setJobResources,
    metricsText: () => registry.metrics(),
  };
}

/**
 * prom-client's default process metrics, less the three gauges named `*_total` that
 * `promtool check metrics` rejects; each is the sum of the same metric without `_total`.
 */
function addProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}
