import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { trainAdvisor } from './train.ts';
import { syntheticRows } from './test-helpers.ts';
import { writeModelFiles } from './model-files.ts';
import { OnnxAdvisor } from './infer.ts';
import { encodeBatch, encodeOne, type FeatureInput } from './features.ts';
import { predictGbrt } from './gbrt.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows = syntheticRows({ repetitions: 2 });
const trained = trainAdvisor(rows, { seed: 5, gbrt: { nTrees: 150 }, tune: false });
const paths = writeModelFiles(trained, rows, dir);
const treesOnly = trainAdvisor(rows, { seed: 5, gbrt: { nTrees: 150 }, linearStart: false, tune: false });
const treesOnlyPaths = writeModelFiles(treesOnly, rows, join(dir, 'trees-only'));

function randomInputs(n: number, seed: number): FeatureInput[] {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)];
  return Array.from({ length: n }, () => {
    const [codec, encoder, preset] = pick([
      ['h264', 'libx264', pick(['ultrafast', 'fast', 'medium', 'veryslow'])],
      ['hevc', 'libx265', pick(['superfast', 'slow'])],
      ['av1', 'libsvtav1', pick(['4', '9', '13'])],
      ['vp9', 'libvpx-vp9', 'good-2'], // unseen in training: unknown bucket
    ]);
    return {
      codec,
      encoder,
      preset,
      mode: pick(['file', 'live']),
      rate:
        rand() < 0.7
          ? { kind: 'crf' as const, value: Math.round(10 + rand() * 35) }
          : { kind: 'bitrate' as const, value: 2e5 + rand() * 5e6 },
      width: pick([320, 426, 640, 960, 1280]),
      height: pick([180, 240, 360, 540, 720]),
      fps: pick([24, 25, 30, 60]),
      streams: pick([1, 2]),
      si: 20 + rand() * 80,
      ti: rand() * 30,
      cpuModel: pick(['Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', 'AMD EPYC 7B13']),
      cores: pick([2, 4, 16]),
      gpu: rand() < 0.2,
      meterSource: pick(['rapl', 'estimate']),
    };
  });
}

describe('ONNX export and onnxruntime inference', () => {
  it.each([
    ['boosted from the ridge start (LinearRegressor + trees)', trained, paths.onnx],
    ['trees only', treesOnly, treesOnlyPaths.onnx],
  ] as const)(
    '%s: predicts what the TypeScript model predicts, to 1e-5, on random inputs',
    async (_name, model, path) => {
      expect(model.gbrt[0].linear !== undefined).toBe(model === trained);
      const advisor = await OnnxAdvisor.load(path);
      try {
        const inputs = randomInputs(500, 11);
        const enc = encodeBatch(model.meta.features, inputs);
        const raw = await advisor.runEncoded(enc, inputs.length);
        const cols = model.meta.features.columns.length;
        const x = { data: enc, rows: inputs.length, cols };
        let worst = 0;
        model.gbrt.forEach((model, t) => {
          const ts = predictGbrt(model, x);
          for (let i = 0; i < inputs.length; i++) {
            const diff = Math.abs(raw[i * 3 + t] - ts[i]) / Math.max(1, Math.abs(ts[i]));
            worst = Math.max(worst, diff);
          }
        });
        expect(worst).toBeLessThanOrEqual(1e-5);
      } finally {
        await advisor.close();
      }
    },
  );

  it('turns model-space outputs into units with intervals', async () => {
    const advisor = await OnnxAdvisor.load(paths.onnx);
    try {
      const f = rows[0].features;
      const [p] = await advisor.predict([f]);
      const x = { data: encodeOne(trained.meta.features, f), rows: 1, cols: trained.meta.features.columns.length };
      expect(p.values.energy).toBeCloseTo(Math.exp(predictGbrt(trained.gbrt[0], x)[0]), 2);
      expect(p.intervals.energy.lo).toBeLessThanOrEqual(p.values.energy * 1.0001);
      expect(p.intervals.energy.hi).toBeGreaterThanOrEqual(p.values.energy * 0.9999);
      expect(p.values.quality).toBeGreaterThan(50);
      expect(p.values.speed).toBeGreaterThan(0);
    } finally {
      await advisor.close();
    }
  });

  it('refuses a missing model with the flag named', async () => {
    await expect(OnnxAdvisor.load(join(dir, 'nope.onnx'))).rejects.toThrow(/nope\.onnx not found/);
  });
});
