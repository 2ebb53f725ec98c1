// Placement per campaign against a real SQLite store: every cell on every hardware class or
// node, claims kept to their target, and the repetition policy counted per (cell, target).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../core/types.ts';
import { InputError } from '../core/errors.ts';
import { JobQueue } from './queue.ts';
import { testPlan, testRecord, testScenario } from './test-scenario.ts';
import { Store } from '../store/store.ts';

const scenario = (key: string, codec?: Scenario['codec'], mode?: Scenario['mode']) => testScenario(key, codec, mode, 0);

const plan = testPlan;
const record = testRecord;

const EPYC = 'amd-epyc-7r13-1s2c-24g-3b0c6f1e';
const XEON = 'intel-xeon-gold-6338-2s64c-252g-nvidia-a10x2-9f2e11aa';

describe('placement (real SQLite)', () => {
  let dir: string;
  let store: Store;
  let queue: JobQueue;
  const register = (
    id: string,
    hardwareClass: string,
    encoders: Record<string, string> = { h264: 'libx264', hevc: 'libx265' },
  ) => queue.registerNode({ id, hostname: id, hardware: {}, encoders, meters: [], labels: [], hardwareClass });
  /** Claims and finishes every job the node can get, with the given J/encoded min per result. */
  const drain = (nodeId: string, value: (i: number) => number) => {
    const ran: string[] = [];
    for (let i = 0; ; i++) {
      const job = queue.claim(nodeId);
      if (!job) return ran;
      expect(queue.submitResult(record(job.id, job.attempts, nodeId, value(i)), null, job.leaseId!)).toEqual({
        kind: 'stored',
      });
      ran.push(job.placementTarget ?? 'any');
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ffwatt-placement-'));
    store = Store.open(join(dir, 'r.sqlite'));
    queue = new JobQueue(store, { leaseMs: 60_000, maxAttempts: 2, nodeTimeoutMs: 60_000 });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each-class: every cell on every class; claims stay in their class; repetitions and CI per (cell, class); done when each class is', () => {
    register('epyc-1', EPYC);
    register('epyc-2', EPYC);
    register('xeon-1', XEON);
    const c = queue.createCampaign(plan([scenario('a'), scenario('b')]), { placement: 'each-class' });
    expect(c.targets).toEqual([`class:${EPYC}`, `class:${XEON}`]);
    expect(c.jobs).toBe(2 * 2 * 2); // cells × repetitions.min × classes
    expect(store.getCampaign(c.campaignId)!.placement).toBe('each-class');

    // The Xeon class gives steady figures: its CI target is met after min repetitions.
    expect(drain('xeon-1', () => 100)).toEqual(Array(4).fill(`class:${XEON}`));
    expect(queue.campaignProgress(c.campaignId)!.status).toBe('running'); // the EPYC class is not done yet
    // The EPYC class is noisy: it repeats up to max on its own, without touching the Xeon's cells.
    const epyc = [...drain('epyc-1', (i) => (i % 2 ? 50 : 400)), ...drain('epyc-2', (i) => (i % 2 ? 50 : 400))];
    expect(new Set(epyc)).toEqual(new Set([`class:${EPYC}`]));
    const perTarget = store.db
      .prepare(
        'SELECT placement_target t, scenario_id s, COUNT(*) n, COUNT(DISTINCT repetition) r FROM job WHERE campaign_id = ? GROUP BY t, s ORDER BY t, s',
      )
      .all(c.campaignId) as Array<{ t: string; n: number; r: number }>;
    expect(perTarget.map((r) => [r.t, r.n])).toEqual([
      [`class:${EPYC}`, 4],
      [`class:${EPYC}`, 4],
      [`class:${XEON}`, 2],
      [`class:${XEON}`, 2],
    ]);
    expect(queue.campaignProgress(c.campaignId)!.status).toBe('done');
  });

  it('each-node: every cell on every selected node, in the node constraint only', () => {
    register('n1', EPYC);
    register('n2', EPYC);
    register('n3', XEON);
    const c = queue.createCampaign(plan([scenario('a')], { repetitions: { min: 1, max: 1, ciHalfwidthPct: 5 } }), {
      placement: 'each-node',
      nodeConstraint: ['n1', 'n2'],
    });
    expect(c.targets).toEqual(['node:n1', 'node:n2']);
    expect(queue.claim('n3')).toBeNull();
    expect(drain('n1', () => 1)).toEqual(['node:n1']);
    expect(drain('n2', () => 1)).toEqual(['node:n2']);
    expect(queue.campaignProgress(c.campaignId)!.status).toBe('done');
  });

  it('leaves out a cell on a class without its encoder, and says so', () => {
    register('cpu', EPYC, { h264: 'libx264' });
    register('gpu', XEON, { h264: 'libx264', hevc: 'libx265' });
    const c = queue.createCampaign(plan([scenario('a'), scenario('h', 'hevc')]), { placement: 'each-class' });
    expect(c.skipped).toEqual([{ scenario: 'file hevc/ultrafast h', target: `class:${EPYC}` }]);
    expect(c.jobs).toBe(2 * 3);
  });

  it('refuses each-class without a live node, writing nothing', () => {
    expect(() => queue.createCampaign(plan([scenario('a')]), { placement: 'each-class' })).toThrow(InputError);
    expect(() => queue.createCampaign(plan([scenario('a')]), { placement: 'each-class' })).toThrow(
      /start the agents first/,
    );
    expect(store.listCampaigns()).toEqual([]);
  });

  it('any (the default here) puts every job on any node, as before', () => {
    register('n1', EPYC);
    const c = queue.createCampaign(plan([scenario('a')]));
    expect(c).toMatchObject({ placement: 'any', targets: [], jobs: 2 });
    expect(drain('n1', () => 100)).toEqual(['any', 'any']);
  });

  it('live cells go to the live class; the matrix queue and priority apply; submit options override them', () => {
    register('n1', EPYC);
    const cells = [scenario('f'), scenario('l', 'h264', 'live')];
    const classes = (id: string) =>
      store
        .listJobs({ campaignId: id })
        .map((j) => `${j.scenario.mode}:${j.queueClass}:${j.priority}`)
        .sort();
    const a = queue.createCampaign(plan(cells));
    expect(new Set(classes(a.campaignId))).toEqual(new Set(['file:default:0', 'live:live:0']));
    const b = queue.createCampaign(plan(cells, { queueClass: 'batch', priority: 7 }));
    expect(new Set(classes(b.campaignId))).toEqual(new Set(['file:batch:7', 'live:batch:7']));
    const d = queue.createCampaign(plan(cells, { queueClass: 'batch', priority: 7 }), {
      queueClass: 'default',
      priority: -1,
    });
    expect(new Set(classes(d.campaignId))).toEqual(new Set(['file:default:-1', 'live:default:-1']));
  });

  it('a stopped node leaves alive at once and its job is requeued; a campaign is canceled or its failed jobs retried as a whole', () => {
    register('n1', EPYC);
    register('n2', EPYC);
    const c = queue.createCampaign(plan([scenario('a')]), { placement: 'each-class' });
    const job = queue.claim('n1')!;
    expect(queue.nodeStopped('n1')).toEqual({ known: true, requeued: [job.id], failed: [] });
    expect(store.getNode('n1')!.state).toBe('dead');
    expect(store.getJob(job.id)!.state).toBe('queued');
    expect(queue.nodeStopped('nope').known).toBe(false);

    const failing = queue.claim('n2')!;
    queue.submitResult(
      { ...record(failing.id, failing.attempts, 'n2', 1), status: 'failed', error: 'boom' },
      null,
      failing.leaseId!,
    );
    expect(queue.retryFailed(c.campaignId)).toEqual({ requeued: [failing.id] });
    // Attempts go on from where they were, with a fresh allowance (the queue's maxAttempts, 2 here).
    expect(store.getJob(failing.id)).toMatchObject({
      state: 'queued',
      attempts: failing.attempts,
      maxAttempts: failing.attempts + 2,
    });
    // The retried attempt is stored beside the failed one (not refused as a duplicate).
    const again = queue.claim('n2')!;
    expect(again).toMatchObject({ id: failing.id, attempts: failing.attempts + 1 });
    expect(
      queue.submitResult(
        { ...record(again.id, again.attempts, 'n2', 1), status: 'failed', error: 'boom again' },
        null,
        again.leaseId!,
      ),
    ).toEqual({ kind: 'stored' });
    expect(store.getJob(failing.id)!.state).toBe('failed');
    expect(queue.retryFailed(c.campaignId)).toEqual({ requeued: [failing.id] });
    expect(queue.cancelCampaign(c.campaignId)).toEqual({ canceled: 2, status: 'canceled', changed: true });
    expect(store.listJobs({ campaignId: c.campaignId }).map((j) => j.state)).toEqual(['canceled', 'canceled']);
    expect(queue.cancelCampaign(c.campaignId)).toEqual({ canceled: 0, status: 'canceled', changed: false });
    expect(queue.cancelCampaign('nope')).toBeNull();
    expect(queue.retryFailed('nope')).toBeNull();
  });
});
