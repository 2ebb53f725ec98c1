// One measurer per machine, with real processes: a master on loopback, two `ffwatt agent`
// processes and one local `ffwatt run` on this one host, all sharing one measuring lock (as
// they would share /run/lock/ffwatt-measure.lock). Each job holds the lock from its claim to its
// end (cooldown, idle baseline, encode, quality), so no two measured spans may overlap.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, FFWATT, freePort, REPO, startFfwatt, stop, waitFor, type Proc } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-hostlock-'));
const TOKEN = randomBytes(24).toString('hex');
const TOKEN_FILE = join(TMP, 'admin.token');
const REG_TOKEN_FILE = join(TMP, 'registration.token');
const DATA = join(TMP, 'master-data');
const LOCK = join(TMP, 'measure.lock');
const NODES = ['hl-a', 'hl-b'];

let base = '';
let master: Proc;
const agents = new Map<string, Proc>();

const MATRIX = (name: string, reps: number) => `name: ${name}
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: ${reps}, max: ${reps}, ci_halfwidth_pct: 50}
cooldown_s: 0.5
idle_baseline_s: 0.5
scenarios:
  - mode: file
    codec: h264
    preset: ultrafast
    rate: {crf: 30}
    streams: 1
    warmup_s: 0.5
    duration_s: 2
`;

function startAgent(id: string): Proc {
  const dir = join(TMP, id);
  return startFfwatt([
    'agent',
    '--master',
    base,
    '--registration-token-file',
    REG_TOKEN_FILE,
    '--state-dir',
    join(dir, 'state'),
    '--node-id',
    id,
    '--spool',
    join(dir, 'spool'),
    '--work',
    join(dir, 'work'),
    '--metrics-listen',
    `127.0.0.1:0`,
    '--heartbeat-s',
    '1',
    '--lease-extend-s',
    '1',
    '--poll-s',
    '0.3',
    '--host-lock',
    LOCK,
  ]);
}

interface Span {
  who: string;
  jobId: string;
  start: number;
  end: number;
  baseline: { startedAt: string; endedAt: string; reused: boolean; clean: boolean } | null;
  flags: string[];
  netJ: number | null;
}

function spansOf(dbPath: string, who: (nodeId: string) => string): Span[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT job_id, node_id, status, started_at, ended_at, energy, flags, net_j FROM run ORDER BY id')
      .all() as Array<Record<string, any>>;
    return rows.map((r) => {
      expect(r.status, `run of ${r.job_id}`).toBe('succeeded');
      const energy = JSON.parse(r.energy);
      return {
        who: who(r.node_id),
        jobId: r.job_id,
        start: Date.parse(r.started_at),
        end: Date.parse(r.ended_at),
        baseline: energy.baseline,
        flags: JSON.parse(r.flags),
        netJ: r.net_j,
      };
    });
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  writeFileSync(TOKEN_FILE, TOKEN + '\n', { mode: 0o600 });
  writeFileSync(REG_TOKEN_FILE, randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  master = startFfwatt([
    'master',
    '--listen',
    `127.0.0.1:${port}`,
    '--data',
    DATA,
    '--token-file',
    TOKEN_FILE,
    '--registration-token-file',
    REG_TOKEN_FILE,
  ]);
  await waitFor(
    'master /readyz',
    async () => {
      if (master.child.exitCode !== null) throw new Error(`master exited ${master.child.exitCode}: ${master.output()}`);
      const r = await fetch(`${base}/readyz`);
      return r.status === 200;
    },
    30_000,
  );
  for (const id of NODES) agents.set(id, startAgent(id));
  await waitFor(
    'two agents registered',
    async () => {
      const r = await api<{ nodes: Array<{ id: string; state: string }> }>(base, 'GET', '/nodes', { token: TOKEN });
      return NODES.every((id) => r.body.nodes.some((n) => n.id === id && n.state === 'alive'));
    },
    60_000,
  );
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => stop(a)));
  if (master) await stop(master);
  rmSync(TMP, { recursive: true, force: true });
});

describe('host lock: two agents and a local run on one machine', () => {
  it('never measure at the same time; the one waiting says who holds the machine', async () => {
    const r = await api<{ campaignId: string; jobs: number }>(base, 'POST', '/campaigns', {
      token: TOKEN,
      body: { matrix: MATRIX('hostlock', 6), fileName: 'hl.yml' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { campaignId } = r.body;

    // A local run on the same machine, started while the agents work, shares the lock through FFWATT_HOST_LOCK.
    const matrixFile = join(TMP, 'local.yml');
    writeFileSync(matrixFile, MATRIX('hostlock-local', 2));
    const localOut = join(TMP, 'local');
    const local = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [FFWATT, 'run', matrixFile, '--out', localOut, '--json', '--no-report'], {
        cwd: REPO,
        env: { ...process.env, FFWATT_HOST_LOCK: LOCK },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(local.code, local.stderr).toBe(0);

    await waitFor(
      'campaign finished',
      async () => {
        const c = await api<{ status: string }>(base, 'GET', `/campaigns/${campaignId}`, { token: TOKEN });
        return c.body.status === 'done';
      },
      240_000,
      500,
    );

    const spans = [
      ...spansOf(join(DATA, 'ffwatt.sqlite'), (n) => n),
      ...spansOf(join(localOut, 'ffwatt.sqlite'), () => 'local'),
    ].sort((a, b) => a.start - b.start);
    expect(spans.filter((s) => s.who !== 'local')).toHaveLength(6);
    expect(spans.filter((s) => s.who === 'local')).toHaveLength(2);
    // All three measurers got the machine at some point...
    expect(new Set(spans.map((s) => s.who))).toEqual(new Set([...NODES, 'local']));
    // ...and never two at once: each span (claim → cooldown → baseline → encode → quality) ends before the next begins.
    for (let i = 1; i < spans.length; i++) {
      expect(
        spans[i].start,
        `${spans[i].who} ${spans[i].jobId} started before ${spans[i - 1].who} ${spans[i - 1].jobId} ended`,
      ).toBeGreaterThanOrEqual(spans[i - 1].end);
    }
    // Every baseline measured for a run lies inside that run's own span (after its cooldown).
    for (const s of spans) {
      expect(s.baseline, `${s.jobId} has a baseline record`).not.toBeNull();
      if (s.baseline!.reused) continue;
      expect(Date.parse(s.baseline!.startedAt)).toBeGreaterThanOrEqual(s.start + 500);
      expect(Date.parse(s.baseline!.endedAt)).toBeLessThanOrEqual(s.end);
      // A dirty baseline leaves no net figure, and says so.
      if (!s.baseline!.clean) {
        expect(s.flags).toContain('idle-baseline-dirty');
        expect(s.netJ).toBeNull();
      }
    }

    // The agent that waited logged who held the machine: the other agent's (or the local run's) pid and node.
    const waits = NODES.flatMap((id) =>
      agents
        .get(id)!
        .output()
        .split('\n')
        .filter((l) => l.includes('waiting for the host lock'))
        .map((l) => ({ id, line: JSON.parse(l) })),
    );
    expect(waits.length).toBeGreaterThan(0);
    const pids = new Map(NODES.map((id) => [id, agents.get(id)!.child.pid]));
    for (const { id, line } of waits) {
      expect(line.holderNode).not.toBe(id);
      if (NODES.includes(line.holderNode)) expect(line.holderPid).toBe(pids.get(line.holderNode));
      else expect(line.holderNode).toMatch(/^local-/);
      expect(line.msg).toContain(`pid ${line.holderPid}, node ${line.holderNode}`);
      expect(Date.parse(line.holderSince)).toBeGreaterThan(0);
    }
  });

  it('a local run that finds the machine taken past its wait bound refuses, naming the holder (exit 1)', async () => {
    const lock = join(TMP, 'held.lock');
    // Another measurer holding the machine: util-linux flock(1) takes the same kernel lock.
    const holder = spawn('flock', ['-x', lock, 'sleep', '120'], { stdio: 'ignore' });
    try {
      await waitFor(
        'flock(1) holding the lock',
        async () => (await import('node:fs')).readFileSync('/proc/locks', 'utf8').includes(` ${holder.pid} `),
        10_000,
        50,
      );
      const matrixFile = join(TMP, 'refused.yml');
      writeFileSync(matrixFile, MATRIX('hostlock-refused', 1));
      const started = Date.now();
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [FFWATT, 'run', matrixFile, '--out', join(TMP, 'refused'), '--json', '--no-report'],
          {
            cwd: REPO,
            env: { ...process.env, FFWATT_HOST_LOCK: lock, FFWATT_HOST_LOCK_WAIT_S: '2' },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`another measurer holds this machine (pid ${holder.pid}, node unknown`);
      expect(run.stderr).toMatch(/waiting for the host lock: another measurer is using this machine/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      // Nothing was measured or stored as a run.
      const db = new Database(join(TMP, 'refused', 'ffwatt.sqlite'), { readonly: true });
      try {
        expect((db.prepare('SELECT COUNT(*) n FROM run').get() as { n: number }).n).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
