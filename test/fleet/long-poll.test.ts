// Long-poll claims (issue 17, docs/api.md): a real master process on loopback, hand-driven nodes
// and one real agent. A held claim is woken by the job appearing (not by a timer), the wait is
// bounded, short claims of older agents keep working, a stopping master answers held claims, and
// the agent uses the long poll by default and still stops within a second.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, freePort, handRecord, startFfwatt, stop, waitFor, type Proc } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-longpoll-'));
const ADMIN = randomBytes(24).toString('hex');
const ADMIN_FILE = join(TMP, 'admin.token');
const started: Proc[] = [];

const matrix = (name: string, durationS = 1) => `name: ${name}
placement: any
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - {codec: h264, preset: ultrafast, rate: {crf: 30}, warmup_s: 0, duration_s: ${durationS}}
`;

let base = '';
let master: Proc;
const tokens = new Map<string, string>();
const admin = <T = any>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
  api<T>(base, method, path, { token: ADMIN, body });
const as = <T = any>(node: string, path: string, body?: unknown) =>
  api<T>(base, 'POST', path, { token: tokens.get(node), body });

async function register(id: string): Promise<void> {
  const r = await admin<{ token: string }>('POST', '/nodes/register', {
    id,
    hostname: id,
    encoders: { h264: 'libx264' },
    labels: [],
  });
  expect(r.status).toBe(201);
  tokens.set(id, r.body.token);
}

async function startMaster(dataDir: string): Promise<{ proc: Proc; base: string }> {
  const port = await freePort();
  const proc = startFfwatt(['master', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--token-file', ADMIN_FILE]);
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'master up',
    async () => {
      const r = await request(`${url}/healthz`);
      await r.body.text();
      return r.statusCode === 200;
    },
    60_000,
    100,
  );
  return { proc, base: url };
}

/** Time from `t0` to the answer of `p`, with the answer. */
async function timed<T>(p: Promise<T>, t0 = performance.now()): Promise<{ ms: number; value: T }> {
  const value = await p;
  return { ms: performance.now() - t0, value };
}

beforeAll(async () => {
  writeFileSync(ADMIN_FILE, ADMIN, { mode: 0o600 });
  ({ proc: master, base } = await startMaster(join(TMP, 'data')));
  for (const id of ['n1', 'n2', 'n3']) await register(id);
}, 90_000);

afterAll(async () => {
  for (const p of started) await stop(p);
  rmSync(TMP, { recursive: true, force: true });
});

describe('long-poll claims against a real master', () => {
  it('a held claim is answered as soon as a job is queued, not when its wait ends', async () => {
    const held = timed(as<any>('n1', '/jobs/claim?wait_s=20', { nodeId: 'n1' }));
    await sleep(500); // the claim is held by now
    const submitted = await admin<{ jobs: number }>('POST', '/campaigns', {
      matrix: matrix('wake'),
      fileName: 'wake.yml',
    });
    expect(submitted.status).toBe(201);
    const tQueued = performance.now();
    const { value: claim } = await held;
    const wakeMs = performance.now() - tQueued;
    expect(claim.status).toBe(200);
    expect(claim.body.leaseId).toEqual(expect.any(String));
    // Woken by the insert (the reaper's one-second tick is not what answered it); ~100 ms on a quiet box.
    expect(wakeMs).toBeLessThan(500);
    process.stderr.write(`long-poll wake: claim answered ${wakeMs.toFixed(1)} ms after the campaign was queued\n`);
    // Closed, so the next tests start from an empty queue.
    const r = await as('n1', `/jobs/${claim.body.id}/result`, {
      record: handRecord(claim.body.id, claim.body.attempts, 'n1'),
      idle: null,
      leaseId: claim.body.leaseId,
    });
    expect(r.status).toBe(201);
  });

  it('a job released by a stopping node wakes the next held claim', async () => {
    await admin('POST', '/campaigns', { matrix: matrix('requeue'), fileName: 'requeue.yml' });
    const first = await as<any>('n1', '/jobs/claim', { nodeId: 'n1' });
    expect(first.status).toBe(200);
    const held = timed(as<any>('n2', '/jobs/claim?wait_s=20', { nodeId: 'n2' }));
    await sleep(500);
    const stopped = await as<{ requeued: string[] }>('n1', '/nodes/n1/stop', {});
    expect(stopped.body.requeued).toEqual([first.body.id]);
    const tRequeued = performance.now();
    const { value: claim } = await held;
    expect(performance.now() - tRequeued).toBeLessThan(500);
    expect(claim.status).toBe(200);
    expect(claim.body.id).toBe(first.body.id);
    expect(claim.body.attempts).toBe(first.body.attempts + 1);
    expect(claim.body.leaseId).not.toBe(first.body.leaseId);
    // The released lease is fenced off: n1's result under its old lease is stale.
    await register('n1'); // n1 stopped (dead): it registers again, as the agent does when it starts
    const stale = await as<any>('n1', `/jobs/${first.body.id}/result`, {
      record: handRecord(first.body.id, first.body.attempts, 'n1'),
      idle: null,
      leaseId: first.body.leaseId,
    });
    expect(stale.status).toBe(409);
    const ok = await as('n2', `/jobs/${claim.body.id}/result`, {
      record: handRecord(claim.body.id, claim.body.attempts, 'n2'),
      idle: null,
      leaseId: claim.body.leaseId,
    });
    expect(ok.status).toBe(201);
  });

  it('the wait is bounded: 204 when it ends, 400 past the maximum or malformed', async () => {
    const { ms, value } = await timed(as('n3', '/jobs/claim?wait_s=1', { nodeId: 'n3' }));
    expect(value.status).toBe(204);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5000);
    for (const bad of ['61', '-1', 'soon']) {
      const r = await as<any>('n3', `/jobs/claim?wait_s=${bad}`, { nodeId: 'n3' });
      expect(r.status, `wait_s=${bad}`).toBe(400);
      expect(r.body.field).toBe('wait_s');
      expect(r.body.error).toMatch(/from 0 to 60/);
    }
  });

  it('the short claim of older agents still answers at once (204 empty, 200 with a job)', async () => {
    const empty = await timed(as('n3', '/jobs/claim', { nodeId: 'n3' }));
    expect(empty.value.status).toBe(204);
    expect(empty.ms).toBeLessThan(900);
    await admin('POST', '/campaigns', { matrix: matrix('short'), fileName: 'short.yml' });
    const got = await as<any>('n3', '/jobs/claim', { nodeId: 'n3' });
    expect(got.status).toBe(200);
    const r = await as('n3', `/jobs/${got.body.id}/result`, {
      record: handRecord(got.body.id, got.body.attempts, 'n3'),
      idle: null,
      leaseId: got.body.leaseId,
    });
    expect(r.status).toBe(201);
  });
});

describe('the agent long-polls by default', () => {
  it('an idle agent (--poll-s 30) takes a new job within seconds, and SIGTERM during its held claim stops it within a second', async () => {
    const dir = join(TMP, 'agent');
    const agent = startFfwatt([
      'agent',
      '--master',
      base,
      '--registration-token-file',
      ADMIN_FILE,
      '--state-dir',
      join(dir, 'state'),
      '--node-id',
      'lp-agent',
      '--spool',
      join(dir, 'spool'),
      '--work',
      join(dir, 'work'),
      '--metrics-listen',
      `127.0.0.1:${await freePort()}`,
      '--host-lock',
      join(dir, 'host.lock'),
      '--poll-s',
      '30',
      '--heartbeat-s',
      '1',
      '--lease-extend-s',
      '1',
    ]);
    started.push(agent);
    await waitFor('agent registered', async () => /"msg":"registered"/.test(agent.output()), 60_000);
    await sleep(1500); // its first claim found nothing: now it is held by the master, or sleeping 30 s if it polled
    const submitted = await admin<{ campaignId: string }>('POST', '/campaigns', {
      matrix: matrix('agent'),
      fileName: 'agent.yml',
    });
    const t0 = performance.now();
    await waitFor('job claimed by the agent', async () => /"msg":"job claimed"/.test(agent.output()), 10_000, 50);
    expect(performance.now() - t0).toBeLessThan(5000);
    await waitFor(
      'job done',
      async () => (await admin<any>('GET', `/campaigns/${submitted.body.campaignId}`)).body.status === 'done',
      120_000,
      250,
    );
    await sleep(1000); // back in a held claim
    const tStop = performance.now();
    await stop(agent);
    expect(performance.now() - tStop).toBeLessThan(1000);
    expect(agent.child.exitCode).toBe(0);
  }, 180_000);
});

describe('a stopping master', () => {
  it('answers its held claims 204 at once and exits', async () => {
    const held = timed(as('n3', '/jobs/claim?wait_s=30', { nodeId: 'n3' }));
    await sleep(500);
    const tStop = performance.now();
    master.child.kill('SIGTERM');
    const { value } = await held;
    expect(value.status).toBe(204);
    expect(performance.now() - tStop).toBeLessThan(3000);
    expect(await master.exited).toBe(0);
  });
});
