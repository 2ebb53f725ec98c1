// Shared data types: the contracts between matrix loading, the queue, the agent,
// the store and the analyzers. Field names here are the names used in JSON
// (API bodies, run records) and, in snake_case, in SQLite.

export type Codec = 'h264' | 'hevc' | 'av1' | 'vp9';
export const CODECS: readonly Codec[] = ['h264', 'hevc', 'av1', 'vp9'];

export type Mode = 'file' | 'live';

export interface Resolution {
  width: number;
  height: number;
}

/** crf: constant quality value; bitrate: target bits per second. */
export type RateControl = { kind: 'crf'; value: number } | { kind: 'bitrate'; value: number };

export type InputSpec =
  | { kind: 'synthetic'; source: 'testsrc2' | 'smptehdbars'; resolution: Resolution; fps: number }
  | { kind: 'file'; path: string; resolution: Resolution; fps: number };

/** One output of a ladder; the first rung is the cell's main output. */
export interface LadderRung {
  resolution: Resolution;
  fps: number;
  /** Defaults to the scenario's rate control. */
  rate?: RateControl;
}

/** One expanded cell of a matrix. */
export interface Scenario {
  /** Stable identity inside a campaign: hash of the fields below. */
  key: string;
  /** Human-readable, e.g. "file h264/medium crf23 720p30 x1". */
  label: string;
  mode: Mode;
  input: InputSpec;
  codec: Codec;
  /** Explicit encoder from the matrix; otherwise resolved per node from the codec. */
  encoder?: string;
  preset: string;
  rate: RateControl;
  /** Concurrent encodes in this cell (the stress axis). */
  streams: number;
  /** Seconds run before the measured window opens (excluded from energy). */
  warmupS: number;
  /** Media seconds encoded inside the measured window, per stream. */
  durationS: number;
  /** Output ladder; at least one rung (the main output). */
  outputs: LadderRung[];
  /** Extra encoder options (`-key value` pairs placed after the encoder). */
  encoderOptions?: Record<string, string>;
  /** Where in the matrix file this cell came from, e.g. "scenarios[0]". */
  origin?: string;
}

export interface RepetitionPolicy {
  min: number;
  max: number;
  /** Stop repeating once the 95% CI half-width of J/encoded minute is under this % of the mean. */
  ciHalfwidthPct: number;
}

/** A validated, expanded matrix: what a campaign is created from. */
export interface CampaignPlan {
  name: string;
  /** Original text of the matrix file and its SHA-256. */
  matrixText: string;
  matrixHash: string;
  matrixFormat: 'native' | 'legacy-batch';
  repetitions: RepetitionPolicy;
  cooldownS: number;
  idleBaselineS: number;
  /** Seed for the interleaving order of repetitions; recorded with the campaign. */
  seed: number;
  scenarios: Scenario[];
  /** Matrix key `placement`; absent: each-class in fleet mode, any in local mode. */
  placement?: Placement;
  /** Matrix key `queue`; absent: live cells go to the live class, the others to default. */
  queueClass?: QueueClass;
  /** Matrix key `priority` (higher first); absent: 0. */
  priority?: number;
}

/**
 * Where a campaign's jobs run (docs/fleet.md): `any` node that can; `each-class`: every
 * cell on every selected hardware class; `each-node`: every cell on every selected node.
 */
export type Placement = 'any' | 'each-class' | 'each-node';
export const PLACEMENTS: readonly Placement[] = ['any', 'each-class', 'each-node'];

export type JobState = 'queued' | 'leased' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type QueueClass = 'live' | 'default' | 'batch';

export interface Job {
  id: string;
  campaignId: string;
  scenarioId: number;
  scenario: Scenario;
  repetition: number;
  state: JobState;
  priority: number;
  queueClass: QueueClass;
  /** Attempts started so far (the running attempt included). */
  attempts: number;
  maxAttempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Node ids allowed to run this job; empty = any. */
  nodeConstraint: string[];
  /** Seconds of idle sleep the agent does before the job (cooldown). */
  cooldownS: number;
  /** Hardware class (placement each-class) or node id (each-node) this job is for; null: any node. */
  placementTarget?: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export type EnergySource = 'rapl' | 'nvml' | 'estimate';

/**
 * A meter on one machine: `in-use`; `absent`, the machine does not have it (no powercap tree,
 * no NVIDIA driver or GPU): nothing is wrong; `unusable`, it is there but cannot be read
 * (permissions, an incomplete tree, a driver that does not start): something to fix.
 */
export type MeterState = 'in-use' | 'absent' | 'unusable';

/**
 * How a zone adds up: `total` zones are summed into the job's energy (RAPL packages, the
 * dram zone nested under each package, GPUs, the estimate); `component` zones are inside a
 * total zone or repeat one (core, uncore, the MMIO/TPMI view of a package, a mirrored
 * per-die package counter) and are never added; `platform` (psys, psys-N) overlaps the
 * packages and is reported on its own (docs/methodology.md, RAPL zones).
 */
export type ZoneRole = 'total' | 'component' | 'platform';

export interface ZoneEnergy {
  meter: string;
  zone: string;
  source: EnergySource;
  role: ZoneRole;
  grossJ: number;
  /** Idle power of this zone from the baseline, if one was measured. */
  idleW: number | null;
  netJ: number | null;
  avgW: number;
  peakW: number;
}

/**
 * How the idle baseline a run's net figure rests on was taken (energy/idle.ts measureCleanIdle):
 * after the cooldown, with the machine's other CPU load and package temperature recorded, and
 * re-measured (bounded) while it was not clean.
 */
export interface IdleBaselineInfo {
  /** Idle W of the total zones in the attempt kept (the clean one, else the last); null when no total zone was read. */
  watts: number | null;
  /** Length of that attempt (s). */
  seconds: number;
  /** CPU load of processes other than the measurer during that attempt, in busy cores. */
  loadCores: number;
  /** Load above which an attempt is refused (the noisy-neighbour threshold), busy cores. */
  maxLoadCores: number;
  /** CPU package temperature at the start of that attempt; null when the machine exposes none (see notes). */
  tempC: number | null;
  tempSensor: string | null;
  /** Attempts made (1 = clean at once); at most maxAttempts. */
  attempts: number;
  maxAttempts: number;
  /** False when no attempt was clean: the run then has no net figure and the flag `idle-baseline-dirty`. */
  clean: boolean;
  /** Wall-clock start and end (ISO) of the attempt kept. */
  startedAt: string;
  endedAt: string;
  /** True when the run reuses a clean baseline measured for an earlier job of the campaign on this node. */
  reused: boolean;
  /** Why each refused attempt was refused, in order. */
  refusals: string[];
  /** What could not be read (e.g. no package temperature sensor). */
  notes: string[];
}

export interface RunEnergy {
  /**
   * 'estimate' when every total zone is estimated, 'mixed' when estimated and measured total
   * zones are combined (e.g. an estimated CPU with a measured GPU), else the measured source.
   */
  source: EnergySource | 'mixed';
  zones: ZoneEnergy[];
  /** Sum of the `total` zones. */
  grossJ: number;
  idleW: number | null;
  netJ: number | null;
  avgW: number;
  peakW: number;
  /** Seconds of the measured window (monotonic clock). */
  windowS: number;
  jPerEncodedMinute: number | null;
  netJPerEncodedMinute: number | null;
  jPerFrame: number | null;
  /**
   * J per megapixel of the main output only (the first rung of the first stream: its
   * width × height × frames); the energy of every output is in the numerator.
   */
  jPerMegapixel: number | null;
  /** The idle baseline behind idleW/netJ, when one was measured (agents since the clean-baseline rules). */
  baseline?: IdleBaselineInfo | null;
  /** Why the net figure is not usable, when it is not (net ≤ 0: flag `net-energy-nonpositive`; dirty baseline). */
  netExplanation?: string | null;
  /** Energy of the RAPL platform zones (psys, psys-N) over the window; absent/null without one. */
  platformJ?: number | null;
  /** Energy-derived run flags (e.g. `topology-suspect`: RAPL total above the platform zone by more than 5 %). */
  flags?: string[];
}

export interface FrameScoreSummary {
  mean: number;
  harmonicMean: number;
  p1: number;
  min: number;
}

export interface QualityResult {
  /** Per output rung, in ladder order. */
  outputs: Array<{
    rung: number;
    psnrY: number | null;
    psnrAvg: number | null;
    ssim: number | null;
    vmaf: FrameScoreSummary | null;
    psnrFrames?: FrameScoreSummary | null;
    ssimFrames?: FrameScoreSummary | null;
  }>;
  /** Exact filter graph, model, ffmpeg version used for scoring. */
  recipe: Record<string, unknown>;
  vmafSkippedReason?: string;
}

export interface Provenance {
  ffmpegVersion: string;
  ffmpegBuildconfHash: string;
  argv: string[][];
  inputDescription: string;
  inputHash: string | null;
  kernel: string;
  cpuModel: string;
  cores: number;
  gpu: string | null;
  governor: string | null;
  turbo: string | null;
  meters: Array<{ meter: string; source: EnergySource; valid: boolean; note?: string; state?: MeterState }>;
  encoder: string;
  hybridMaster?: boolean;
  /** Hardware class id of the node that made the run (docs/fleet.md); absent on runs recorded before classes existed. */
  hardwareClass?: string;
}

/** What an agent reports for one attempt of a job; stored once per (job, attempt). */
export interface RunRecord {
  jobId: string;
  attempt: number;
  nodeId: string;
  status: 'succeeded' | 'failed' | 'canceled';
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  stderrTail: string;
  startedAt: string; // wall clock ISO
  endedAt: string;
  wallS: number; // monotonic, whole job incl. warm-up
  mediaSeconds: number; // all streams together, measured window only
  frames: number;
  outputBytes: number;
  bitrateBps: number | null;
  fps: number | null;
  speed: number | null;
  droppedFrames: number;
  dupFrames: number;
  energy: RunEnergy | null;
  quality: QualityResult | null;
  flags: string[];
  provenance: Provenance;
}

export type NodeState = 'alive' | 'suspect' | 'dead';

export interface NodeInfo {
  id: string;
  hostname: string;
  hardware: Record<string, unknown>;
  encoders: Record<string, string>; // codec -> encoder usable on this node
  meters: Array<{ meter: string; source: EnergySource; ok: boolean; reason?: string; state?: MeterState }>;
  labels: string[];
  /** Hardware class id derived from the host facts (docs/fleet.md). */
  hardwareClass?: string;
  lastHeartbeat: number | null;
  state: NodeState;
}

/** Events from the agent/harness; one union feeds progress, logs, metrics and the store. */
export type FfwattEvent =
  | { kind: 'campaign'; campaignId: string; jobs: number; scenarios: number }
  | { kind: 'idle'; nodeId: string; phase: 'start' | 'done'; seconds: number; watts?: number; source?: string }
  | { kind: 'job'; jobId: string; scenario: Scenario; repetition: number; phase: 'cooldown' | 'warmup' | 'measure' | 'quality' | 'done'; index?: number; total?: number }
  | { kind: 'progress'; jobId: string; stream: number; frame: number; fps: number | null; speed: number | null; outTimeS: number; bitrateBps: number | null }
  | { kind: 'sample'; meter: string; zone: string; watts: number; source: EnergySource }
  | { kind: 'result'; jobId: string; record: RunRecord }
  | { kind: 'error'; jobId?: string; message: string };
