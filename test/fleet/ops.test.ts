// Fleet operations from the CLI against a real master process and a real agent on loopback:
// ffwatt nodes / jobs / campaign list|show|cancel|retry-failed|fetch, run --detach and --dry-run,
// the errors an operator meets (unknown ids, missing or wrong credentials, --master mistakes,
// a second agent on one host), and a cleanly stopped agent leaving `alive` and /metrics.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startFfwatt, stop, runFfwatt, waitFor, type Proc } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-ops-'));
const TOKEN_FILE = join(TMP, 'admin.token');
const WRONG_TOKEN_FILE = join(TMP, 'wrong.token');
const REG_TOKEN_FILE = join(TMP, 'registration.token');
let base = '';
let master: Proc;
let agent: Proc;
let agentMetrics = 0;

// The operator's environment must not leak in: each test names its master and token itself.
const ffwatt = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number) =>
  runFfwatt(args, { FFWATT_MASTER: '', FFWATT_TOKEN_FILE: '', ...env }, timeoutMs);
const creds = () => ['--master', base, '--token-file', TOKEN_FILE];
const json = async <T = any>(args: string[]): Promise<T> => {
  const r = await ffwatt([...args, ...creds(), '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

function matrixFile(name: string, body: string): string {
  const file = join(TMP, `${name}.yml`);
  writeFileSync(
    file,
    `name: ${name}\ninput: {source: testsrc2, resolution: 320x240, fps: 30}\nrepetitions: {min: 1, max: 1}\ncooldown_s: 0\nidle_baseline_s: 0\nscenarios:\n${body}`,
  );
  return file;
}
const TINY = '  - {mode: file, codec: h264, preset: ultrafast, rate: {crf: 30}, duration_s: 1}\n';
const LONG = '  - {mode: file, codec: h264, preset: ultrafast, rate: {crf: 30}, duration_s: 600}\n';
const FAILING =
  '  - {mode: file, codec: h264, preset: ultrafast, rate: {crf: 30}, duration_s: 1, encoder_options: {"profile:v": nosuch}}\n';

function startAgent(id: string, metricsPort: number): Proc {
  return startFfwatt([
    'agent',
    '--master',
    base,
    '--registration-token-file',
    REG_TOKEN_FILE,
    '--node-id',
    id,
    '--state-dir',
    join(TMP, id, 'state'),
    '--spool',
    join(TMP, id, 'spool'),
    '--work',
    join(TMP, id, 'work'),
    '--host-lock',
    join(TMP, id, 'measure.lock'),
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
    '--heartbeat-s',
    '1',
    '--lease-extend-s',
    '1',
    '--poll-s',
    '0.3',
  ]);
}

/** Polls `ffwatt campaign show` (a process per poll: slow on a loaded machine) until the status. */
async function waitForCampaign(id: string, status: string): Promise<any> {
  let last = '';
  try {
    return await waitFor(
      `campaign ${id} ${status}`,
      async () => {
        const r = await ffwatt(['campaign', 'show', id, ...creds(), '--json']);
        const c = r.code === 0 ? JSON.parse(r.stdout) : null;
        last = c ? `${c.status} ${JSON.stringify(c.counts)}` : r.stderr;
        return c?.status === status ? c : null;
      },
      180_000,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${last}; agent log tail: ${agent.output().slice(-1500)}`);
  }
}

beforeAll(async () => {
  writeFileSync(TOKEN_FILE, randomBytes(24).toString('hex'));
  writeFileSync(WRONG_TOKEN_FILE, randomBytes(24).toString('hex'));
  writeFileSync(REG_TOKEN_FILE, randomBytes(24).toString('hex'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  master = startFfwatt([
    'master',
    '--listen',
    `127.0.0.1:${port}`,
    '--data',
    join(TMP, 'data'),
    '--token-file',
    TOKEN_FILE,
    '--registration-token-file',
    REG_TOKEN_FILE,
  ]);
  await waitFor(
    'master /readyz',
    async () => {
      if (master.child.exitCode !== null) throw new Error(master.output());
      const r = await request(`${base}/readyz`);
      await r.body.text();
      return r.statusCode === 200;
    },
    30_000,
  );
  agentMetrics = await freePort();
  agent = startAgent('ops-a1', agentMetrics);
  await waitFor('agent registered', async () => /"registered"/.test(agent.output()), 60_000);
}, 120_000);

afterAll(async () => {
  await stop(agent);
  await stop(master);
  rmSync(TMP, { recursive: true, force: true });
});

describe('fleet operations from the CLI (real master and agent)', () => {
  it('refuses missing or wrong credentials and --master mistakes with exit 2 and the fix', async () => {
    const noToken = await ffwatt(['nodes', '--master', base]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/no credentials for the master: pass --token-file FILE .* or set FFWATT_TOKEN_FILE/);
    const wrong = await ffwatt(['nodes', '--master', base, '--token-file', WRONG_TOKEN_FILE]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/refused the token in --token-file .*wrong\.token \(HTTP 401\)/);
    const noMaster = await ffwatt(['jobs', '--token-file', TOKEN_FILE]);
    expect(noMaster.code).toBe(2);
    expect(noMaster.stderr).toMatch(/--master is missing/);

    const closed = await freePort();
    const refused = await ffwatt(['nodes', '--master', `http://127.0.0.1:${closed}`, '--token-file', TOKEN_FILE]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`nothing listens at --master http://127.0.0.1:${closed} \\(connection refused`),
    );
    const tlsToPlain = await ffwatt(['nodes', '--master', base.replace('http:', 'https:'), '--token-file', TOKEN_FILE]);
    expect(tlsToPlain.code).toBe(2);
    expect(tlsToPlain.stderr).toMatch(/speaks plain HTTP, not TLS: write http:\/\//);
    const invalid = await ffwatt(['campaign', 'list', '--master', '127.0.0.1:8443', '--token-file', TOKEN_FILE]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/--master "127.0.0.1:8443" is not a URL: write it with the scheme, e.g. https:\/\//);
    const noScheme = await ffwatt(['campaign', 'list', '--master', 'master.example:8443', '--token-file', TOKEN_FILE]);
    expect(noScheme.code).toBe(2);
    expect(noScheme.stderr).toMatch(/--master "master.example:8443" must start with http:\/\/ or https:\/\//);
    const unknownCommand = await ffwatt(['nodez']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command 'nodez'/);
  }, 120_000);

  it('a second agent on the same metrics address stops with exit 2 naming --metrics-listen', async () => {
    const second = startAgent('ops-a2', agentMetrics);
    expect(await second.exited).toBe(2);
    expect(second.output()).toMatch(
      new RegExp(
        `--metrics-listen 127.0.0.1:${agentMetrics}: the address is in use .* give this one its own, e.g. --metrics-listen 127.0.0.1:${agentMetrics + 2}`,
      ),
    );
  }, 60_000);

  it('lists nodes with their hardware class; dry-run plans per class; run --detach prints the id; jobs and fetch work', async () => {
    const { nodes } = await json<{
      nodes: Array<{ id: string; state: string; hardwareClass: string; hardware: Record<string, unknown> }>;
    }>(['nodes']);
    const node = nodes.find((n) => n.id === 'ops-a1')!;
    expect(node.state).toBe('alive');
    expect(node.hardwareClass).toMatch(/^[a-z0-9-]+-[0-9a-f]{8}$/);
    expect(node.hardware).toHaveProperty('ffmpegBuildconfHash');
    const table = await ffwatt(['nodes', ...creds()]);
    expect(table.stdout).toMatch(/^NODE\s+HOSTNAME\s+STATE\s+HARDWARE CLASS/);
    expect(table.stdout).toContain(node.hardwareClass);

    const tiny = matrixFile('ops-tiny', TINY);
    const plan = await ffwatt(['run', tiny, ...creds(), '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('placement: each-class (default)');
    expect(plan.stdout).toContain(`class:${node.hardwareClass}: 1 cells, 1 jobs on ops-a1`);
    expect(plan.stdout).toMatch(/estimated duration: /);

    const detached = await ffwatt(['run', tiny, ...creds(), '--detach']);
    expect(detached.code, detached.stderr).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const done = await waitForCampaign(id, 'done');
    expect(done.placement).toBe('each-class');
    expect(done.counts).toMatchObject({ succeeded: 1, failed: 0, canceled: 0 });
    expect(done.targets).toEqual({
      [`class:${node.hardwareClass}`]: { queued: 0, leased: 0, running: 0, succeeded: 1, failed: 0, canceled: 0 },
    });
    const shown = await ffwatt(['campaign', 'show', id, ...creds()]);
    expect(shown.stdout).toMatch(
      new RegExp(
        `TARGET\\s+STATE\\s+SUCCEEDED\\s+FAILED\\s+CANCELED\\s+OPEN\\nclass:${node.hardwareClass}\\s+done\\s+1\\s+0\\s+0\\s+0`,
      ),
    );

    const { jobs } = await json<{ jobs: Array<{ campaignId: string; placementTarget: string; state: string }> }>([
      'jobs',
      '--campaign',
      id,
    ]);
    expect(jobs).toEqual([
      expect.objectContaining({
        campaignId: id,
        placementTarget: `class:${node.hardwareClass}`,
        state: 'succeeded',
        lastNode: 'ops-a1',
      }),
    ]);
    const listed = await json<{ campaigns: Array<{ id: string }> }>(['campaign', 'list']);
    expect(listed.campaigns.map((c) => c.id)).toContain(id);

    const out = join(TMP, 'fetched');
    const fetched = await ffwatt(['campaign', 'fetch', id, ...creds(), '--out', out]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toContain(`report it offline: ffwatt report ${join(out, 'ffwatt.sqlite')} --campaign ${id}`);
    const db = new Database(join(out, 'ffwatt.sqlite'), { readonly: true });
    const run = db.prepare('SELECT node_id, provenance FROM run WHERE campaign_id = ?').get(id) as {
      node_id: string;
      provenance: string;
    };
    const stored = db.prepare('SELECT hardware_class FROM node WHERE id = ?').get('ops-a1') as {
      hardware_class: string;
    };
    db.close();
    expect(run.node_id).toBe('ops-a1');
    expect(JSON.parse(run.provenance).hardwareClass).toBe(node.hardwareClass);
    expect(stored.hardware_class).toBe(node.hardwareClass);
    const report = await ffwatt([
      'report',
      join(out, 'ffwatt.sqlite'),
      '--campaign',
      id,
      '--format',
      'md',
      '--out',
      join(TMP, 'report'),
    ]);
    expect(report.code, report.stderr).toBe(0);
  }, 240_000);

  it('names unknown campaign ids and bad states with exit 2', async () => {
    for (const args of [
      ['campaign', 'show', 'no-such-campaign'],
      ['campaign', 'cancel', 'no-such-campaign'],
      ['campaign', 'fetch', 'no-such-campaign'],
      ['jobs', '--campaign', 'no-such-campaign'],
    ]) {
      const r = await ffwatt([...args, ...creds()]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/unknown campaign no-such-campaign/);
    }
    const badState = await ffwatt(['jobs', '--state', 'done', ...creds()]);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toMatch(
      /--state done: not a job state; use one of queued, leased, running, succeeded, failed, canceled/,
    );
    const noId = await ffwatt(['campaign', 'show', ...creds()]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/needs a campaign id/);
  }, 120_000);

  it('retry-failed queues failed jobs again; cancel stops a running campaign, counted as canceled (not failed), logged by the master', async () => {
    const failing = (await ffwatt(['run', matrixFile('ops-failing', FAILING), ...creds(), '--detach'])).stdout.trim();
    await waitForCampaign(failing, 'done');
    const retried = await ffwatt(['campaign', 'retry-failed', failing, ...creds()]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(`campaign ${failing}: 1 failed jobs queued again\n`);
    const again = await waitForCampaign(failing, 'done');
    expect(again.counts).toMatchObject({ failed: 1, succeeded: 0 });

    const long = (await ffwatt(['run', matrixFile('ops-long', LONG), ...creds(), '--detach'])).stdout.trim();
    await waitFor(
      'long job running',
      async () =>
        (await json<{ jobs: Array<{ state: string }> }>(['jobs', '--campaign', long])).jobs[0]?.state === 'running',
      60_000,
      500,
    );
    const canceled = await ffwatt(['campaign', 'cancel', long, ...creds()]);
    expect(canceled.code, canceled.stderr).toBe(0);
    expect(canceled.stdout).toBe(`campaign ${long} canceled: 1 queued or running jobs canceled\n`);
    await waitFor(
      'canceled run reported',
      async () => {
        const c = await json<{
          counts: Record<string, number>;
          nodes: Record<string, { failed: number; canceled: number }>;
        }>(['campaign', 'show', long]);
        return c.nodes['ops-a1']?.canceled === 1 ? c : null;
      },
      60_000,
      500,
    ).then((c) => {
      expect(c.counts).toMatchObject({ canceled: 1, failed: 0 });
      expect(c.nodes['ops-a1'].failed).toBe(0);
    });
    const show = await ffwatt(['campaign', 'show', long, ...creds()]);
    expect(show.stdout).toMatch(/status:\s+canceled/);
    expect(master.output()).toMatch(new RegExp(`"campaign":"${long}".*"msg":"campaign canceled"`));
    expect(agent.output()).toMatch(/"msg":"job claimed"/);
    expect(agent.output()).toMatch(/"msg":"job finished".*"status":"succeeded"/);
  }, 300_000);

  it('a cleanly stopped agent leaves alive at once and leaves /metrics', async () => {
    const metricsBefore = await (await request(`${base}/metrics`)).body.text();
    expect(metricsBefore).toMatch(/node="ops-a1"/);
    await stop(agent);
    expect(agent.output()).toMatch(/"msg":"master told: node stopped"/);
    const { nodes } = await json<{ nodes: Array<{ id: string; state: string }> }>(['nodes']);
    expect(nodes.find((n) => n.id === 'ops-a1')!.state).toBe('dead'); // the master's node timeout is 90 s: this is the stop notice
    // /metrics is a cached text refreshed every metrics_interval_s (15 s by default): the node leaves it at the next refresh.
    let metricsAfter = '';
    await waitFor(
      'the stopped node to leave /metrics',
      async () => {
        metricsAfter = await (await request(`${base}/metrics`)).body.text();
        return !/node="ops-a1"/.test(metricsAfter);
      },
      25_000,
    );
    expect(metricsAfter).toMatch(/ffwatt_nodes\{state="dead"\} 1/);
  }, 60_000);
});
