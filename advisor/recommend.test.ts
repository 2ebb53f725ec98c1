import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { trainAdvisor } from './train.ts';
import { syntheticRows } from './test-helpers.ts';
import { writeModelFiles } from './model-files.ts';
import { OnnxAdvisor, SUBSET_FROM_ROWS } from './infer.ts';
import { rankCandidates, recommend, type RecommendQuery } from './recommend.ts';
import { modelForClass, recommendCommand } from './cli.ts';
import { Store } from '../store/store.ts';
import { detectEncoders } from '../media/encoders.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-recommend-'));
const rows = syntheticRows({ repetitions: 2 });
const trained = trainAdvisor(rows, { seed: 2, gbrt: { nTrees: 120 }, tune: false });
const paths = writeModelFiles(trained, rows, dir);
const hw = trained.meta.hardware[0];
// A second model, trained on runs of one hardware class, in the models folder layout models/<class>/.
const CLASS = 'intel-xeon-platinum-8375c-1s2c-8g-5e1c0a77';
const classRows = rows.map((r) => ({ ...r, hardwareClass: CLASS }));
const classModel = writeModelFiles(
  trainAdvisor(classRows, { seed: 2, gbrt: { nTrees: 60 }, tune: false }),
  classRows,
  join(dir, 'models', CLASS),
);
writeModelFiles(trained, rows, join(dir, 'models'));
// A results database with the node that made those runs, as local mode writes it.
const dbPath = join(dir, 'ffwatt.sqlite');
{
  const store = Store.open(dbPath);
  store.upsertNode(
    { id: 'local-vm', hostname: 'encoder-7', hardware: {}, encoders: {}, meters: [], labels: [], hardwareClass: CLASS },
    Date.UTC(2026, 11, 3),
    null,
  );
  store.upsertNode(
    { id: 'old-node', hostname: 'old', hardware: {}, encoders: {}, meters: [], labels: [] },
    Date.UTC(2026, 11, 3),
    null,
  );
  store.close();
}
let advisor: OnnxAdvisor;
beforeAll(async () => {
  advisor = await OnnxAdvisor.load(paths.onnx);
});
afterAll(async () => {
  await advisor.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = (over: Partial<RecommendQuery> = {}): RecommendQuery => ({
  minQuality: { metric: 'vmaf', value: 90 },
  width: 640,
  height: 360,
  fps: 30,
  hardware: hw,
  availableEncoders: ['libx264', 'libx265', 'libsvtav1'],
  limit: 1000,
  ...over,
});

describe('recommend', () => {
  it('keeps only configurations predicted to meet the quality target, cheapest first', async () => {
    const r = await recommend(advisor, trained.meta, query());
    expect(r.candidates.length).toBeGreaterThan(5);
    expect(r.belowTarget).toBeGreaterThan(0);
    expect(r.candidates.length + r.belowTarget).toBe(r.evaluated);
    for (const c of r.candidates) expect(c.predicted.quality).toBeGreaterThanOrEqual(90);
    for (let i = 1; i < r.candidates.length; i++)
      expect(r.candidates[i].predicted.energy).toBeGreaterThanOrEqual(r.candidates[i - 1].predicted.energy);
    const c = r.candidates[0];
    expect(c.intervals.energy.lo).toBeLessThanOrEqual(c.intervals.energy.hi);
    expect(r.candidates.some((x) => x.measured)).toBe(true);
    expect(r.candidates.some((x) => !x.measured)).toBe(true); // midpoint crf values were never run
    expect(r.candidates.filter((x) => x.rate.value === 26).every((x) => !x.measured)).toBe(true);
  });

  it('never recommends an encoder the node lacks', async () => {
    const r = await recommend(advisor, trained.meta, query({ availableEncoders: ['libx264', 'h264_nvenc'] }));
    expect(r.candidates.length).toBeGreaterThan(0);
    expect(new Set(r.candidates.map((c) => c.encoder))).toEqual(new Set(['libx264']));
    expect(r.skippedEncoders).toEqual([
      { encoder: 'libsvtav1', reason: 'not usable on this node' },
      { encoder: 'libx265', reason: 'not usable on this node' },
      { encoder: 'h264_nvenc', reason: 'not in the training data' },
    ]);
    await expect(recommend(advisor, trained.meta, query({ availableEncoders: ['libvpx-vp9'] }))).rejects.toThrow(
      /none of the encoders the model knows/,
    );
  });

  it('refuses questions outside the training range, naming the field and the range', async () => {
    await expect(recommend(advisor, trained.meta, query({ width: 1920, height: 1080 }))).rejects.toThrow(
      /--resolution 1920x1080 \(2073600 pixels\) is outside the training range of 57600–518400 pixels \(320x180, 640x360, 960x540\)/,
    );
    await expect(recommend(advisor, trained.meta, query({ fps: 60 }))).rejects.toThrow(
      /--fps 60 is outside the training range of 30–30 fps/,
    );
    await expect(
      recommend(
        advisor,
        trained.meta,
        query({ minQuality: { metric: 'vmaf', value: trained.meta.coverage.quality.max + 0.5 } }),
      ),
    ).rejects.toThrow(/--min-vmaf [0-9.]+ is outside the training range of VMAF/);
    await expect(
      recommend(advisor, trained.meta, query({ minQuality: { metric: 'psnr', value: 40 } })),
    ).rejects.toThrow(/this model predicts VMAF, not PSNR/);
    await expect(
      recommend(advisor, trained.meta, query({ content: { label: 'busy.mp4', si: 200, ti: 12, userGiven: true } })),
    ).rejects.toThrow(/--input busy.mp4: content SI 200 is outside the training range 60–60/);
  });

  it('marks every candidate extrapolated and says so on hardware it was not trained on', async () => {
    const other = { name: 'amd-epyc-64c-rapl', cpuModel: 'AMD EPYC 7B13', cores: 64, gpu: false, meterSource: 'rapl' };
    const r = await recommend(advisor, trained.meta, query({ hardware: other }));
    expect(r.candidates.every((c) => !c.measured)).toBe(true);
    expect(r.notes.join('\n')).toMatch(/amd-epyc-64c-rapl is not in the training data/);
    expect(r.notes.join('\n')).toMatch(/unknown bucket\): cpuClass=amd-epyc/);
  });
});

describe('rankCandidates', () => {
  const treesOnly = trainAdvisor(rows, { seed: 2, gbrt: { nTrees: 40 }, linearStart: false, tune: false });
  const treesOnlyPaths = writeModelFiles(treesOnly, rows, join(dir, 'trees-only'));
  const grid = rows.map((r) => r.features);
  // Copies of every configuration: equal predictions, so the order among ties is checked too. The
  // large batch runs without the speed trees (SUBSET_FROM_ROWS) and completes speed for the rows returned.
  const copies = (n: number) =>
    Array.from({ length: n }, () => grid.map((f) => ({ ...f, rate: { ...f.rate } }))).flat();
  const small = copies(3);
  const large = copies(Math.ceil(SUBSET_FROM_ROWS / grid.length) + 1);

  it.each([
    ['small batch, linear start', () => advisor, small],
    ['large batch, linear start', () => advisor, large],
  ])(
    '%s: returns what a stable sort of every prediction by energy returns, ties in input order',
    async (_, model, inputs) => {
      await checkRanking(model(), inputs);
    },
  );

  it('large batch, trees only: the same', async () => {
    const a = await OnnxAdvisor.load(treesOnlyPaths.onnx);
    try {
      await checkRanking(a, large);
    } finally {
      await a.close();
    }
  });

  it('a batch read for some targets refuses the others until its rows are completed', async () => {
    const batch = await advisor.predictBatch(large, ['quality', 'energy']);
    expect(() => batch.values('speed')).toThrow(/'speed' was left out of this batch's run/);
    expect(() => batch.at(5)).toThrow(/row 5 has targets left out of the run/);
    await batch.complete([5]);
    expect(batch.at(5)).toEqual((await advisor.predict(large))[5]);
  });

  async function checkRanking(a: OnnxAdvisor, inputs: typeof grid) {
    const all = await a.predict(inputs);
    const passing = all.map((p, i) => ({ p, i })).filter(({ p }) => !(p.values.quality < 90));
    passing.sort((x, y) => x.p.values.energy - y.p.values.energy);
    expect(passing.length).toBeGreaterThan(10);
    for (const limit of [1, 7, 300, inputs.length]) {
      const r = await rankCandidates(a, inputs, { minQuality: 90, limit, isMeasured: () => false });
      expect(r.evaluated).toBe(inputs.length);
      expect(r.belowTarget).toBe(inputs.length - passing.length);
      const want = passing.slice(0, limit);
      expect(r.candidates.map((c) => [c.predicted, c.intervals])).toEqual(want.map(({ p }) => [p.values, p.intervals]));
      for (let k = 0; k < want.length; k++) expect(r.candidates[k].rate).toBe(inputs[want[k].i].rate);
    }
  }
});

describe('recommend command', () => {
  const capture = () => {
    const io = { o: '', e: '' };
    return { io, cli: { out: (s: string) => void (io.o += s), err: (s: string) => void (io.e += s) } };
  };

  it('on this node lists only encoders ffmpeg here can use (real detection)', async () => {
    const { io, cli } = capture();
    const code = await recommendCommand(
      ['--min-vmaf', '90', '--resolution', '640x360', '--fps', '30', '--model', paths.onnx, '--json'],
      cli,
    );
    expect(io.e).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(io.o);
    const usable = (await detectEncoders()).usable;
    expect(r.candidates.length).toBeGreaterThan(0);
    for (const c of r.candidates) expect(usable).toContain(c.encoder);
  });

  it('prints a table for a named hardware and exits 2 with a clear message when refusing', async () => {
    const a = capture();
    expect(
      await recommendCommand(
        ['--min-vmaf', '90', '--resolution', '640x360', '--fps', '30', '--model', paths.onnx, '--hardware', hw.name],
        a.cli,
      ),
    ).toBe(0);
    expect(a.io.o).toMatch(/VMAF >= 90 at 640x360 30 fps on intel-xeon-2c-rapl/);
    expect(a.io.o).toMatch(/measured/);
    const b = capture();
    expect(
      await recommendCommand(
        ['--min-vmaf', '90', '--resolution', '1920x1080', '--fps', '30', '--model', paths.onnx, '--hardware', hw.name],
        b.cli,
      ),
    ).toBe(2);
    expect(b.io.e).toMatch(/^ffwatt recommend: --resolution 1920x1080 .* outside the training range/);
    const c = capture();
    expect(await recommendCommand(['--resolution', '640x360', '--fps', '30', '--model', paths.onnx], c.cli)).toBe(2);
    expect(c.io.e).toMatch(/exactly one quality target/);
    const d = capture();
    expect(
      await recommendCommand(
        ['--min-vmaf', '90', '--resolution', '640x360', '--fps', '30', '--model', paths.onnx, '--hardware', 'nope'],
        d.cli,
      ),
    ).toBe(2);
    expect(d.io.e).toMatch(/--hardware 'nope' is not in the model card; use 'this' or one of: intel-xeon-2c-rapl/);
    const e = capture();
    expect(await recommendCommand(['--min-vmaf', '90', '--fps', '30'], e.cli)).toBe(2);
    expect(e.io.e).toMatch(/--resolution/);
  });

  it('plans for a hardware class: finds its model in the models folder, refuses a class it has no data for, naming the classes it has', async () => {
    const models = join(dir, 'models');
    expect(modelForClass(CLASS, '--class', undefined, models)).toBe(classModel.onnx);
    expect(modelForClass('unclassified', '--class', undefined, models)).toBe(join(models, 'advisor.onnx'));
    expect(() => modelForClass('amd-epyc-9654-2s192c-768g-0badc0de', '--class', undefined, models)).toThrow(
      `--class: the advisor has no data for hardware class amd-epyc-9654-2s192c-768g-0badc0de; it has: unclassified (${join(models, 'advisor.onnx')}); ${CLASS} (${classModel.onnx})`,
    );
    const a = capture();
    expect(
      await recommendCommand(
        [
          '--min-vmaf',
          '90',
          '--resolution',
          '640x360',
          '--fps',
          '30',
          '--class',
          CLASS,
          '--model',
          classModel.onnx,
          '--limit',
          '2',
        ],
        a.cli,
      ),
    ).toBe(0);
    expect(a.io.o).toMatch(`VMAF >= 90 at 640x360 30 fps on ${hw.name} (class ${CLASS}) `);
    expect(a.io.o).toMatch(/measured/);
    const b = capture();
    expect(
      await recommendCommand(
        ['--min-vmaf', '90', '--resolution', '640x360', '--fps', '30', '--class', 'nope-1', '--model', classModel.onnx],
        b.cli,
      ),
    ).toBe(2);
    expect(b.io.e).toMatch(
      `--class: the advisor has no data for hardware class nope-1; it has: ${CLASS} (${classModel.onnx})`,
    );
    const c = capture();
    expect(
      await recommendCommand(
        [
          '--min-vmaf',
          '90',
          '--resolution',
          '640x360',
          '--fps',
          '30',
          '--class',
          CLASS,
          '--hardware',
          hw.name,
          '--model',
          classModel.onnx,
        ],
        c.cli,
      ),
    ).toBe(2);
    expect(c.io.e).toMatch(/--hardware .* cannot go with --class/);
  });

  it('plans for a node: its class from the results database (by id or hostname), exit 2 for an unknown node or one without a class', async () => {
    const env = {}; // no FFWATT_MASTER: the results database answers
    for (const node of ['local-vm', 'encoder-7']) {
      const a = capture();
      expect(
        await recommendCommand(
          [
            '--min-vmaf',
            '90',
            '--resolution',
            '640x360',
            '--fps',
            '30',
            '--node',
            node,
            '--db',
            dbPath,
            '--model',
            classModel.onnx,
            '--limit',
            '1',
          ],
          { ...a.cli, env },
        ),
      ).toBe(0);
      expect(a.io.o).toMatch(`(class ${CLASS})`);
    }
    const b = capture();
    expect(
      await recommendCommand(
        [
          '--min-vmaf',
          '90',
          '--resolution',
          '640x360',
          '--fps',
          '30',
          '--node',
          'nosuch',
          '--db',
          dbPath,
          '--model',
          classModel.onnx,
        ],
        { ...b.cli, env },
      ),
    ).toBe(2);
    expect(b.io.e).toMatch(`--node nosuch: no such node in ${dbPath}; use one of: local-vm, old-node`);
    const c = capture();
    expect(
      await recommendCommand(
        [
          '--min-vmaf',
          '90',
          '--resolution',
          '640x360',
          '--fps',
          '30',
          '--node',
          'old-node',
          '--db',
          dbPath,
          '--model',
          classModel.onnx,
        ],
        { ...c.cli, env },
      ),
    ).toBe(2);
    expect(c.io.e).toMatch(/--node old-node: .* records no hardware class/);
    const d = capture();
    expect(
      await recommendCommand(
        [
          '--min-vmaf',
          '90',
          '--resolution',
          '640x360',
          '--fps',
          '30',
          '--node',
          'local-vm',
          '--db',
          join(dir, 'none.sqlite'),
        ],
        { ...d.cli, env },
      ),
    ).toBe(2);
    expect(d.io.e).toMatch(/--node: no results database at .*none\.sqlite/);
  });

  it('runs through the zx wrapper', () => {
    const r = spawnSync(
      'npx',
      [
        'zx',
        'advisor/recommend.mjs',
        '--min-vmaf',
        '95',
        '--resolution',
        '320x180',
        '--fps',
        '30',
        '--model',
        paths.onnx,
        '--hardware',
        hw.name,
        '--limit',
        '3',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /^\d+\s+lib/.test(l))).toHaveLength(3);
    const bad = spawnSync(
      'npx',
      [
        'zx',
        'advisor/recommend.mjs',
        '--min-vmaf',
        '95',
        '--resolution',
        '320x180',
        '--fps',
        '30',
        '--model',
        join(dir, 'x.onnx'),
      ],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/x\.onnx not found/);
  });
});
