// Fleet trust (issue 15), read as an attacker or a bad day would: each attack against a real master
// process (and real agents where the agent is the subject), checked against the master's SQLite.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  handRecord,
  api,
  freePort,
  makePki,
  nodeCert,
  pidsMatching,
  startFfwatt,
  stop,
  tlsAgent,
  waitFor,
  type Proc,
} from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-adv-'));
const ADMIN = randomBytes(24).toString('hex');
const REG = randomBytes(24).toString('hex');
const ADMIN_FILE = join(TMP, 'admin.token');
const REG_FILE = join(TMP, 'registration.token');

let pki: ReturnType<typeof makePki>;
const started: Proc[] = [];

/** Every process started here is stopped at the end, and only those. */
function track(p: Proc): Proc {
  started.push(p);
  return p;
}

function db<T>(path: string, fn: (d: Database.Database) => T): T {
  const d = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

// placement any: these attacks are about credentials, fencing and bounds, not about where cells run
// (the fleet default, each-class, needs the target nodes registered before the campaign is submitted).
const matrix = (o: {
  name: string;
  codec?: string;
  durationS: number;
  reps?: number;
  warmupS?: number;
  extra?: string;
}) => `name: ${o.name}
placement: any
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: ${o.reps ?? 1}, max: ${o.reps ?? 1}, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - {codec: ${o.codec ?? 'h264'}, preset: ultrafast, rate: {crf: 30}, warmup_s: ${o.warmupS ?? 0}, duration_s: ${o.durationS}${o.extra ?? ''}}
`;

const ENCODERS = { h264: 'libx264', hevc: 'libx265' };

// ---------------------------------------------------------------------------------------------
// Master A: TLS + mTLS, registration token, short deadlines; driven by hand-made nodes.
// ---------------------------------------------------------------------------------------------
describe('master A: credentials, fencing, bounds (TLS + mTLS, hand-driven nodes)', () => {
  const DATA = join(TMP, 'a-data');
  const DB = join(DATA, 'ffwatt.sqlite');
  let port = 0;
  let base = '';
  let config = '';
  let master: Proc;
  let adminTls: Agent;
  const nodeTls = new Map<string, Agent>();
  const asNode = (id: string) => {
    if (!nodeTls.has(id)) nodeTls.set(id, tlsAgent(pki.ca, nodeCert(join(TMP, 'pki'), id)));
    return nodeTls.get(id)!;
  };
  const admin = <T = any>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    api<T>(base, method, path, { token: ADMIN, body, dispatcher: adminTls });
  const as = <T = any>(node: string, token: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    api<T>(base, method, path, { token, body, dispatcher: asNode(node) });
  const register = async (id: string, token = REG) =>
    as<{ token: string; error?: string }>(id, token, 'POST', '/nodes/register', {
      id,
      hostname: id,
      encoders: ENCODERS,
    });
  const campaign = async (name: string, extra: Record<string, unknown> = {}) => {
    const r = await admin<{ campaignId: string }>('POST', '/campaigns', {
      matrix: matrix({ name, durationS: 1 }),
      ...extra,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.campaignId;
  };
  type Claim = { id: string; attempts: number; leaseId: string; deadlineS: number };
  const claim = async (id: string, token: string) => as<Claim>(id, token, 'POST', '/jobs/claim', { nodeId: id });
  const runs = (jobId: string) =>
    db(
      DB,
      (d) =>
        d
          .prepare(
            'SELECT attempt, node_id nodeId, status, lease_id leaseId FROM run WHERE job_id = ? ORDER BY attempt',
          )
          .all(jobId) as Array<{ attempt: number; nodeId: string; status: string; leaseId: string }>,
    );
  const job = (jobId: string) =>
    db(
      DB,
      (d) =>
        d.prepare('SELECT state, attempts, lease_owner owner FROM job WHERE id = ?').get(jobId) as {
          state: string;
          attempts: number;
          owner: string | null;
        },
    );

  async function startMaster(): Promise<Proc> {
    const p = track(startFfwatt(['master', '--config', config]));
    await waitFor(
      'master A ready',
      async () => {
        if (p.child.exitCode !== null) throw new Error(`master exited ${p.child.exitCode}: ${p.output()}`);
        const r = await request(`${base}/readyz`, { dispatcher: adminTls });
        await r.body.text();
        return r.statusCode === 200;
      },
      30_000,
    );
    return p;
  }

  beforeAll(async () => {
    port = await freePort();
    base = `https://127.0.0.1:${port}`;
    config = join(TMP, 'a.yml');
    writeFileSync(
      config,
      [
        `listen: 127.0.0.1:${port}`,
        `data: ${DATA}`,
        `token_file: ${ADMIN_FILE}`,
        `registration_token_file: ${REG_FILE}`,
        `tls_cert: ${pki.cert}`,
        `tls_key: ${pki.key}`,
        `client_ca: ${pki.ca}`,
        'lease_s: 30',
        'node_timeout_s: 120',
        // deadline of a 1 s cell: 1 × 1 + 1 = 2 s; lease age limit: 2 × 2 s
        'deadline_factor: 1',
        'deadline_margin_s: 1',
        '',
      ].join('\n'),
    );
    adminTls = tlsAgent(pki.ca, { cert: pki.clientCert, key: pki.clientKey });
    master = await startMaster();
  });

  afterAll(async () => {
    await stop(master);
    await adminTls?.close();
    for (const d of nodeTls.values()) await d.close();
  });

  it('side door: POST /%61pi/v1/campaigns without a token is 401 before the body is parsed', async () => {
    for (const path of ['/%61pi/v1/campaigns', '/api/v1/%63ampaigns', '/api/v1/campaigns']) {
      const r = await request(`${base}${path}`, {
        method: 'POST',
        dispatcher: adminTls,
        headers: { 'content-type': 'application/json' },
        body: '{"matrix": "not json',
      });
      const body = await r.body.text();
      expect(r.statusCode, `${path}: ${body}`).toBe(401);
    }
    const unknown = await request(`${base}/api/v2/anything`, {
      method: 'POST',
      dispatcher: adminTls,
      body: '{',
      headers: { 'content-type': 'application/json' },
    });
    await unknown.body.text();
    expect(unknown.statusCode).toBe(401);
  });

  it('the registration token registers a new node and does nothing else', async () => {
    const r = await register('w-new');
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.token.length).toBeGreaterThanOrEqual(43);
    const asReg = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
      as('w-new', REG, method, path, body);
    for (const [method, path, body] of [
      ['GET', '/nodes', undefined],
      ['GET', '/jobs', undefined],
      ['POST', '/campaigns', { matrix: matrix({ name: 'x', durationS: 1 }) }],
      ['POST', '/jobs/claim', { nodeId: 'w-new' }],
      ['POST', '/nodes/w-new/heartbeat', {}],
      ['DELETE', '/nodes/w-new', undefined],
    ] as const) {
      const res = await asReg(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
  });

  it('the registration token cannot take over an existing node id (409); its own credential and the admin can', async () => {
    const first = await register('w-own');
    expect(first.status).toBe(201);
    const takeover = await register('w-own');
    expect(takeover.status).toBe(409);
    expect(takeover.body.error).toMatch(/already registered.*own credential or the admin token/);
    // The first credential still works: nothing was replaced.
    expect((await as('w-own', first.body.token, 'POST', '/nodes/w-own/heartbeat', {})).status).toBe(200);
    const again = await register('w-own', first.body.token);
    expect(again.status).toBe(201);
    expect((await as('w-own', first.body.token, 'POST', '/nodes/w-own/heartbeat', {})).status).toBe(401);
    expect((await as('w-own', again.body.token, 'POST', '/nodes/w-own/heartbeat', {})).status).toBe(200);
    // A node credential registers no other id.
    const other = await as('w-own', again.body.token, 'POST', '/nodes/register', {
      id: 'w-other',
      hostname: 'x',
      encoders: ENCODERS,
    });
    expect(other.status).toBe(403);
    const byAdmin = await admin<{ token: string }>('POST', '/nodes/register', {
      id: 'w-own',
      hostname: 'w-own',
      encoders: ENCODERS,
    });
    expect(byAdmin.status).toBe(201);
  });

  it('with client_ca a node credential counts only over the client certificate of that node', async () => {
    const a = await register('w-cert-a');
    expect(a.status).toBe(201);
    const overOther = await as('w-cert-b', a.body.token, 'POST', '/nodes/w-cert-a/heartbeat', {});
    expect(overOther.status).toBe(403);
    expect(JSON.stringify(overOther.body)).toMatch(/client certificate whose CN or subjectAltName is w-cert-a/);
    const overAdminCert = await api(base, 'POST', '/nodes/w-cert-a/heartbeat', {
      token: a.body.token,
      body: {},
      dispatcher: adminTls,
    });
    expect(overAdminCert.status).toBe(403);
    // Registering an id needs that id's certificate too.
    const mismatch = await as('w-cert-b', REG, 'POST', '/nodes/register', {
      id: 'w-cert-c',
      hostname: 'x',
      encoders: ENCODERS,
    });
    expect(mismatch.status).toBe(403);
  });

  it('the admin token cannot post results or claim; a node cannot act for another node or a lease it does not hold', async () => {
    const owner = (await register('w-owner')).body.token;
    const thief = (await register('w-thief')).body.token;
    const c = await campaign('theft', { nodeConstraint: ['w-owner'] });
    const held = await claim('w-owner', owner);
    expect(held.status).toBe(200);
    expect(held.body.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    const jobId = held.body.id;
    const forged = { record: handRecord(jobId, held.body.attempts, 'w-owner'), idle: null, leaseId: held.body.leaseId };
    const byAdmin = await admin('POST', `/jobs/${jobId}/result`, forged);
    expect(byAdmin.status).toBe(403);
    expect((await admin('POST', '/jobs/claim', { nodeId: 'w-owner' })).status).toBe(403);
    // The thief, with its own valid credential: for the owner's node id → 403; in its own name → 409.
    expect((await as('w-thief', thief, 'POST', `/jobs/${jobId}/result`, forged)).status).toBe(403);
    const ownName = await as<{ kind: string }>('w-thief', thief, 'POST', `/jobs/${jobId}/result`, {
      ...forged,
      record: handRecord(jobId, held.body.attempts, 'w-thief'),
    });
    expect(ownName.status).toBe(409);
    expect(ownName.body.kind).toBe('stale');
    expect(
      (
        await as('w-thief', thief, 'POST', `/jobs/${jobId}/lease`, {
          nodeId: 'w-thief',
          attempt: held.body.attempts,
          leaseId: held.body.leaseId,
        })
      ).status,
    ).toBe(409);
    expect(runs(jobId)).toEqual([]);
    // The real agent's result is stored, once.
    const real = await as<{ kind: string }>('w-owner', owner, 'POST', `/jobs/${jobId}/result`, forged);
    expect(real.status).toBe(201);
    expect(runs(jobId)).toHaveLength(1);
    expect(c).toBeTruthy();
  });

  it('fencing: a result or extension without the lease id is 400, with another lease id 409; the same lease re-sent is a duplicate', async () => {
    const t = (await register('w-fence')).body.token;
    await campaign('fence', { nodeConstraint: ['w-fence'] });
    const held = (await claim('w-fence', t)).body;
    const rec = handRecord(held.id, held.attempts, 'w-fence');
    const noLease = await as<{ field: string }>('w-fence', t, 'POST', `/jobs/${held.id}/result`, {
      record: rec,
      idle: null,
    });
    expect(noLease.status).toBe(400);
    expect(noLease.body.field).toBe('leaseId');
    expect(
      (await as('w-fence', t, 'POST', `/jobs/${held.id}/lease`, { nodeId: 'w-fence', attempt: held.attempts })).status,
    ).toBe(400);
    expect(
      (
        await as('w-fence', t, 'POST', `/jobs/${held.id}/lease`, {
          nodeId: 'w-fence',
          attempt: held.attempts,
          leaseId: 'guessed',
        })
      ).status,
    ).toBe(409);
    expect(
      (await as('w-fence', t, 'POST', `/jobs/${held.id}/result`, { record: rec, idle: null, leaseId: 'guessed' }))
        .status,
    ).toBe(409);
    expect(
      (await as('w-fence', t, 'POST', `/jobs/${held.id}/result`, { record: rec, idle: null, leaseId: held.leaseId }))
        .status,
    ).toBe(201);
    const again = await as<{ kind: string }>('w-fence', t, 'POST', `/jobs/${held.id}/result`, {
      record: rec,
      idle: null,
      leaseId: held.leaseId,
    });
    expect(again.status).toBe(200);
    expect(again.body.kind).toBe('duplicate');
    // A different record under another lease id never replaces the stored one.
    const other = await as('w-fence', t, 'POST', `/jobs/${held.id}/result`, {
      record: { ...rec, status: 'failed', error: 'late' },
      idle: null,
      leaseId: 'old-lease',
    });
    expect(other.status).toBe(409);
    expect(runs(held.id)).toEqual([{ attempt: 1, nodeId: 'w-fence', status: 'succeeded', leaseId: held.leaseId }]);
  });

  it('a failed job that is retried runs as a higher attempt and its result is stored (201), once', async () => {
    const t = (await register('w-retry')).body.token;
    await campaign('retry', { nodeConstraint: ['w-retry'] });
    const first = (await claim('w-retry', t)).body;
    expect(
      (
        await as('w-retry', t, 'POST', `/jobs/${first.id}/result`, {
          record: handRecord(first.id, first.attempts, 'w-retry', 'failed'),
          idle: null,
          leaseId: first.leaseId,
        })
      ).status,
    ).toBe(201);
    expect(job(first.id).state).toBe('failed');
    expect((await admin('POST', `/jobs/${first.id}/retry`)).status).toBe(200);
    const second = (await claim('w-retry', t)).body;
    expect(second.id).toBe(first.id);
    expect(second.attempts).toBe(first.attempts + 1);
    expect(second.leaseId).not.toBe(first.leaseId);
    const stored = await as('w-retry', t, 'POST', `/jobs/${second.id}/result`, {
      record: handRecord(second.id, second.attempts, 'w-retry'),
      idle: null,
      leaseId: second.leaseId,
    });
    expect(stored.status).toBe(201);
    // The first attempt's result re-sent is a duplicate of its own lease, not a new run.
    expect(
      (
        await as('w-retry', t, 'POST', `/jobs/${first.id}/result`, {
          record: handRecord(first.id, first.attempts, 'w-retry', 'failed'),
          idle: null,
          leaseId: first.leaseId,
        })
      ).status,
    ).toBe(200);
    expect(runs(first.id).map((r) => [r.attempt, r.status])).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    expect(job(first.id)).toMatchObject({ state: 'succeeded', attempts: 2 });
  });

  it('the master refuses lease extensions past the maximum lease age', async () => {
    const t = (await register('w-age')).body.token;
    await campaign('age', { nodeConstraint: ['w-age'] });
    const held = (await claim('w-age', t)).body;
    expect(held.deadlineS).toBe(2); // (0 + 1 s) × factor 1 + margin 1 s
    const extend = () =>
      as<{ ok: boolean; error: string }>('w-age', t, 'POST', `/jobs/${held.id}/lease`, {
        nodeId: 'w-age',
        attempt: held.attempts,
        leaseId: held.leaseId,
      });
    expect((await extend()).status).toBe(200);
    await sleep(4500);
    const late = await extend();
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/past the maximum lease age of 4 s/);
  });

  it('DELETE /nodes/{id} (admin) revokes a node: its credential stops working, its job is requeued, the id cannot be taken with the registration token', async () => {
    const t = (await register('w-revoked')).body.token;
    await campaign('revoke', { nodeConstraint: ['w-revoked'] });
    const held = (await claim('w-revoked', t)).body;
    expect((await as('w-revoked', t, 'DELETE', '/nodes/w-revoked')).status).toBe(403);
    const r = await admin<{ revoked: boolean; requeued: string[] }>('DELETE', '/nodes/w-revoked');
    expect(r.status).toBe(200);
    expect(r.body.requeued).toEqual([held.id]);
    expect((await as('w-revoked', t, 'POST', '/nodes/w-revoked/heartbeat', {})).status).toBe(401);
    expect((await register('w-revoked')).status).toBe(409);
    expect(job(held.id).state).toBe('queued');
  });

  it('bounds: a matrix of 7.8·10⁸ cells is refused in well under a second naming the count; the master does not grow', async () => {
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${master.child.pid}/status`, 'utf8'))![1]) * 1024;
    const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
    const text = `name: bomb
input: {source: testsrc2, resolution: 320x240, fps: 30}
scenarios:
  - {codec: h264, rate: [${Array.from({ length: 51 }, (_, i) => `{crf: ${i}}`).join(', ')}], streams: ${list(60)}, warmup_s: ${list(60)}, duration_s: ${list(60)}, preset: [ultrafast, medium, slow, veryslow]}
`;
    expect(text.length).toBeLessThan(3000);
    const before = rss();
    const t0 = performance.now();
    const r = await admin<{ error: string }>('POST', '/campaigns', { matrix: text });
    const ms = performance.now() - t0;
    expect(r.status).toBe(400);
    expect(r.body.error).toContain(`the matrix expands to ${51 * 60 * 60 * 60 * 4} cells, more than the cap of 5000`);
    expect(ms).toBeLessThan(500);
    expect(rss() - before).toBeLessThan(50 * 2 ** 20);
    const long = await admin<{ error: string }>('POST', '/campaigns', {
      matrix: matrix({ name: 'long-list', durationS: 1 }).replace('duration_s: 1', `duration_s: ${list(150)}`),
    });
    expect(long.status).toBe(400);
    expect(long.body.error).toMatch(/duration_s: list longer than 64 values/);
  });

  it('bounds: duration_s 1e9 is refused naming the field and its maximum; so are the other maxima', async () => {
    const cases: Array<[string, RegExp]> = [
      [matrix({ name: 'd', durationS: 1e9 }), /duration_s: must be at most 3600/],
      [matrix({ name: 'w', durationS: 1, warmupS: 1e6 }), /warmup_s: must be at most 600/],
      [matrix({ name: 's', durationS: 1, extra: ', streams: 1000' }), /streams: must be at most 64/],
      [
        matrix({ name: 'c', durationS: 1 }).replace('cooldown_s: 0', 'cooldown_s: 1e9'),
        /cooldown_s: must be at most 600/,
      ],
      [
        matrix({ name: 'i', durationS: 1 }).replace('idle_baseline_s: 0', 'idle_baseline_s: 1e9'),
        /idle_baseline_s: must be at most 600/,
      ],
    ];
    for (const [text, expected] of cases) {
      const r = await admin<{ error: string }>('POST', '/campaigns', { matrix: text });
      expect(r.status, text).toBe(400);
      expect(r.body.error).toMatch(expected);
    }
  });

  it("bounds: fleet inputs stay inside the workers' media folder and encoder options are allow-listed", async () => {
    const abs = await admin<{ error: string }>('POST', '/campaigns', {
      matrix: matrix({ name: 'abs', durationS: 1 }).replace('source: testsrc2', 'source: /etc/ffwatt/admin.token'),
    });
    expect(abs.status).toBe(400);
    expect(abs.body.error).toMatch(/input\.source: '\/etc\/ffwatt\/admin\.token' is outside the workers' media folder/);
    const up = await admin('POST', '/campaigns', {
      matrix: matrix({ name: 'up', durationS: 1 }).replace('source: testsrc2', 'source: ../../etc/passwd'),
    });
    expect(up.status).toBe(400);
    const opt = await admin<{ error: string }>('POST', '/campaigns', {
      matrix: matrix({
        name: 'opt',
        durationS: 1,
        extra: ', encoder_options: {x264-params: "stats=/var/lib/ffwatt-agent/state/node-token"}',
      }),
    });
    expect(opt.status).toBe(400);
    expect(opt.body.error).toMatch(/encoder option 'x264-params' is not on the fleet allow-list/);
    const ok = await admin('POST', '/campaigns', {
      matrix: matrix({ name: 'ok-opt', durationS: 1, extra: ', encoder_options: {tune: zerolatency, g: 30}' }),
      nodeConstraint: ['nobody'],
    });
    expect(ok.status).toBe(201);
  });

  it('kill -9 of the master mid-result: after the restart the result is stored exactly once, and a 201 answered before the kill is on disk', async () => {
    const t = (await register('w-k9')).body.token;
    for (let i = 0; i < 4; i++) {
      await campaign(`k9-${i}`, { nodeConstraint: ['w-k9'] });
      const held = (await claim('w-k9', t)).body;
      const body = { record: handRecord(held.id, held.attempts, 'w-k9'), idle: null, leaseId: held.leaseId };
      const inFlight = as('w-k9', t, 'POST', `/jobs/${held.id}/result`, body).then(
        (r) => r.status,
        () => 'no answer' as const,
      );
      await sleep(i * 3); // 0, 3, 6, 9 ms: before, during and after the write
      master.child.kill('SIGKILL');
      await master.exited;
      const first = await inFlight;
      master = await startMaster();
      const resent = await as<{ kind: string }>('w-k9', t, 'POST', `/jobs/${held.id}/result`, body);
      if (first === 201) expect(resent.status).toBe(200);
      else expect([200, 201]).toContain(resent.status);
      expect(runs(held.id)).toHaveLength(1);
      expect(job(held.id)).toMatchObject({ state: 'succeeded', attempts: 1 });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Master B: plain HTTP on loopback, real agents with real FFmpeg.
// ---------------------------------------------------------------------------------------------
describe('master B: real agents (fail fast, stop promptly, clean up, disk full, restarts)', () => {
  const DATA = join(TMP, 'b-data');
  const DB = join(DATA, 'ffwatt.sqlite');
  let port = 0;
  let base = '';
  let config = '';
  let master: Proc;
  const admin = <T = any>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    api<T>(base, method, path, { token: ADMIN, body });
  const jobs = (campaignId: string) =>
    db(
      DB,
      (d) =>
        d
          .prepare('SELECT id, state, attempts, lease_owner owner FROM job WHERE campaign_id = ? ORDER BY seq')
          .all(campaignId) as Array<{ id: string; state: string; attempts: number; owner: string | null }>,
    );
  const runCount = (jobId: string) =>
    db(DB, (d) => (d.prepare('SELECT COUNT(*) n FROM run WHERE job_id = ?').get(jobId) as { n: number }).n);
  const submit = async (text: string, nodes: string[]) => {
    const r = await admin<{ campaignId: string }>('POST', '/campaigns', { matrix: text, nodeConstraint: nodes });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.campaignId;
  };

  async function startMaster(): Promise<Proc> {
    const p = track(startFfwatt(['master', '--config', config]));
    await waitFor(
      'master B ready',
      async () => {
        if (p.child.exitCode !== null) throw new Error(`master exited ${p.child.exitCode}: ${p.output()}`);
        const r = await request(`${base}/readyz`);
        await r.body.text();
        return r.statusCode === 200;
      },
      30_000,
    );
    return p;
  }

  const dirOf = (id: string) => join(TMP, 'agents', id);
  async function agent(
    id: string,
    o: { master?: string; regFile?: string; work?: string; spool?: string; extra?: string[] } = {},
  ): Promise<Proc> {
    const dir = dirOf(id);
    mkdirSync(dir, { recursive: true });
    return track(
      startFfwatt([
        'agent',
        '--master',
        o.master ?? base,
        '--registration-token-file',
        o.regFile ?? REG_FILE,
        '--state-dir',
        join(dir, 'state'),
        '--node-id',
        id,
        '--spool',
        o.spool ?? join(dir, 'spool'),
        '--work',
        o.work ?? join(dir, 'work'),
        '--metrics-listen',
        `127.0.0.1:${await freePort()}`,
        '--heartbeat-s',
        '1',
        '--lease-extend-s',
        '1',
        '--poll-s',
        '0.5',
        ...(o.extra ?? []),
      ]),
    );
  }
  const registered = (id: string) =>
    waitFor(
      `${id} registered`,
      async () =>
        ((await admin<{ nodes: Array<{ id: string }> }>('GET', '/nodes')).body.nodes ?? []).some((n) => n.id === id),
      60_000,
    );
  /** Milliseconds from SIGTERM to exit. */
  async function stopTimed(p: Proc): Promise<number> {
    const t0 = performance.now();
    p.child.kill('SIGTERM');
    const killer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
    await p.exited;
    clearTimeout(killer);
    return performance.now() - t0;
  }
  const ffmpegOf = (needle: string) => pidsMatching(needle).filter((pid) => pidsMatching('ffmpeg').includes(pid));
  const jobFolders = (work: string) =>
    existsSync(work) ? readdirSync(work).filter((n) => /^[0-9a-f-]{36}-\d+$/.test(n)) : [];

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    config = join(TMP, 'b.yml');
    writeFileSync(
      config,
      [
        `listen: 127.0.0.1:${port}`,
        `data: ${DATA}`,
        `token_file: ${ADMIN_FILE}`,
        `registration_token_file: ${REG_FILE}`,
        'lease_s: 3',
        'node_timeout_s: 4',
        '',
      ].join('\n'),
    );
    master = await startMaster();
  });

  afterAll(async () => {
    await stop(master);
  });

  it('an agent given --token-file exits 2 pointing to --registration-token-file', async () => {
    const p = track(
      startFfwatt([
        'agent',
        '--master',
        base,
        '--token-file',
        ADMIN_FILE,
        '--state-dir',
        join(TMP, 'x-state'),
        '--node-id',
        'x',
      ]),
    );
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(
      /--token-file .*admin\.token: agents no longer take the admin token.*--registration-token-file/,
    );
  });

  it('a bad cost label exits 2 naming it before the agent starts; the master refuses one at registration (400)', async () => {
    const p = await agent('w-cost', { extra: ['--label', 'rack=a', 'cost.price_per_kwh=cheap'] });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/--label: cost\.price_per_kwh must be a number >= 0, got "cheap"/);
    const r = await admin('POST', '/nodes/register', {
      id: 'w-cost-api',
      hostname: 'x',
      encoders: { h264: 'libx264' },
      labels: ['cost.carbon=1'],
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/labels: unknown cost label \\"cost\.carbon\\"/);
  });

  it('a rejected registration token exits 2 naming the token file, without retrying', async () => {
    const wrong = join(TMP, 'wrong.token');
    writeFileSync(wrong, randomBytes(24).toString('hex'), { mode: 0o600 });
    const t0 = Date.now();
    const p = await agent('w-wrong', { regFile: wrong });
    expect(await p.exited).toBe(2);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(p.output()).toContain(wrong);
    expect(p.output()).toMatch(/refused this agent's credential \(register: HTTP 401/);
  });

  it('SIGTERM stops an agent within a second while it registers against a master that is down (backing off)', async () => {
    const p = await agent('w-down', { master: `http://127.0.0.1:${await freePort()}` });
    await waitFor('agent backing off', async () => /cannot register with the master yet/.test(p.output()), 60_000, 100);
    expect(await stopTimed(p)).toBeLessThan(1000);
    expect(p.child.exitCode).toBe(0);
  });

  it('the node credential is kept 0600 in the state folder; SIGTERM stops an idle agent within a second', async () => {
    const p = await agent('w-idle');
    const cred = join(dirOf('w-idle'), 'state', 'node-token');
    await waitFor('node credential stored', async () => existsSync(cred), 60_000, 100);
    expect(statSync(cred).mode & 0o777).toBe(0o600);
    expect(statSync(join(dirOf('w-idle'), 'state')).mode & 0o777).toBe(0o700);
    await sleep(1500); // idle polling
    expect(await stopTimed(p), 'first agent, idle').toBeLessThan(1000);
    // Restarted with the credential handed in by systemd (LoadCredential=node-token:… puts it in
    // $CREDENTIALS_DIRECTORY) and no registration token, it re-registers as itself.
    const creds = join(dirOf('w-idle'), 'credentials');
    mkdirSync(creds, { recursive: true });
    const old = readFileSync(cred, 'utf8').trim();
    writeFileSync(join(creds, 'node-token'), old, { mode: 0o600 });
    const state2 = join(dirOf('w-idle'), 'state2');
    const again = track(
      startFfwatt(
        [
          'agent',
          '--master',
          base,
          '--state-dir',
          state2,
          '--node-id',
          'w-idle',
          '--spool',
          join(dirOf('w-idle'), 'spool'),
          '--work',
          join(dirOf('w-idle'), 'work'),
          '--metrics-listen',
          `127.0.0.1:${await freePort()}`,
        ],
        { CREDENTIALS_DIRECTORY: creds },
      ),
    );
    await waitFor(
      're-registered with its own credential',
      async () => /"msg":"registered"/.test(again.output()),
      60_000,
    );
    await waitFor('new credential stored', async () => existsSync(join(state2, 'node-token')), 10_000, 100);
    expect(readFileSync(join(state2, 'node-token'), 'utf8').trim()).not.toBe(old);
    await sleep(1500); // idle polling
    expect(await stopTimed(again), 'restarted agent, idle').toBeLessThan(1000);
    expect(again.output()).not.toMatch(/refused/);
  });

  it('SIGTERM mid-job stops FFmpeg and the agent within a second and leaves no scratch files', async () => {
    const p = await agent('w-busy');
    await registered('w-busy');
    const c = await submit(matrix({ name: 'busy', codec: 'hevc', durationS: 60 }), ['w-busy']);
    const [j] = jobs(c);
    await waitFor('FFmpeg running', async () => ffmpegOf(j.id).length > 0, 60_000, 100);
    expect(await stopTimed(p)).toBeLessThan(1000);
    expect(ffmpegOf(j.id)).toEqual([]);
    expect(jobFolders(join(dirOf('w-busy'), 'work'))).toEqual([]);
    // The lease is left to expire as before: the job goes back to the queue, nothing is stored.
    expect(runCount(j.id)).toBe(0);
  });

  it("a cancelled job's scratch files are removed like any other's", async () => {
    const p = await agent('w-cancel');
    await registered('w-cancel');
    const c = await submit(matrix({ name: 'cancel', codec: 'hevc', durationS: 60 }), ['w-cancel']);
    const [j] = jobs(c);
    await waitFor('FFmpeg running', async () => ffmpegOf(j.id).length > 0, 60_000, 100);
    expect(jobFolders(join(dirOf('w-cancel'), 'work')).length).toBe(1);
    expect((await admin('POST', `/jobs/${j.id}/cancel`)).status).toBe(200);
    await waitFor('canceled run stored', async () => runCount(j.id) === 1, 30_000);
    await waitFor('scratch removed', async () => jobFolders(join(dirOf('w-cancel'), 'work')).length === 0, 10_000, 100);
    await stop(p);
  });

  it('disk full on an agent (small tmpfs): it claims nothing, says why in heartbeat and metrics, and resumes when space is back', async () => {
    const mnt = join(TMP, 'tmpfs');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    try {
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(12 * 2 ** 20));
      const metricsPort = await freePort();
      const p = await agent('w-full', {
        work: join(mnt, 'work'),
        spool: join(mnt, 'spool'),
        extra: ['--min-free-mb', '8', '--metrics-listen', `127.0.0.1:${metricsPort}`],
      });
      await registered('w-full');
      const c = await submit(matrix({ name: 'full', durationS: 1 }), ['w-full']);
      await waitFor(
        'pause reported in the heartbeat',
        async () => {
          const n = (
            await admin<{ nodes: Array<{ id: string; claimsPaused: string | null }> }>('GET', '/nodes')
          ).body.nodes.find((x) => x.id === 'w-full');
          return n?.claimsPaused && /low disk: .*tmpfs\/work has .* MiB free/.test(n.claimsPaused);
        },
        30_000,
      );
      const metrics = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
      expect(metrics).toMatch(/^ffwatt_agent_claims_paused 1$/m);
      await sleep(2000);
      expect(jobs(c)[0]).toMatchObject({ state: 'queued', attempts: 0 });
      rmSync(join(mnt, 'filler'));
      await waitFor('job done once space is back', async () => jobs(c)[0].state === 'succeeded', 60_000, 250);
      expect(jobs(c)[0].attempts).toBe(1);
      expect(runCount(jobs(c)[0].id)).toBe(1);
      await waitFor(
        'pause cleared',
        async () =>
          (await admin<{ nodes: Array<{ id: string; claimsPaused: string | null }> }>('GET', '/nodes')).body.nodes.find(
            (x) => x.id === 'w-full',
          )?.claimsPaused === null,
        10_000,
      );
      await stop(p);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });

  it('three master restarts in a row during a campaign, each outage longer than lease_s and node_timeout_s: no attempt lost, no result lost or stored twice', async () => {
    const ids = ['w-r1', 'w-r2'];
    const ps = await Promise.all(ids.map((id) => agent(id)));
    for (const id of ids) await registered(id);
    const c = await submit(matrix({ name: 'restarts', codec: 'hevc', durationS: 20, reps: 6 }), ids);
    for (let i = 0; i < 3; i++) {
      await waitFor(
        'a job in flight',
        async () => jobs(c).some((j) => j.state === 'running') || jobs(c).every((j) => j.state === 'succeeded'),
        60_000,
        100,
      );
      await stop(master);
      await sleep(5500); // > lease_s 3 and > node_timeout_s 4
      master = await startMaster();
    }
    await waitFor(
      'campaign done',
      async () => (await admin<{ status: string }>('GET', `/campaigns/${c}`)).body.status === 'done',
      180_000,
      500,
    );
    const all = jobs(c);
    expect(all).toHaveLength(6);
    for (const j of all) {
      expect(j).toMatchObject({ state: 'succeeded', attempts: 1 });
      expect(runCount(j.id)).toBe(1);
    }
    const nodes = (await admin<{ nodes: Array<{ id: string; state: string }> }>('GET', '/nodes')).body.nodes;
    for (const id of ids) expect(nodes.find((n) => n.id === id)!.state).toBe('alive');
    await Promise.all(ps.map((p) => stop(p)));
  });
});

// ---------------------------------------------------------------------------------------------
// Master C: a tiny deadline factor, so a slow encode outlives its deadline.
// ---------------------------------------------------------------------------------------------
describe('master C: the agent kills a job past its deadline', () => {
  it('a slow encode is stopped at (warm-up + duration) × factor + margin and stored as failed, naming the deadline', async () => {
    const port = await freePort();
    const data = join(TMP, 'c-data');
    const config = join(TMP, 'c.yml');
    // 120 s of media × 0.05 + 1 s = a 7 s deadline; hevc at preset slow needs far longer here.
    writeFileSync(
      config,
      [
        `listen: 127.0.0.1:${port}`,
        `data: ${data}`,
        `token_file: ${ADMIN_FILE}`,
        `registration_token_file: ${REG_FILE}`,
        'deadline_factor: 0.05',
        'deadline_margin_s: 1',
        '',
      ].join('\n'),
    );
    const base = `http://127.0.0.1:${port}`;
    const master = track(startFfwatt(['master', '--config', config]));
    await waitFor(
      'master C ready',
      async () => {
        const r = await request(`${base}/readyz`);
        await r.body.text();
        return r.statusCode === 200;
      },
      30_000,
    );
    const dir = join(TMP, 'agents', 'w-deadline');
    const agentProc = track(
      startFfwatt([
        'agent',
        '--master',
        base,
        '--registration-token-file',
        REG_FILE,
        '--state-dir',
        join(dir, 'state'),
        '--node-id',
        'w-deadline',
        '--spool',
        join(dir, 'spool'),
        '--work',
        join(dir, 'work'),
        '--metrics-listen',
        `127.0.0.1:${await freePort()}`,
        '--lease-extend-s',
        '1',
        '--poll-s',
        '0.5',
      ]),
    );
    const text = matrix({ name: 'deadline', codec: 'hevc', durationS: 120 }).replace(
      'preset: ultrafast',
      'preset: slow',
    );
    const sub = await api<{ campaignId: string }>(base, 'POST', '/campaigns', {
      token: ADMIN,
      body: { matrix: text, nodeConstraint: ['w-deadline'] },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const dbPath = join(data, 'ffwatt.sqlite');
    const runOf = () =>
      db(
        dbPath,
        (d) =>
          d
            .prepare(
              'SELECT run.status, run.error, run.wall_s wallS FROM run JOIN job ON job.id = run.job_id WHERE job.campaign_id = ?',
            )
            .get(sub.body.campaignId) as { status: string; error: string; wallS: number } | undefined,
      );
    const run = await waitFor('deadline run stored', async () => runOf(), 60_000, 250);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/^job deadline of 7 s exceeded: FFmpeg stopped/);
    expect(run.wallS).toBeLessThan(7 + 5); // killed at the deadline (plus the stop grace), not at the end of the encode
    expect(readdirSync(join(dir, 'work')).filter((n) => /^[0-9a-f-]{36}-\d+$/.test(n))).toEqual([]);
    await stop(agentProc);
    await stop(master);
  });
});

beforeAll(() => {
  pki = makePki(join(TMP, 'pki'));
  writeFileSync(ADMIN_FILE, ADMIN + '\n', { mode: 0o600 });
  writeFileSync(REG_FILE, REG + '\n', { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all(started.map((p) => stop(p, 'SIGKILL')));
  for (const p of started) expect(p.output()).not.toContain(ADMIN);
  rmSync(TMP, { recursive: true, force: true });
});
