import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CampaignPlan, Scenario } from '../core/types.ts';
import { JobQueue } from './queue.ts';
import { testPlan, testRecord, testScenario } from './test-scenario.ts';
import { Store, openDatabase } from '../store/store.ts';
import { MIGRATIONS } from '../store/migrations.ts';

const scenario = testScenario;

const plan = (scenarios: Scenario[], reps?: CampaignPlan['repetitions']) =>
  testPlan(scenarios, reps ? { repetitions: reps } : {});
const record = testRecord;

describe('store + queue (real SQLite)', () => {
  let dir: string;
  let store: Store;
  let now: number;
  let queue: JobQueue;
  const node = (id: string, encoders: Record<string, string> = { h264: 'libx264', hevc: 'libx265' }) => ({
    id,
    hostname: id,
    hardware: {},
    encoders,
    meters: [],
    labels: [],
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ffwatt-queue-'));
    store = Store.open(join(dir, 'r.sqlite'));
    now = 1_000_000;
    queue = new JobQueue(store, { now: () => now, leaseMs: 1000, maxAttempts: 2, nodeTimeoutMs: 5000 });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates once, in WAL mode, and refuses a newer schema', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = store.db.prepare('SELECT version FROM schema_migrations').all();
    expect(versions).toHaveLength(MIGRATIONS.length);
    store.db.prepare('INSERT INTO schema_migrations VALUES (999, ?, 0)').run('future');
    expect(() => openDatabase(join(dir, 'r.sqlite'))).toThrow(/newer than this ffwatt/);
  });

  it('round-trips a run record exactly', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const job = queue.claim('n1')!;
    const rec = record(job.id, job.attempts, 'n1', 100);
    expect(queue.submitResult(rec, null, job.leaseId!)).toEqual({ kind: 'stored' });
    expect(store.getRun(job.id, 1)).toEqual(rec);
    expect(store.getJob(job.id)!.state).toBe('succeeded');
    expect(store.getCampaign(job.campaignId)!.status).toBe('done');
  });

  it('interleaves repetitions in a seeded order and serves live > default, then priority', () => {
    queue.registerNode(node('n1'));
    const a = queue.createCampaign(plan([scenario('a'), scenario('b')]), { queueClass: 'batch' });
    const b = queue.createCampaign({ ...plan([scenario('c', 'h264', 'live')]), seed: 1 }, { queueClass: 'live' });
    const order1 = store.listJobs({ campaignId: a.campaignId }).map((j) => `${j.scenario.key}${j.repetition}`);
    expect(order1.sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    const first = queue.claim('n1')!;
    expect(first.campaignId).toBe(b.campaignId);
    // one measured job per node: claiming again returns the same job
    expect(queue.claim('n1')!.id).toBe(first.id);
  });

  it('respects encoders and node constraints', () => {
    queue.registerNode(node('n1', { h264: 'libx264' }));
    queue.registerNode(node('n2', { hevc: 'libx265' }));
    queue.createCampaign(plan([scenario('h', 'hevc')]), { nodeConstraint: ['n2'] });
    expect(queue.claim('n1')).toBeNull();
    expect(queue.claim('n2')!.scenario.codec).toBe('hevc');
  });

  it('requeues an expired lease with attempts+1, fails after the maximum, refuses the stale result', () => {
    queue.registerNode(node('n1'));
    queue.registerNode(node('n2'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j1 = queue.claim('n1')!;
    now += 1500;
    queue.heartbeat('n2');
    const j2 = queue.claim('n2')!;
    expect(j2.id).toBe(j1.id);
    expect(j2.attempts).toBe(2);
    expect(queue.submitResult(record(j1.id, 1, 'n1', 5), null, j1.leaseId!).kind).toBe('stale');
    expect(store.getRun(j1.id, 1)).toBeNull();
    now += 1500;
    queue.reap();
    expect(store.getJob(j1.id)!.state).toBe('failed');
    expect(store.getJob(j1.id)!.lastError).toMatch(/attempts exhausted/);
  });

  it('stores a duplicate result once', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    expect(queue.submitResult(record(j.id, 1, 'n1', 5), null, j.leaseId!).kind).toBe('stored');
    expect(queue.submitResult(record(j.id, 1, 'n1', 5), null, j.leaseId!).kind).toBe('duplicate');
    expect(store.db.prepare('SELECT COUNT(*) n FROM run').get()).toEqual({ n: 1 });
  });

  it('marks a silent node dead and requeues its job', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    queue.extendLease(j.id, 'n1', 1, j.leaseId!);
    now += 6000;
    const r = queue.reap();
    expect(r.deadNodes).toEqual(['n1']);
    expect(store.getNode('n1')!.state).toBe('dead');
    expect(store.getJob(j.id)!.state).toBe('queued');
  });

  it('writes heartbeats kept in memory before judging liveness, never backwards, and never revives a stopped node', () => {
    queue.registerNode(node('n1'));
    queue.registerNode(node('n2'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    queue.claim('n1'); // n1's last written heartbeat is its registration's
    now += 4000;
    queue.heartbeatLater('n1', 'disk nearly full');
    const heardAt = now;
    expect(store.getNode('n1')!.lastHeartbeat).toBe(heardAt - 4000); // not written yet
    now += 4000; // 8 s after the claim, 4 s after the kept heartbeat: alive only if it is written first
    const r = queue.reap();
    expect(r.deadNodes).toEqual(['n2']);
    expect(store.getNode('n1')).toMatchObject({
      state: 'alive',
      lastHeartbeat: heardAt,
      claimsPaused: 'disk nearly full',
    });
    // A later heartbeat written at once (local mode's in-process client); an older one kept in memory does not move it back.
    queue.heartbeatLater('n1');
    now += 100;
    queue.heartbeat('n1');
    queue.writePending();
    expect(store.getNode('n1')!.lastHeartbeat).toBe(now);
    expect(store.getNode('n1')!.claimsPaused).toBe('disk nearly full'); // a heartbeat without the field keeps it
    // A node that stops cleanly stays stopped, whatever heartbeat was still in memory.
    queue.heartbeatLater('n1');
    queue.nodeStopped('n1');
    queue.writePending();
    expect(store.getNode('n1')!.state).toBe('dead');
  });
  it('keeps a node credential once found, and drops it when the node is revoked or registered again', () => {
    queue.registerNode(node('n1'), 'hash-1');
    expect(queue.nodeByTokenHash('hash-1')).toEqual({ nodeId: 'n1', tokenHash: 'hash-1' });
    expect(queue.nodeByTokenHash('hash-x')).toBeNull();
    // Registering again with a new credential: the old one stops working at once.
    queue.registerNode(node('n1'), 'hash-2');
    expect(queue.nodeByTokenHash('hash-1')).toBeNull();
    expect(queue.nodeByTokenHash('hash-2')).toEqual({ nodeId: 'n1', tokenHash: 'hash-2' });
    queue.revokeNode('n1');
    expect(queue.nodeByTokenHash('hash-2')).toBeNull();
  });
  it("keeps a claim's contact in memory like a heartbeat, and refuses it for a node never registered", () => {
    queue.registerNode(node('n1'));
    const registeredAt = now;
    expect(queue.claimContact('ghost')).toBe(false);
    now += 4000;
    expect(queue.claimContact('n1')).toBe(true);
    expect(store.getNode('n1')!.lastHeartbeat).toBe(registeredAt); // not written yet
    now += 4000; // 8 s after registration: alive only because the claim's contact is written first
    expect(queue.reap().deadNodes).toEqual([]);
    expect(store.getNode('n1')).toMatchObject({ state: 'alive', lastHeartbeat: now - 4000 });
    expect(store.getNode('ghost')).toBeNull();
    // Silent past the timeout: dead; its next contact makes it alive again, with its pause reason.
    now += 6000;
    expect(queue.reap().deadNodes).toEqual(['n1']);
    queue.heartbeatLater('n1', 'disk nearly full');
    queue.writePending();
    expect(store.getNode('n1')).toMatchObject({ state: 'alive', lastHeartbeat: now, claimsPaused: 'disk nearly full' });
  });
  it('extends a lease in memory with the same checks, counts it before judging expiry, and fences its write', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a'), scenario('b')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    expect(queue.extendLeaseLater(j.id, 'n1', 1, 'another-lease')).toMatchObject({ ok: false, canceled: false });
    expect(queue.extendLeaseLater('no-such-job', 'n1', 1, j.leaseId!)).toMatchObject({
      ok: false,
      reason: 'unknown job',
    });
    now += 800;
    const granted = queue.extendLeaseLater(j.id, 'n1', 1, j.leaseId!);
    expect(granted).toEqual({ ok: true, canceled: false, leaseExpiresAt: now + 1000 });
    expect(store.getJob(j.id)).toMatchObject({ state: 'leased', leaseExpiresAt: now - 800 + 1000 }); // not written yet
    now += 500; // past the claim's lease, inside the extension
    expect(queue.reap().requeued).toEqual([]);
    expect(store.getJob(j.id)).toMatchObject({ state: 'running', leaseExpiresAt: granted.leaseExpiresAt });
    // An extension granted just before the result is never written over the finished job.
    expect(queue.extendLeaseLater(j.id, 'n1', 1, j.leaseId!).ok).toBe(true);
    expect(queue.submitResult(record(j.id, 1, 'n1', 100), null, j.leaseId!).kind).toBe('stored');
    queue.writePending();
    expect(store.getJob(j.id)).toMatchObject({ state: 'succeeded', leaseExpiresAt: null, leaseOwner: null });
  });

  it('adds repetitions until the CI half-width target is met, up to the cap', () => {
    queue.registerNode(node('n1'));
    const { campaignId } = queue.createCampaign(plan([scenario('a')], { min: 2, max: 4, ciHalfwidthPct: 5 }));
    const values = [100, 140, 90, 120];
    for (const v of values) {
      const j = queue.claim('n1');
      if (!j) break;
      queue.submitResult(record(j.id, j.attempts, 'n1', v), null, j.leaseId!);
    }
    // noisy values: never under 5%, so the cap of 4 repetitions is reached
    expect(store.listJobs({ campaignId })).toHaveLength(4);
    expect(store.getCampaign(campaignId)!.status).toBe('done');
  });

  it('stops repeating once the CI target is met', () => {
    queue.registerNode(node('n1'));
    const { campaignId } = queue.createCampaign(plan([scenario('a')], { min: 2, max: 10, ciHalfwidthPct: 5 }));
    for (let i = 0; i < 10; i++) {
      const j = queue.claim('n1');
      if (!j) break;
      queue.submitResult(record(j.id, j.attempts, 'n1', 100 + (i % 2)), null, j.leaseId!);
    }
    // 100, 101: half-width 6.3% (t=12.71 with 1 df) → a third run; 100, 101, 100: 1.4% → stop
    expect(store.listJobs({ campaignId })).toHaveLength(3);
  });

  it('cancels a running job and keeps its record as canceled', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    queue.cancelJob(j.id);
    expect(queue.extendLease(j.id, 'n1', 1, j.leaseId!)).toEqual({ ok: false, canceled: true });
    expect(queue.submitResult(record(j.id, 1, 'n1', 5, 'canceled'), null, j.leaseId!).kind).toBe('stored');
    expect(store.getJob(j.id)!.state).toBe('canceled');
  });

  it('fences results: another lease of the same node and attempt is stale, the same lease re-sent a duplicate', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    expect(j.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(queue.extendLease(j.id, 'n1', 1, 'not-the-lease').ok).toBe(false);
    expect(queue.submitResult(record(j.id, 1, 'n1', 5), null, 'not-the-lease').kind).toBe('stale');
    expect(store.db.prepare('SELECT COUNT(*) n FROM run').get()).toEqual({ n: 0 });
    expect(queue.submitResult(record(j.id, 1, 'n1', 5), null, j.leaseId!).kind).toBe('stored');
    expect(queue.submitResult(record(j.id, 1, 'n1', 7), null, 'not-the-lease').kind).toBe('stale');
    expect(queue.submitResult(record(j.id, 1, 'n1', 5), null, j.leaseId!).kind).toBe('duplicate');
  });

  it('retries a failed job as a higher attempt whose result is stored once', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    expect(queue.submitResult(record(j.id, 1, 'n1', 5, 'failed'), null, j.leaseId!).kind).toBe('stored');
    queue.retryJob(j.id);
    const again = queue.claim('n1')!;
    expect(again.id).toBe(j.id);
    expect(again.attempts).toBe(2);
    expect(again.leaseId).not.toBe(j.leaseId);
    expect(queue.submitResult(record(j.id, 2, 'n1', 5), null, again.leaseId!).kind).toBe('stored');
    expect(store.db.prepare('SELECT attempt, status FROM run ORDER BY attempt').all()).toEqual([
      { attempt: 1, status: 'failed' },
      { attempt: 2, status: 'succeeded' },
    ]);
    expect(store.getJob(j.id)!.state).toBe('succeeded');
  });

  it('refuses to extend a lease past its maximum age', () => {
    const q = new JobQueue(store, {
      leaseMs: 1000,
      maxAttempts: 2,
      nodeTimeoutMs: 1e9,
      now: () => now,
      deadlineFactor: 1,
      deadlineMarginS: 0,
      maxLeaseAgeMs: 1e9,
    });
    q.registerNode(node('n1'));
    q.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = q.claimWithCampaign('n1')!;
    // warm-up 0.5 s + duration 2 s, factor 1, margin 0: deadline 2.5 s, lease age limit 2 × 2.5 s
    expect(j.deadlineS).toBe(2.5);
    now += 900;
    expect(q.extendLease(j.id, 'n1', 1, j.leaseId).ok).toBe(true);
    for (let i = 0; i < 5; i++) {
      now += 900;
      q.extendLease(j.id, 'n1', 1, j.leaseId);
    }
    const refused = q.extendLease(j.id, 'n1', 1, j.leaseId);
    expect(refused.ok).toBe(false);
    expect(refused.reason).toMatch(/maximum lease age of 5 s/);
  });

  it('after a master start, extends leases in flight and refreshes live nodes (the outage burns no attempt)', () => {
    queue.registerNode(node('n1'));
    queue.createCampaign(plan([scenario('a')], { min: 1, max: 1, ciHalfwidthPct: 5 }));
    const j = queue.claim('n1')!;
    now += 60_000; // the master was down for a minute: past the lease and the node timeout
    expect(queue.recoverAfterStart()).toEqual({ leases: 1, nodes: 1 });
    const r = queue.reap();
    expect(r).toEqual({ requeued: [], failed: [], deadNodes: [] });
    expect(store.getJob(j.id)!.attempts).toBe(1);
    expect(queue.extendLease(j.id, 'n1', 1, j.leaseId!).ok).toBe(true);
  });
});
