// Fleet mode with real processes on loopback: one master (TLS + mTLS) and three agents, each a
// separate `ffwatt` process, running tiny real FFmpeg encodes; then faults and bad input, each
// checked against the master's SQLite for lost or duplicated jobs and runs.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  freePort,
  handRecord,
  makePki,
  nodeCert,
  pidsMatching,
  startFfwatt,
  stop,
  tlsAgent,
  runFfwatt,
  waitFor,
  type Proc,
} from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-fleet-'));
const TOKEN = randomBytes(24).toString('hex');
const TOKEN_FILE = join(TMP, 'admin.token');
const REG_TOKEN = randomBytes(24).toString('hex');
const REG_TOKEN_FILE = join(TMP, 'registration.token');
const DATA = join(TMP, 'master-data');
const DB_PATH = join(DATA, 'ffwatt.sqlite');
const BODY_LIMIT = 256 * 1024;
const AGENTS = ['a1', 'a2', 'a3'];

let pki: ReturnType<typeof makePki>;
let port = 0;
let base = '';
let tls: Agent;
let master: Proc;
const agents = new Map<string, Proc>();

/** Master config: long lease for the first phases (a restart must not expire them), short for the kill test. */
function writeMasterConfig(name: string, leaseS: number, nodeTimeoutS: number): string {
  const file = join(TMP, name);
  writeFileSync(
    file,
    [
      `listen: 127.0.0.1:${port}`,
      `data: ${DATA}`,
      `token_file: ${TOKEN_FILE}`,
      `registration_token_file: ${REG_TOKEN_FILE}`,
      `tls_cert: ${pki.cert}`,
      `tls_key: ${pki.key}`,
      `client_ca: ${pki.ca}`,
      `lease_s: ${leaseS}`,
      `node_timeout_s: ${nodeTimeoutS}`,
      `body_limit_bytes: ${BODY_LIMIT}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** Every master and agent process started, to check their logs at the end. */
const started: Proc[] = [];
const nodeTokensSeen: string[] = [];

async function startMaster(config: string): Promise<Proc> {
  const p = startFfwatt(['master', '--config', config]);
  started.push(p);
  await waitFor(
    'master /readyz',
    async () => {
      if (p.child.exitCode !== null) throw new Error(`master exited ${p.child.exitCode}: ${p.output()}`);
      const r = await request(`${base}/readyz`, { dispatcher: tls });
      await r.body.text();
      return r.statusCode === 200;
    },
    30_000,
  );
  return p;
}

/** Each node's own client certificate (CN = node id) and a dispatcher presenting it. */
const nodeCerts = new Map<string, { cert: string; key: string }>();
const nodeTls = new Map<string, Agent>();
function asNode(id: string): Agent {
  if (!nodeCerts.has(id)) nodeCerts.set(id, nodeCert(join(TMP, 'pki'), id));
  if (!nodeTls.has(id)) nodeTls.set(id, tlsAgent(pki.ca, nodeCerts.get(id)));
  return nodeTls.get(id)!;
}
/** The node credential an agent keeps in its state folder. */
const agentToken = (id: string) => readFileSync(join(TMP, id, 'state', 'node-token'), 'utf8').trim();

function startAgent(id: string): Proc {
  const dir = join(TMP, id);
  asNode(id);
  const p = startFfwatt([
    'agent',
    '--master',
    base,
    '--registration-token-file',
    REG_TOKEN_FILE,
    '--state-dir',
    join(dir, 'state'),
    '--ca-cert',
    pki.ca,
    '--client-cert',
    nodeCerts.get(id)!.cert,
    '--client-key',
    nodeCerts.get(id)!.key,
    '--node-id',
    id,
    '--spool',
    join(dir, 'spool'),
    '--work',
    join(dir, 'work'),
    '--metrics-listen',
    `127.0.0.1:${agentMetricsPorts.get(id)}`,
    '--heartbeat-s',
    '1',
    '--lease-extend-s',
    '1',
    '--poll-s',
    '0.5',
    // The three agents stand for three machines: each has its own measuring lock (test/fleet/host-lock.test.ts shares one).
    '--host-lock',
    join(TMP, `${id}.lock`),
  ]);
  started.push(p);
  return p;
}
const agentMetricsPorts = new Map<string, number>();

/** Read-only view of the master's database (WAL: safe beside the running master). */
function masterDb<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(DB_PATH, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const rowCounts = () =>
  masterDb((db) =>
    Object.fromEntries(
      ['campaign', 'scenario', 'job', 'run', 'node', 'idle_baseline'].map((t) => [
        t,
        (db.prepare(`SELECT COUNT(*) n FROM ${t}`).get() as { n: number }).n,
      ]),
    ),
  );

const admin = <T = any>(method: 'GET' | 'POST', path: string, body?: unknown) =>
  api<T>(base, method, path, { token: TOKEN, body, dispatcher: tls });

async function submit(
  matrix: string,
  extra: Record<string, unknown> = {},
): Promise<{ campaignId: string; jobs: number }> {
  // placement any: these tests check queue mechanics across agents; a hand-registered node that
  // never claims (the clock-skew test's) would otherwise be a placement target of its own.
  const r = await admin<{ campaignId: string; jobs: number }>('POST', '/campaigns', {
    matrix,
    fileName: 'fleet.yml',
    placement: 'any',
    ...extra,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

const jobsOf = (campaignId: string) =>
  masterDb(
    (db) =>
      db
        .prepare('SELECT id, state, attempts, lease_owner leaseOwner FROM job WHERE campaign_id = ? ORDER BY seq')
        .all(campaignId) as Array<{ id: string; state: string; attempts: number; leaseOwner: string | null }>,
  );
const runsOfJob = (jobId: string) =>
  masterDb(
    (db) =>
      db
        .prepare('SELECT attempt, node_id nodeId, status FROM run WHERE job_id = ? ORDER BY attempt')
        .all(jobId) as Array<{ attempt: number; nodeId: string; status: string }>,
  );

/** Every job of the campaign finished with exactly one run per finished attempt: nothing lost, nothing twice. */
function expectNoLossNoDuplicates(campaignId: string, expectedJobs: number, state = 'succeeded') {
  const jobs = jobsOf(campaignId);
  expect(jobs).toHaveLength(expectedJobs);
  for (const j of jobs) {
    expect(j.state).toBe(state);
    const runs = runsOfJob(j.id);
    expect(runs).toHaveLength(1);
    expect(runs[0].attempt).toBe(j.attempts);
  }
  const dup = masterDb((db) =>
    db
      .prepare(
        'SELECT job_id, attempt, COUNT(*) n FROM run WHERE campaign_id = ? GROUP BY job_id, attempt HAVING n > 1',
      )
      .all(campaignId),
  );
  expect(dup).toEqual([]);
}

/** A run record as an agent posts it, rebuilt from a stored row. */
function recordFromRow(r: Record<string, any>) {
  return {
    jobId: r.job_id,
    attempt: r.attempt,
    nodeId: r.node_id,
    status: r.status,
    exitCode: r.exit_code,
    signal: r.signal,
    error: r.error,
    stderrTail: r.stderr_tail,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    wallS: r.wall_s,
    mediaSeconds: r.media_seconds,
    frames: r.frames,
    outputBytes: r.output_bytes,
    bitrateBps: r.bitrate_bps,
    fps: r.fps,
    speed: r.speed,
    droppedFrames: r.dropped_frames,
    dupFrames: r.dup_frames,
    energy: JSON.parse(r.energy ?? 'null'),
    quality: JSON.parse(r.quality ?? 'null'),
    flags: JSON.parse(r.flags),
    provenance: JSON.parse(r.provenance),
  };
}

const ffwatt = runFfwatt;

const matrix = (o: {
  name: string;
  codecs: string;
  durationS: number;
  reps: number;
  idleS?: number;
  warmupS?: number;
}) => `name: ${o.name}
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: ${o.reps}, max: ${o.reps}, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: ${o.idleS ?? 1}
scenarios:
  - mode: file
    codec: [${o.codecs}]
    preset: ultrafast
    rate: {crf: 30}
    streams: 1
    warmup_s: ${o.warmupS ?? 0.5}
    duration_s: ${o.durationS}
`;

/** hevc at 320x240 encodes ~5-10x real time here: 40 s of media keeps FFmpeg busy a few seconds. */
const LONG = (name: string, reps = 1) => matrix({ name, codecs: 'hevc', durationS: 40, reps, idleS: 0 });

const ffmpegOfJob = (jobId: string) => pidsMatching(jobId).filter((pid) => pidsMatching(`ffmpeg`).includes(pid));

function killStrays(): void {
  for (const pid of pidsMatching(TMP)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

beforeAll(async () => {
  pki = makePki(join(TMP, 'pki'));
  writeFileSync(TOKEN_FILE, TOKEN + '\n', { mode: 0o600 });
  writeFileSync(REG_TOKEN_FILE, REG_TOKEN + '\n', { mode: 0o600 });
  port = await freePort();
  base = `https://127.0.0.1:${port}`;
  tls = new Agent({
    connect: { ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
  });
  master = await startMaster(writeMasterConfig('master.yml', 30, 60));
  for (const id of AGENTS) {
    agentMetricsPorts.set(id, await freePort());
    agents.set(id, startAgent(id));
  }
  await waitFor(
    'three agents registered',
    async () => {
      const r = await admin<{ nodes: Array<{ id: string; state: string }> }>('GET', '/nodes');
      return AGENTS.every((id) => r.body.nodes.some((n) => n.id === id && n.state === 'alive'));
    },
    60_000,
  );
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => stop(a)));
  if (master) await stop(master);
  killStrays();
  await tls?.close();
  for (const d of nodeTls.values()) await d.close();
  rmSync(TMP, { recursive: true, force: true });
});

describe('fleet: master + 3 agents over TLS', () => {
  let campaignId = '';

  it('runs a tiny real matrix submitted with ffwatt run --master and fetches results shaped like local mode', async () => {
    const file = join(TMP, 'tiny.yml');
    writeFileSync(file, matrix({ name: 'fleet-tiny', codecs: 'h264, hevc', durationS: 2, reps: 2 }));
    const out = join(TMP, 'results');
    const fleet = await ffwatt(
      [
        'run',
        file,
        '--master',
        base,
        '--token-file',
        TOKEN_FILE,
        '--ca-cert',
        pki.ca,
        '--out',
        out,
        '--json',
        '--no-report',
      ],
      {
        FFWATT_CLIENT_CERT: pki.clientCert,
        FFWATT_CLIENT_KEY: pki.clientKey,
      },
    );
    expect(fleet.code, fleet.stderr).toBe(0);
    const summary = JSON.parse(fleet.stdout) as {
      campaignId: string;
      status: string;
      counts: Record<string, number>;
      dbPath: string;
    };
    expect(summary.status).toBe('done');
    expect(summary.counts).toEqual({ succeeded: 4 });
    campaignId = summary.campaignId;
    expectNoLossNoDuplicates(campaignId, 4);

    const local = await ffwatt(['run', file, '--out', join(TMP, 'local'), '--json', '--no-report']);
    expect(local.code, local.stderr).toBe(0);

    const rowsOf = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT * FROM run ORDER BY id').all() as Array<Record<string, any>>;
      } finally {
        db.close();
      }
    };
    const fleetRows = rowsOf(summary.dbPath);
    const localRows = rowsOf(join(TMP, 'local', 'ffwatt.sqlite'));
    expect(fleetRows).toHaveLength(4);
    expect(localRows).toHaveLength(4);
    expect(Object.keys(fleetRows[0]).sort()).toEqual(Object.keys(localRows[0]).sort());
    const mustHave = [
      'status',
      'exit_code',
      'started_at',
      'ended_at',
      'wall_s',
      'media_seconds',
      'frames',
      'output_bytes',
      'energy_source',
      'gross_j',
      'avg_w',
      'peak_w',
      'window_s',
      'psnr',
      'ssim',
      'energy',
      'quality',
      'flags',
      'provenance',
    ];
    for (const row of [...fleetRows, ...localRows]) {
      for (const col of mustHave) expect(row[col], `${col} of ${row.node_id}`).not.toBeNull();
      // Net figures exactly when the idle baseline was clean (three agents on one box load each other's baselines).
      const clean = JSON.parse(row.energy).baseline.clean;
      expect(JSON.parse(row.flags).includes('idle-baseline-dirty')).toBe(!clean);
      for (const col of ['idle_w', 'net_j']) expect(row[col] === null, `${col} of ${row.node_id}`).toBe(!clean);
      expect(row.status).toBe('succeeded');
      expect(row.energy_source).toBe('estimate');
      expect(JSON.parse(row.flags)).toContain('estimated');
    }
    // Same document shapes: energy, provenance and quality carry the same keys in both modes.
    const keys = (rows: Array<Record<string, any>>, col: string) =>
      [...new Set(rows.flatMap((r) => Object.keys(JSON.parse(r[col]))))].sort();
    for (const col of ['energy', 'provenance', 'quality'])
      expect(keys(fleetRows, col), col).toEqual(keys(localRows, col));
    const prov = JSON.parse(fleetRows[0].provenance);
    expect(prov.argv[0][0]).toMatch(/ffmpeg$/);
    expect(prov.meters.some((m: { source: string }) => m.source === 'estimate')).toBe(true);
    expect(new Set(fleetRows.map((r) => r.node_id)).size).toBeGreaterThanOrEqual(1);
    for (const r of fleetRows) expect(AGENTS).toContain(r.node_id);
    // Clean idle baselines of the agents came along with the results (dirty ones stay in the run records only).
    const idle = new Database(summary.dbPath, { readonly: true });
    const freshClean = fleetRows.some(
      (r) => JSON.parse(r.energy).baseline.clean && !JSON.parse(r.energy).baseline.reused,
    );
    expect(
      (idle.prepare('SELECT COUNT(*) n FROM idle_baseline WHERE campaign_id = ?').get(campaignId) as { n: number }).n >=
        1,
    ).toBe(freshClean);
    idle.close();
  });

  it('serves the campaign report and progress from the master', async () => {
    const json = await admin<{ scenarios: unknown[] }>('GET', `/campaigns/${campaignId}/report`);
    expect(json.status).toBe(200);
    expect(json.body.scenarios).toHaveLength(2);
    const md = await admin<string>('GET', `/campaigns/${campaignId}/report?format=md`);
    expect(md.status).toBe(200);
    expect(md.body).toContain('hevc');
    const bad = await admin<{ field: string }>('GET', `/campaigns/${campaignId}/report?format=pdf`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('format');
    const progress = await admin<{
      status: string;
      counts: Record<string, number>;
      nodes: Record<string, { done: number }>;
    }>('GET', `/campaigns/${campaignId}`);
    expect(progress.body.status).toBe('done');
    expect(progress.body.counts.succeeded).toBe(4);
    expect(Object.values(progress.body.nodes).reduce((a, n) => a + n.done, 0)).toBe(4);
  });

  it('stores a result posted twice once, answering 200 duplicate the second time', async () => {
    const row = masterDb(
      (db) => db.prepare('SELECT * FROM run WHERE campaign_id = ? LIMIT 1').get(campaignId) as Record<string, any>,
    );
    const before = rowCounts();
    const r = await api<{ kind: string }>(base, 'POST', `/jobs/${row.job_id}/result`, {
      token: agentToken(row.node_id),
      body: { record: recordFromRow(row), idle: null, leaseId: row.lease_id },
      dispatcher: asNode(row.node_id),
    });
    expect(r.status).toBe(200);
    expect(r.body.kind).toBe('duplicate');
    expect(rowCounts()).toEqual(before);
    expectNoLossNoDuplicates(campaignId, 4);
  });

  it('accepts a result whose agent clock is a day off; leases follow the server clock only', async () => {
    asNode('skewed'); // its client certificate is made here, not between t0 and the claim
    const reg = await admin<{ nodeId: string; token: string }>('POST', '/nodes/register', {
      id: 'skewed',
      hostname: 'skewed',
      encoders: { h264: 'libx264' },
    });
    expect(reg.status).toBe(201);
    const node = reg.body.token;
    nodeTokensSeen.push(node);
    const { campaignId: skewCampaign } = await submit(matrix({ name: 'skew', codecs: 'h264', durationS: 1, reps: 1 }), {
      nodeConstraint: ['skewed'],
    });
    const t0 = Date.now();
    const claim = await api<{ id: string; attempts: number; leaseExpiresAt: number; leaseId: string }>(
      base,
      'POST',
      '/jobs/claim',
      { token: node, body: { nodeId: 'skewed' }, dispatcher: asNode('skewed') },
    );
    expect(claim.status).toBe(200);
    expect(Math.abs(claim.body.leaseExpiresAt - (t0 + 30_000))).toBeLessThan(3_000);
    const dayAgo = new Date(Date.now() - 86_400_000);
    const lease = await api<{ ok: boolean; leaseExpiresAt: number }>(base, 'POST', `/jobs/${claim.body.id}/lease`, {
      token: node,
      body: { nodeId: 'skewed', attempt: claim.body.attempts, leaseId: claim.body.leaseId },
      dispatcher: asNode('skewed'),
    });
    expect(lease.body.ok).toBe(true);
    expect(Math.abs(lease.body.leaseExpiresAt - (Date.now() + 30_000))).toBeLessThan(3_000);
    const posted = await api<{ kind: string }>(base, 'POST', `/jobs/${claim.body.id}/result`, {
      token: node,
      body: {
        record: handRecord(claim.body.id, claim.body.attempts, 'skewed', 'succeeded', dayAgo),
        idle: null,
        leaseId: claim.body.leaseId,
      },
      dispatcher: asNode('skewed'),
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const stored = masterDb(
      (db) =>
        db.prepare('SELECT started_at, received_at FROM run WHERE job_id = ?').get(claim.body.id) as {
          started_at: string;
          received_at: number;
        },
    );
    expect(stored.started_at).toBe(dayAgo.toISOString()); // the agent's clock, kept as reported
    expect(Math.abs(stored.received_at - Date.now())).toBeLessThan(10_000); // the server's clock
    expectNoLossNoDuplicates(skewCampaign, 1);
  });

  describe('bad input: right status, clear error, nothing written', () => {
    let before: Record<string, number>;
    let someJob = '';
    let intruderToken = '';

    beforeAll(async () => {
      const reg = await admin<{ token: string }>('POST', '/nodes/register', {
        id: 'intruder',
        hostname: 'intruder',
        encoders: { h264: 'libx264' },
      });
      intruderToken = reg.body.token;
      nodeTokensSeen.push(intruderToken);
      someJob = jobsOf(campaignId)[0].id;
      before = rowCounts();
    });

    it('malformed JSON → 400', async () => {
      const r = await api<{ error: string }>(base, 'POST', '/campaigns', {
        token: TOKEN,
        raw: '{"matrix": "name: x',
        dispatcher: tls,
      });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/JSON|malformed/i);
    });

    it('wrong types → 400 naming the field', async () => {
      const a = await admin<{ error: string; field: string }>('POST', '/campaigns', { matrix: 42 });
      expect(a.status).toBe(400);
      expect(a.body.field).toBe('matrix');
      expect(a.body.error).toContain('matrix');
      const b = await api<{ field: string }>(base, 'POST', '/jobs/claim', {
        token: intruderToken,
        body: { nodeId: 7 },
        dispatcher: asNode('intruder'),
      });
      expect(b.status).toBe(400);
      expect(b.body.field).toBe('nodeId');
      const row = masterDb(
        (db) => db.prepare('SELECT * FROM run WHERE job_id = ?').get(someJob) as Record<string, any>,
      );
      const record = recordFromRow(row);
      const c = await api<{ field: string; error: string }>(base, 'POST', `/jobs/${someJob}/result`, {
        token: intruderToken,
        body: {
          record: { ...record, nodeId: 'intruder', energy: { ...record.energy, grossJ: 'lots' } },
          idle: null,
          leaseId: 'x',
        },
        dispatcher: asNode('intruder'),
      });
      expect(c.status).toBe(400);
      expect(c.body.field).toBe('record.energy.grossJ');
      const d = await admin<{ field: string }>('POST', '/campaigns', {
        matrix: 'name: x\nbogus_key: 1\nscenarios: []\n',
      });
      expect(d.status).toBe(400);
    });

    it('bad query parameters and non-JSON bodies → 400/415', async () => {
      const a = await admin<{ field: string }>('GET', '/jobs?state=bogus');
      expect(a.status).toBe(400);
      expect(a.body.field).toBe('state');
      const b = await api(base, 'POST', '/campaigns', {
        token: TOKEN,
        raw: 'name: x',
        headers: { 'content-type': 'text/yaml' },
        dispatcher: tls,
      });
      expect(b.status).toBe(415);
    });

    it('oversized body → 413', async () => {
      const r = await admin<{ error: string }>('POST', '/campaigns', { matrix: 'x'.repeat(BODY_LIMIT + 1) });
      expect(r.status).toBe(413);
      expect(r.body.error).toContain(String(BODY_LIMIT));
    });

    it('unknown job id → 404', async () => {
      expect((await admin('GET', '/jobs/no-such-job')).status).toBe(404);
      expect((await admin('POST', '/jobs/no-such-job/cancel')).status).toBe(404);
      expect((await admin('POST', '/jobs/no-such-job/retry')).status).toBe(404);
      const rec = handRecord('no-such-job', 1, 'intruder');
      const r = await api<{ error: string }>(base, 'POST', '/jobs/no-such-job/result', {
        token: intruderToken,
        body: { record: rec, idle: null, leaseId: 'x' },
        dispatcher: asNode('intruder'),
      });
      expect(r.status).toBe(404);
      expect(r.body.error).toContain('no-such-job');
    });

    it('missing or bad token → 401; a node token acting for another node → 403', async () => {
      const none = await api<{ error: string }>(base, 'POST', '/jobs/claim', {
        body: { nodeId: 'a1' },
        dispatcher: tls,
      });
      expect(none.status).toBe(401);
      expect(none.body.error).toMatch(/bearer token/);
      expect((await api(base, 'GET', '/jobs', { token: 'not-the-token-at-all', dispatcher: tls })).status).toBe(401);
      expect(
        (
          await api(base, 'POST', '/nodes/register', {
            token: 'wrong'.repeat(8),
            body: { id: 'x', hostname: 'x', encoders: {} },
            dispatcher: tls,
          })
        ).status,
      ).toBe(401);
      const other = await api<{ error: string }>(base, 'POST', '/jobs/claim', {
        token: intruderToken,
        body: { nodeId: 'a1' },
        dispatcher: asNode('intruder'),
      });
      expect(other.status).toBe(403);
      expect(other.body.error).toContain('intruder');
      expect(
        (
          await api(base, 'POST', '/nodes/a1/heartbeat', {
            token: intruderToken,
            body: {},
            dispatcher: asNode('intruder'),
          })
        ).status,
      ).toBe(403);
      expect((await api(base, 'GET', '/jobs', { token: intruderToken, dispatcher: asNode('intruder') })).status).toBe(
        403,
      );
    });

    it('mTLS: a client certificate from another CA, or none, is refused in the handshake', async () => {
      const rogue = new Agent({
        connect: { ca: readFileSync(pki.ca), cert: readFileSync(pki.rogueCert), key: readFileSync(pki.rogueKey) },
      });
      const bare = new Agent({ connect: { ca: readFileSync(pki.ca) } });
      try {
        await expect(api(base, 'GET', '/jobs', { token: TOKEN, dispatcher: rogue })).rejects.toThrow();
        await expect(api(base, 'GET', '/jobs', { token: TOKEN, dispatcher: bare })).rejects.toThrow();
      } finally {
        await rogue.close();
        await bare.close();
      }
    });

    it('plain HTTP on a non-loopback address is refused at startup (exit 2)', async () => {
      const data = join(TMP, 'insecure');
      const r = await ffwatt(
        ['master', '--listen', `0.0.0.0:${await freePort()}`, '--data', data, '--token-file', TOKEN_FILE],
        {},
        30_000,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/refusing plain HTTP on 0\.0\.0\.0/);
      expect(r.stderr).toMatch(/--tls-cert/);
      expect(existsSync(join(data, 'ffwatt.sqlite'))).toBe(false);
    });

    afterAll(() => {
      expect(rowCounts()).toEqual(before);
    });
  });

  it('cancel during a run: the agent stops FFmpeg within seconds, the job ends canceled', async () => {
    const { campaignId: c } = await submit(LONG('cancel'));
    const [job] = jobsOf(c);
    await waitFor('FFmpeg of the job running', async () => ffmpegOfJob(job.id).length > 0, 60_000, 100);
    const r = await admin<{ state: string }>('POST', `/jobs/${job.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('canceled');
    const t0 = Date.now();
    await waitFor('FFmpeg stopped', async () => ffmpegOfJob(job.id).length === 0, 10_000, 100);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await waitFor('canceled run stored', async () => runsOfJob(job.id).length === 1, 20_000);
    expect(runsOfJob(job.id)[0].status).toBe('canceled');
    expectNoLossNoDuplicates(c, 1, 'canceled');
    expect((await admin<{ status: string }>('GET', `/campaigns/${c}`)).body.status).toBe('done');
  });

  it('master stopped mid-campaign and restarted: queue and results intact, agents reconnect, spooled result delivered', async () => {
    const { campaignId: c } = await submit(LONG('restart', 3));
    await waitFor(
      'FFmpeg running for the campaign',
      async () => jobsOf(c).some((j) => j.state === 'running' && ffmpegOfJob(j.id).length > 0),
      60_000,
      100,
    );
    const snapshot = masterDb((db) => db.prepare('SELECT id, job_id, attempt FROM run ORDER BY id').all());
    await stop(master);
    expect(master.child.exitCode).toBe(0);
    const spools = AGENTS.map((id) => join(TMP, id, 'spool'));
    const spooled = () =>
      spools.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')) : []));
    await waitFor('a result spooled while the master is down', async () => spooled().length > 0, 60_000, 200);
    const restartedAt = Date.now();
    master = await startMaster(join(TMP, 'master.yml'));
    const after = masterDb((db) => db.prepare('SELECT id, job_id, attempt FROM run ORDER BY id').all());
    expect(after.slice(0, snapshot.length)).toEqual(snapshot);
    await waitFor('spool emptied', async () => spooled().length === 0, 60_000, 250);
    await waitFor(
      'campaign done',
      async () => (await admin<{ status: string }>('GET', `/campaigns/${c}`)).body.status === 'done',
      90_000,
      500,
    );
    expectNoLossNoDuplicates(c, 3);
    const nodes = (await admin<{ nodes: Array<{ id: string; lastHeartbeat: number; state: string }> }>('GET', '/nodes'))
      .body.nodes;
    for (const id of AGENTS) expect(nodes.find((n) => n.id === id)!.lastHeartbeat).toBeGreaterThan(restartedAt);
  });

  it('an agent restarted with a result left in its spool delivers it (stored once)', async () => {
    const id = 'a1';
    await stop(agents.get(id)!);
    // A result the master already has, left behind as if the agent died right after posting it.
    const row = masterDb(
      (db) =>
        db.prepare('SELECT * FROM run WHERE status = ? ORDER BY id LIMIT 1').get('succeeded') as Record<string, any>,
    );
    const spool = join(TMP, id, 'spool');
    const file = join(spool, `${row.job_id}.${row.attempt}.json`);
    writeFileSync(
      file,
      JSON.stringify({ record: { ...recordFromRow(row), nodeId: id }, idle: null, leaseId: row.lease_id }),
    );
    const before = rowCounts();
    agents.set(id, startAgent(id));
    await waitFor('spool of the restarted agent emptied', async () => !existsSync(file), 60_000, 250);
    expect(readdirSync(spool).filter((f) => f.endsWith('.rejected') || f.endsWith('.bad'))).toEqual([]);
    expect(rowCounts().run).toBe(before.run);
  });

  it('kill -9 of an agent mid-job: the job is requeued and finished by another; the late result is refused', async () => {
    // Short leases for this phase: restart the master with leaseS 3 and nodeTimeoutS 5 on the same data.
    await stop(master);
    master = await startMaster(writeMasterConfig('master-short.yml', 3, 5));
    const { campaignId: c } = await submit(LONG('kill'));
    const [job] = jobsOf(c);
    await waitFor('FFmpeg of the job running', async () => ffmpegOfJob(job.id).length > 0, 60_000, 100);
    const victim = jobsOf(c)[0].leaseOwner!;
    agents.get(victim)!.child.kill('SIGKILL');
    await agents.get(victim)!.exited;
    for (const pid of ffmpegOfJob(job.id)) process.kill(pid, 'SIGKILL'); // its orphaned FFmpeg
    await waitFor('job finished by another agent', async () => jobsOf(c)[0].state === 'succeeded', 90_000, 250);
    const [done] = jobsOf(c);
    expect(done.attempts).toBe(2);
    const runs = runsOfJob(job.id);
    expect(runs).toHaveLength(1);
    expect(runs[0].nodeId).not.toBe(victim);
    expect(runs[0].attempt).toBe(2);
    // The killed attempt's result, arriving late, never overwrites the newer one.
    const row = masterDb((db) => db.prepare('SELECT * FROM run WHERE job_id = ?').get(job.id) as Record<string, any>);
    const late = await api<{ kind: string; error: string }>(base, 'POST', `/jobs/${job.id}/result`, {
      token: agentToken(victim),
      body: {
        record: { ...recordFromRow(row), attempt: 1, nodeId: victim },
        idle: null,
        leaseId: 'the-lease-it-held-before',
      },
      dispatcher: asNode(victim),
    });
    expect(late.status).toBe(409);
    expect(late.body.kind).toBe('stale');
    expectNoLossNoDuplicates(c, 1);
    await waitFor(
      'killed node marked dead',
      async () =>
        (await admin<{ nodes: Array<{ id: string; state: string }> }>('GET', '/nodes')).body.nodes.find(
          (n) => n.id === victim,
        )?.state === 'dead',
      20_000,
    );
  });

  it('keeps tokens out of every log', () => {
    expect(started.length).toBeGreaterThanOrEqual(6);
    for (const p of started) {
      const out = p.output();
      expect(out.length).toBeGreaterThan(0);
      expect(out).not.toContain(TOKEN);
      expect(out).not.toContain(REG_TOKEN);
      for (const t of [...nodeTokensSeen, ...AGENTS.map(agentToken)]) expect(out).not.toContain(t);
      expect(out).not.toMatch(/Bearer\s+\S{16,}/);
    }
  });
});
