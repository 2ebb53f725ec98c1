// Numbered schema migrations. Append only: never edit a migration that has shipped.
// The run table keeps the figures the analyzers filter and sort on as columns and the
// full nested record (zones, quality per rung, provenance) as JSON beside them.

export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE campaign (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  matrix_text TEXT NOT NULL,
  matrix_hash TEXT NOT NULL,
  matrix_format TEXT NOT NULL,
  settings TEXT NOT NULL,          -- JSON: repetitions, cooldownS, idleBaselineS, seed
  preflight TEXT,                  -- JSON: validity preflight of the submitting host
  created_at INTEGER NOT NULL,     -- ms since epoch (server clock)
  status TEXT NOT NULL CHECK (status IN ('running','done','canceled'))
);

CREATE TABLE scenario (
  id INTEGER PRIMARY KEY,
  campaign_id TEXT NOT NULL REFERENCES campaign(id),
  key TEXT NOT NULL,
  label TEXT NOT NULL,
  mode TEXT NOT NULL,
  codec TEXT NOT NULL,
  encoder TEXT,
  preset TEXT NOT NULL,
  rate_kind TEXT NOT NULL,
  rate_value REAL NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  fps REAL NOT NULL,
  streams INTEGER NOT NULL,
  warmup_s REAL NOT NULL,
  duration_s REAL NOT NULL,
  spec TEXT NOT NULL,              -- JSON Scenario
  UNIQUE (campaign_id, key)
);

CREATE TABLE node (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  hardware TEXT NOT NULL,          -- JSON
  encoders TEXT NOT NULL,          -- JSON codec -> encoder
  meters TEXT NOT NULL,            -- JSON
  labels TEXT NOT NULL DEFAULT '[]',
  token_hash TEXT,
  registered_at INTEGER NOT NULL,
  last_heartbeat INTEGER,
  state TEXT NOT NULL CHECK (state IN ('alive','suspect','dead'))
);

CREATE TABLE job (
  id TEXT PRIMARY KEY,
  campaign_id TEXT NOT NULL REFERENCES campaign(id),
  scenario_id INTEGER NOT NULL REFERENCES scenario(id),
  repetition INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued','leased','running','succeeded','failed','canceled')),
  priority INTEGER NOT NULL DEFAULT 0,
  queue_class TEXT NOT NULL CHECK (queue_class IN ('live','default','batch')),
  seq INTEGER NOT NULL,            -- FIFO order inside a class and priority (shuffled repetitions)
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  node_constraint TEXT NOT NULL DEFAULT '[]',
  cooldown_s REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  last_error TEXT,
  UNIQUE (campaign_id, scenario_id, repetition)
);
CREATE INDEX job_claim ON job (state, queue_class, priority, seq);
CREATE INDEX job_campaign ON job (campaign_id, state);

CREATE TABLE run (
  id INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES job(id),
  attempt INTEGER NOT NULL,
  campaign_id TEXT NOT NULL,
  scenario_id INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('succeeded','failed','canceled')),
  exit_code INTEGER,
  signal TEXT,
  error TEXT,
  stderr_tail TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL,
  ended_at TEXT NOT NULL,
  wall_s REAL NOT NULL,
  media_seconds REAL NOT NULL,
  frames INTEGER NOT NULL,
  output_bytes INTEGER NOT NULL,
  bitrate_bps REAL,
  fps REAL,
  speed REAL,
  dropped_frames INTEGER NOT NULL DEFAULT 0,
  dup_frames INTEGER NOT NULL DEFAULT 0,
  energy_source TEXT,              -- rapl | nvml | estimate | mixed; NULL = no energy figure
  gross_j REAL,
  idle_w REAL,
  net_j REAL,
  avg_w REAL,
  peak_w REAL,
  window_s REAL,
  j_per_encoded_minute REAL,
  net_j_per_encoded_minute REAL,
  j_per_frame REAL,
  j_per_megapixel REAL,
  psnr REAL,
  ssim REAL,
  vmaf REAL,
  quality_per_joule REAL,
  energy TEXT,                     -- JSON RunEnergy
  quality TEXT,                    -- JSON QualityResult
  flags TEXT NOT NULL DEFAULT '[]',
  provenance TEXT NOT NULL,        -- JSON Provenance
  received_at INTEGER NOT NULL,
  UNIQUE (job_id, attempt)
);
CREATE INDEX run_campaign ON run (campaign_id, scenario_id);

CREATE TABLE idle_baseline (
  id INTEGER PRIMARY KEY,
  campaign_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  measured_at INTEGER NOT NULL,
  seconds REAL NOT NULL,
  total_w REAL NOT NULL,
  source TEXT NOT NULL,
  zones TEXT NOT NULL              -- JSON
);
CREATE INDEX idle_campaign_node ON idle_baseline (campaign_id, node_id, measured_at);
`,
  },
  {
    version: 2,
    name: 'claim-indexes',
    // Claims sort the queued jobs by class, priority and FIFO order: an index on exactly that
    // expression turns the sort into an index walk (25–45 ms → ~4 ms with 20,000 queued jobs).
    sql: `
CREATE INDEX job_lease_owner ON job (lease_owner, state);
CREATE INDEX job_claim_order ON job (state, CASE queue_class WHEN 'live' THEN 0 WHEN 'default' THEN 1 ELSE 2 END, priority DESC, seq);
`,
  },
  {
    version: 3,
    name: 'fencing',
    // Fencing (docs/api.md): every claim gets a fresh lease id that lease extensions and results must
    // carry; the run keeps the lease id it was stored under (a re-sent result of that lease is a
    // duplicate, any other is stale). lease_started_at bounds how long a lease may be extended.
    sql: `
ALTER TABLE job ADD COLUMN lease_id TEXT;
ALTER TABLE job ADD COLUMN lease_started_at INTEGER;
ALTER TABLE run ADD COLUMN lease_id TEXT;
ALTER TABLE node ADD COLUMN claims_paused TEXT; -- why the agent claims nothing now (e.g. low disk), from its heartbeat
`,
  },
  {
    version: 5,
    name: 'hardware-classes-and-placement',
    // A node's hardware class (docs/fleet.md) and where a campaign's jobs may run: with
    // placement each-class/each-node every job carries the class or node it is for, and the
    // repetition policy counts per (scenario, placement_target).
    sql: `
ALTER TABLE node ADD COLUMN hardware_class TEXT;
ALTER TABLE campaign ADD COLUMN placement TEXT NOT NULL DEFAULT 'any' CHECK (placement IN ('any','each-class','each-node'));
ALTER TABLE job ADD COLUMN placement_target TEXT;
CREATE INDEX job_scenario_target ON job (campaign_id, scenario_id, placement_target);
`,
  },
  {
    version: 6,
    name: 'run-strata-columns',
    // The strata the reports group by (analyzers/strata.ts) as columns of the run, filled by the
    // store when a result is stored and back-filled here, so a report aggregates in SQLite per
    // (scenario, class, kind) without parsing each run's provenance JSON. run_setup holds each
    // distinct set of provenance fields the report tallies (FFmpeg version, CPU model, kernel, GPU,
    // meters) once; a run points at its set. run_stratum covers every column the report's per-cell
    // aggregates read, so they never touch the run rows (whose JSON makes them 5–20× wider), and
    // keeps a cell's runs in stored order (id), so the sums read them in the order they always had.
    // run_attention holds only the few runs that may be left out of the statistics (flagged, or a
    // non-positive net figure), with what deciding that needs.
    // The expressions below copy the rules of analyzers/strata.ts as they stand at this version.
    sql: `
CREATE TABLE run_setup (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE         -- JSON [ffmpegVersion, cpuModel, kernel, gpu, meters] of the provenance
);
ALTER TABLE run ADD COLUMN hardware_class TEXT;   -- provenance.hardwareClass, 'unclassified' when absent or blank
ALTER TABLE run ADD COLUMN energy_kind TEXT;      -- measured (rapl, nvml) | estimated (estimate, mixed) | none
ALTER TABLE run ADD COLUMN setup_id INTEGER REFERENCES run_setup(id);
INSERT OR IGNORE INTO run_setup (key)
  SELECT json_extract(provenance, '$.ffmpegVersion', '$.cpuModel', '$.kernel', '$.gpu', '$.meters') FROM run ORDER BY id;
UPDATE run SET
  hardware_class = COALESCE(NULLIF(TRIM(json_extract(provenance, '$.hardwareClass')), ''), 'unclassified'),
  energy_kind = CASE WHEN energy_source IN ('rapl', 'nvml') THEN 'measured' WHEN energy_source IN ('estimate', 'mixed') THEN 'estimated' ELSE 'none' END,
  setup_id = (SELECT s.id FROM run_setup s WHERE s.key = json_extract(run.provenance, '$.ffmpegVersion', '$.cpuModel', '$.kernel', '$.gpu', '$.meters'));
DROP INDEX run_campaign;
CREATE INDEX run_stratum ON run (campaign_id, scenario_id, hardware_class, energy_kind, status, id, energy_source, setup_id, node_id,
  j_per_encoded_minute, net_j_per_encoded_minute, gross_j, net_j, avg_w, fps, speed, bitrate_bps, output_bytes, media_seconds, wall_s, window_s, psnr, ssim, vmaf, idle_w);
CREATE INDEX run_attention ON run (campaign_id, status, id, scenario_id, hardware_class, energy_kind, net_j, flags) WHERE flags <> '[]' OR net_j <= 0;
`,
  },
  {
    version: 7,
    name: 'reap-indexes',
    // The reaper runs on every claim and every second: both of its scans become index probes
    // that find nothing in the common case (no overdue node, no expired lease). Every node
    // request finds its node by the credential's SHA-256: a probe, not a scan of the fleet.
    sql: `
CREATE INDEX node_token_hash ON node (token_hash);
CREATE INDEX node_overdue ON node (last_heartbeat) WHERE state != 'dead';
CREATE INDEX job_lease_expiry ON job (lease_expires_at) WHERE state IN ('leased','running');
`,
  },
  {
    version: 8,
    name: 'lean-job-indexes',
    // Every claim and result updates a job's state, and each index on state is written again:
    // job_claim is a prefix twin of job_claim_order (claims walk that one), and the repetition
    // count after each result read every job row of its cell for the state; with the state in
    // the cell's index that count reads the index alone.
    sql: `
DROP INDEX job_claim;
DROP INDEX job_scenario_target;
CREATE INDEX job_scenario_target ON job (campaign_id, scenario_id, placement_target, state);
`,
  },
];
