// The job loop over a real JobQueue (SQLite) with real FFmpeg encodes: the host lock is held for
// the whole job and free between jobs; a clean baseline is reused within the campaign and reported
// once, a dirty one (real CPU hog) is measured again for the next job and never reported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import type { RunRecord } from '../core/types.ts';
import { openMeters } from '../energy/open.ts';
import { Sampler } from '../energy/sampler.ts';
import { parseMatrix } from '../matrix/load.ts';
import { JobQueue } from '../master/queue.ts';
import { Store } from '../store/store.ts';
import { detectEncoders } from '../media/index.ts';
import { copyPowercapFixture, type PowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { startCpuHogs } from '../test/cpu-hog.ts';
import { hostFacts, nodeRegistration } from './host-facts.ts';
import { HostLock } from './host-lock.ts';
import { InProcessClient } from '../harness/in-process-client.ts';
import { Worker } from './worker.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-worker-'));
let fixture: PowercapFixture;
let sampler: Sampler;
let stopCounters: () => void = () => {};
const cleanups: Array<() => void> = [];

beforeAll(() => {
  fixture = copyPowercapFixture('intel-2socket');
  const { meters } = openMeters({ sysfsRoot: fixture.sysfs, nvmlLibrary: null });
  sampler = new Sampler(meters);
  sampler.start();
  stopCounters = fixture.runLive(() => ({ 'intel-rapl:0': 10, 'intel-rapl:1': 10 }));
});
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
afterAll(() => {
  stopCounters();
  sampler?.stop();
  fixture?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const MATRIX = (name: string) => `name: ${name}
input: {source: testsrc2, resolution: 160x120, fps: 30}
repetitions: {min: 2, max: 2, ci_halfwidth_pct: 50}
cooldown_s: 0.2
idle_baseline_s: 0.3
scenarios:
  - {mode: file, codec: h264, preset: ultrafast, rate: {crf: 35}, streams: 1, warmup_s: 0, duration_s: 0.5}
`;

async function campaign(name: string, maxLoadCores?: number) {
  const encoders = await detectEncoders();
  const store = Store.open(join(dir, `${name}.sqlite`));
  const queue = new JobQueue(store, { leaseMs: 600_000, nodeTimeoutMs: 3600_000 });
  const client = new InProcessClient(queue);
  const host = hostFacts({ sysfsRoot: fixture.sysfs, meters: [{ meter: 'rapl', source: 'rapl', valid: true }] });
  await client.register(nodeRegistration('w1', host, encoders, []));
  const { campaignId } = queue.createCampaign(parseMatrix(MATRIX(name), `${name}.yml`), { nodeConstraint: ['w1'] });
  const lockPath = join(dir, `${name}.lock`);
  const probe = new HostLock({ path: lockPath, nodeId: 'probe', role: 'test' });
  const lockFreeAtPhase: Array<[string, boolean]> = [];
  const idleReports: unknown[] = [];
  const records: RunRecord[] = [];
  const idleSources: string[] = [];
  const worker = new Worker({
    client,
    nodeId: 'w1',
    sampler,
    encoders,
    host,
    workDir: join(dir, name),
    skipQuality: true,
    log: silentLogger,
    hostLock: new HostLock({ path: lockPath, nodeId: 'w1', role: 'test agent' }),
    ...(maxLoadCores === undefined ? {} : { idleMaxLoadCores: maxLoadCores }),
    onEvent: (ev) => {
      if (ev.kind === 'idle' && ev.phase === 'done') idleSources.push(ev.source ?? '');
      if (ev.kind === 'job' || ev.kind === 'idle') {
        const l = probe.tryAcquire();
        lockFreeAtPhase.push([ev.kind === 'job' ? ev.phase : `idle-${ev.phase}`, l !== null]);
        l?.release();
      }
    },
    deliver: async (record, idle) => {
      records.push(record);
      if (idle) idleReports.push(idle);
      // Delivery comes after the job: the machine is free for another measurer by then.
      const l = probe.tryAcquire();
      lockFreeAtPhase.push(['deliver', l !== null]);
      l?.release();
      return client.postResult(record, idle);
    },
  });
  await worker.loop(() => queue.campaignProgress(campaignId)?.status !== 'running', { pollMs: 100 });
  store.close();
  return { records, idleReports, lockFreeAtPhase, idleSources };
}

describe('Worker', () => {
  it('holds the host lock from claim to the end of each job, reuses a clean baseline and reports it once', async () => {
    const { records, idleReports, lockFreeAtPhase, idleSources } = await campaign('clean', 1e6);
    expect(idleSources).toEqual(['rapl']); // measured once, for the first job
    expect(records).toHaveLength(2);
    expect(records.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(records.map((r) => [r.energy!.baseline!.clean, r.energy!.baseline!.reused])).toEqual([
      [true, false],
      [true, true],
    ]);
    expect(records[1].energy!.baseline!.startedAt).toBe(records[0].energy!.baseline!.startedAt);
    expect(idleReports).toHaveLength(1);
    for (const [phase, free] of lockFreeAtPhase) expect(free, phase).toBe(phase === 'deliver');
    expect(lockFreeAtPhase.map(([p]) => p)).toEqual(
      expect.arrayContaining(['cooldown', 'idle-start', 'idle-done', 'measure', 'done', 'deliver']),
    );
  });

  it("measures a dirty baseline again for the next job and never reports it as the node's idle power", async () => {
    const hog = startCpuHogs(1);
    cleanups.push(() => hog.stop());
    const { records, idleReports, idleSources } = await campaign('dirty');
    expect(idleSources).toEqual([
      'rapl; not clean after 3 attempts: no net figure',
      'rapl; not clean after 3 attempts: no net figure',
    ]);
    expect(records).toHaveLength(2);
    for (const r of records) {
      expect(r.energy!.baseline).toMatchObject({ clean: false, reused: false, attempts: 3 });
      expect(r.flags).toContain('idle-baseline-dirty');
      expect(r.energy!.netJ).toBeNull();
    }
    expect(records[1].energy!.baseline!.startedAt > records[0].energy!.baseline!.endedAt).toBe(true);
    expect(idleReports).toEqual([]);
  });

  it('claims nothing while another measurer holds the machine, and stops cleanly while waiting', async () => {
    const encoders = await detectEncoders();
    const store = Store.open(join(dir, 'waiting.sqlite'));
    cleanups.push(() => store.close());
    const queue = new JobQueue(store, { leaseMs: 600_000, nodeTimeoutMs: 3600_000 });
    const client = new InProcessClient(queue);
    const host = hostFacts({ sysfsRoot: fixture.sysfs, meters: [{ meter: 'rapl', source: 'rapl', valid: true }] });
    await client.register(nodeRegistration('w1', host, encoders, []));
    const { campaignId } = queue.createCampaign(parseMatrix(MATRIX('waiting'), 'waiting.yml'), {
      nodeConstraint: ['w1'],
    });
    const lockPath = join(dir, 'waiting.lock');
    const other = new HostLock({ path: lockPath, nodeId: 'other-node', role: 'agent' }).tryAcquire()!;
    cleanups.push(() => other.release());
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
    const worker = new Worker({
      client,
      nodeId: 'w1',
      sampler,
      encoders,
      host,
      workDir: join(dir, 'waiting'),
      skipQuality: true,
      log,
      hostLock: new HostLock({ path: lockPath, nodeId: 'w1', role: 'agent', log }),
    });
    const ctl = new AbortController();
    const pending = worker.runOnce(ctl.signal);
    await new Promise((r) => setTimeout(r, 600));
    expect(store.listJobs({ campaignId }).map((j) => j.state)).toEqual(['queued', 'queued']);
    expect(warnings).toEqual([
      `waiting for the host lock: another measurer is using this machine (pid ${process.pid}, node other-node, agent, since ${other.holder.since})`,
    ]);
    ctl.abort();
    await expect(pending).resolves.toBe('idle');
    expect(store.listJobs({ campaignId }).map((j) => j.state)).toEqual(['queued', 'queued']);
  });
});
