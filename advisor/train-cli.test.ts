import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Store } from '../store/store.ts';
import type { CampaignPlan, RunRecord, Scenario } from '../core/types.ts';
import { syntheticRows } from './test-helpers.ts';
import { trainCommand } from './train-cli.ts';
import { OnnxAdvisor } from './infer.ts';
import { readTrainingData } from './model-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real results database holding synthetic runs (the rule of test-helpers.ts), written through the store. */
function buildDb(path: string, classOf: (i: number) => string | undefined = () => undefined): void {
  const store = Store.open(path);
  const plan: CampaignPlan = {
    name: 'advisor-synthetic',
    matrixText: 'synthetic',
    matrixHash: 'x',
    matrixFormat: 'native',
    repetitions: { min: 2, max: 2, ciHalfwidthPct: 5 },
    cooldownS: 0,
    idleBaselineS: 0,
    seed: 1,
    scenarios: [],
  };
  store.insertCampaign('c1', plan, Date.UTC(2026, 10, 25));
  const scenarioIds = new Map<string, number>();
  let seq = 0;
  const rows = syntheticRows({ repetitions: 2 });
  for (const [i, r] of rows.entries()) {
    const f = r.features;
    const key = `${f.encoder}/${f.preset}/${f.rate.value}/${f.width}`;
    let sid = scenarioIds.get(key);
    if (sid === undefined) {
      const s: Scenario = {
        key,
        label: key,
        mode: 'file',
        input: { kind: 'synthetic', source: 'testsrc2', resolution: { width: 640, height: 360 }, fps: 30 },
        codec: f.codec as Scenario['codec'],
        encoder: f.encoder,
        preset: f.preset,
        rate: f.rate,
        streams: 1,
        warmupS: 0,
        durationS: 2,
        outputs: [{ resolution: { width: f.width, height: f.height }, fps: 30 }],
      };
      sid = store.insertScenario('c1', s);
      scenarioIds.set(key, sid);
    }
    const jobId = `job-${i}`;
    store.insertJob({
      id: jobId,
      campaignId: 'c1',
      scenarioId: sid,
      repetition: i % 2,
      priority: 0,
      queueClass: 'default',
      maxAttempts: 1,
      nodeConstraint: [],
      cooldownS: 0,
      createdAt: 0,
      seq: seq++,
    });
    const job = store.getJob(jobId)!;
    const record: RunRecord = {
      jobId,
      attempt: 1,
      nodeId: 'n1',
      status: i === 5 ? 'failed' : 'succeeded',
      exitCode: 0,
      signal: null,
      error: null,
      stderrTail: '',
      startedAt: '2026-11-25T20:00:00Z',
      endedAt: '2026-11-25T20:00:02Z',
      wallS: 2,
      mediaSeconds: 2,
      frames: 60,
      outputBytes: 1000,
      bitrateBps: null,
      fps: null,
      speed: r.speed,
      droppedFrames: 0,
      dupFrames: 0,
      flags: [],
      energy:
        i === 7
          ? null
          : {
              source: 'rapl',
              zones: [],
              grossJ: 1,
              idleW: 1,
              netJ: 1,
              avgW: 1,
              peakW: 1,
              windowS: 2,
              jPerEncodedMinute: r.jPerEncodedMinute,
              netJPerEncodedMinute: r.netJPerEncodedMinute,
              jPerFrame: null,
              jPerMegapixel: null,
            },
      quality: {
        outputs: [
          {
            rung: 0,
            psnrY: null,
            psnrAvg: 40,
            ssim: null,
            vmaf: { mean: r.vmaf!, harmonicMean: r.vmaf!, p1: r.vmaf!, min: r.vmaf! },
          },
        ],
        recipe: {},
      },
      provenance: {
        ffmpegVersion: '5.1',
        ffmpegBuildconfHash: '',
        argv: [],
        inputDescription: 'testsrc2',
        inputHash: null,
        kernel: '',
        cpuModel: f.cpuModel,
        cores: 2,
        gpu: null,
        governor: null,
        turbo: null,
        meters: [],
        encoder: f.encoder,
        ...(classOf(i) ? { hardwareClass: classOf(i) } : {}),
      },
    };
    store.insertRun(record, job, 0);
  }
  store.close();
}

describe('train command', () => {
  it('trains from a results database and writes model, metadata, data and model card', async () => {
    const db = join(dir, 'results', 'ffwatt.sqlite');
    buildDb(db);
    const out = join(dir, 'models');
    let stdout = '';
    let stderr = '';
    const code = await trainCommand(['--db', db, '--out', out, '--no-tune', '--no-cv'], {
      out: (s) => void (stdout += s),
      err: (s) => void (stderr += s),
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/trained on 328 runs/); // 330 minus one failed, one without energy
    for (const f of ['advisor.onnx', 'advisor.features.json', 'advisor.data.json', 'model-card.json', 'MODEL_CARD.md'])
      expect(existsSync(join(out, f))).toBe(true);
    const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8'));
    expect(card.data.campaigns).toEqual([
      { id: 'c1', name: 'advisor-synthetic', status: 'running', createdAt: '2026-11-25T00:00:00.000Z' },
    ]);
    expect(card.data.dropped).toEqual([{ reason: 'no energy figure', runs: 1 }]);
    expect(card.heldOut.gbrt.energy.mape).toBeLessThan(card.heldOut.ridge.energy.mape);
    expect(card.data.contents[0].content).toBe('testsrc2 640x360@30');
    expect(card.data.contents[0].si).toBeGreaterThan(10); // measured by ffmpeg's siti filter
    expect(existsSync(join(dir, 'results', 'content-cache.json'))).toBe(true);
    const md = readFileSync(join(out, 'MODEL_CARD.md'), 'utf8');
    expect(md).toMatch(/## Held-out errors/);
    expect(md).toMatch(/\| energy \(J\/encoded min\) \| boosted trees \(shipped\) \|/);
    expect(readTrainingData(join(out, 'advisor.data.json'))).toHaveLength(328);
    const advisor = await OnnxAdvisor.load(join(out, 'advisor.onnx'));
    const [p] = await advisor.predict([readTrainingData(join(out, 'advisor.data.json'))[0].features]);
    expect(p.values.energy).toBeGreaterThan(0);
    await advisor.close();
  });

  it('trains one hardware class at a time: refuses a pool of classes, names them, and records the class it trained on', async () => {
    const db = join(dir, 'classes', 'ffwatt.sqlite');
    const classes = ['amd-epyc-7r13-1s2c-4g-11111111', 'intel-xeon-gold-6338-2s64c-256g-22222222'];
    buildDb(db, (i) => classes[Math.floor(i / 2) % 2]); // both repetitions of a configuration on one class
    const io = () => {
      const o = { out: '', err: '' };
      return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
    };
    const a = io();
    expect(await trainCommand(['--db', db, '--out', join(dir, 'pool'), '--no-tune', '--no-cv'], a.io)).toBe(2);
    expect(a.o.err).toMatch(
      `the runs come from 2 hardware classes (${classes.join(', ')}); the advisor is trained per class, never on a pool`,
    );
    expect(existsSync(join(dir, 'pool', 'advisor.onnx'))).toBe(false);
    const b = io();
    const out = join(dir, 'per-class', classes[1]);
    expect(
      await trainCommand(
        ['--db', db, '--out', out, '--class', classes[1], '--no-tune', '--no-cv', '--trees', '40'],
        b.io,
      ),
    ).toBe(0);
    const meta = JSON.parse(readFileSync(join(out, 'advisor.features.json'), 'utf8'));
    expect(meta.hardwareClasses).toEqual([classes[1]]);
    expect(readTrainingData(join(out, 'advisor.data.json')).every((r) => r.hardwareClass === classes[1])).toBe(true);
    expect(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8')).toMatch(`## Hardware class \`${classes[1]}\``);
    const c = io();
    expect(await trainCommand(['--db', db, '--out', out, '--class', 'nope', '--no-tune', '--no-cv'], c.io)).toBe(2);
    expect(c.o.err).toMatch(
      `--class nope: no usable run of that hardware class in ${db} (classes: ${classes.join(', ')})`,
    );
  });

  it('exits 2 naming the flag for a missing database', async () => {
    let stderr = '';
    const code = await trainCommand(['--db', join(dir, 'none.sqlite')], {
      out: () => {},
      err: (s) => void (stderr += s),
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/--db .*none\.sqlite: no such results database/);
  });
});
