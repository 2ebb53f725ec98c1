/**
 * Benchmark 6 — advisor inference: predictions for 100,000 candidate configurations through
 * advisor/infer.ts (onnxruntime-node), end to end (feature encoding, one session.run, decoding
 * to units and intervals) and the session.run alone. Uses models/advisor.onnx when one is
 * shipped; otherwise trains a model here with the advisor's own API on synthetic runs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeBatch, type FeatureInput } from '../advisor/features.ts';
import { OnnxAdvisor, metaPathFor } from '../advisor/infer.ts';
import { trainAdvisor, type AdvisorMeta } from '../advisor/train.ts';
import { writeModelFiles } from '../advisor/model-files.ts';
import type { TrainingRow } from '../advisor/dataset.ts';
import { presetOrdinal } from '../media/presets.ts';
import { REPO_ROOT } from './lib/child.ts';
import { measure, runIfMain } from './lib/harness.ts';
import { median } from './lib/stats.ts';
import { fmt, row, target, type BenchOptions, type BenchResult } from './lib/result.ts';

const TARGET = target('<', 0.5, 's');
const CANDIDATES = 100_000;
const SHIPPED = resolve(REPO_ROOT, 'models/advisor.onnx');

/** Synthetic runs on a made-up but monotone cost rule: enough structure for the trees to split on. */
function syntheticRows(): TrainingRow[] {
  const rows: TrainingRow[] = [];
  const encoders: Array<[string, string, string[]]> = [
    ['h264', 'libx264', ['ultrafast', 'veryfast', 'medium', 'slow']],
    ['hevc', 'libx265', ['ultrafast', 'veryfast', 'medium', 'slow']],
    ['av1', 'libsvtav1', ['12', '10', '8']],
  ];
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const [codec, encoder, presets] of encoders) {
    const cost = encoder === 'libx265' ? 2.5 : encoder === 'libsvtav1' ? 1.8 : 1;
    for (const preset of presets) {
      const ord = presetOrdinal(encoder, preset);
      for (const crf of [18, 23, 28, 33]) {
        for (const [width, height] of [[320, 180], [640, 360], [1280, 720]]) {
          for (let rep = 0; rep < 2; rep++) {
            const px = (width * height) / 57600;
            const jitter = () => 1 + 0.02 * (rand() * 2 - 1);
            const energy = 40 * px * cost * (1 + 6 * ord * ord) * (1 + (40 - crf) / 30) * jitter();
            rows.push({
              campaignId: 'bench-synthetic',
              scenarioId: rows.length,
              jobId: `bench-${rows.length}`,
              nodeId: 'bench',
              content: 'testsrc2 640x360@30',
              features: {
                codec, encoder, preset, mode: 'file', rate: { kind: 'crf', value: crf }, width, height, fps: 30, streams: 1,
                si: 60, ti: 12, cpuModel: 'AMD EPYC', cores: 2, gpu: false, meterSource: 'rapl',
              },
              energySource: 'rapl',
              netJPerEncodedMinute: energy,
              jPerEncodedMinute: energy * 1.3,
              vmaf: Math.min(99, 100 - 1.2 * (crf - 18) + 4 * ord) * jitter(),
              psnr: null,
              speed: (8 / (px * cost * (1 + 6 * ord))) * jitter(),
            });
          }
        }
      }
    }
  }
  return rows;
}

/** 100k candidates spread over what the model knows: encoders × presets × rates × sizes × fps × streams. */
function candidates(meta: AdvisorMeta, n: number): FeatureInput[] {
  const hw = meta.hardware[0];
  const content = meta.contents[0] ?? { si: 60, ti: 12 };
  const pairs = Object.entries(meta.grid.presets).flatMap(([enc, ps]) => ps.map((p) => [enc, p] as const));
  const rates = [
    ...meta.grid.crf.map((v) => ({ kind: 'crf' as const, value: v })),
    ...meta.grid.bitrate.map((v) => ({ kind: 'bitrate' as const, value: v })),
  ];
  const crfLo = meta.coverage.crf?.min ?? 18;
  const crfHi = meta.coverage.crf?.max ?? 40;
  const out: FeatureInput[] = [];
  for (let i = 0; out.length < n; i++) {
    const [encoder, preset] = pairs[i % pairs.length];
    const base = rates[Math.floor(i / pairs.length) % rates.length] ?? { kind: 'crf' as const, value: 23 };
    const rate = base.kind === 'crf' ? { kind: 'crf' as const, value: crfLo + ((i * 7) % (crfHi - crfLo + 1)) } : base;
    const width = 320 + 16 * (i % 61);
    out.push({
      codec: meta.grid.codecOf[encoder] ?? 'h264',
      encoder,
      preset,
      mode: 'file',
      rate,
      width,
      height: Math.round((width * 9) / 16 / 2) * 2,
      fps: [24, 25, 30, 50, 60][i % 5],
      streams: 1 + (i % 4),
      si: content.si,
      ti: content.ti,
      cpuModel: hw?.cpuModel ?? 'unknown',
      cores: hw?.cores ?? 2,
      gpu: hw?.gpu ?? false,
      meterSource: hw?.meterSource ?? 'rapl',
    });
  }
  return out;
}

export function run(opts: BenchOptions): Promise<BenchResult> {
  return measure('advisor', 'Advisor inference', opts, async () => {
    const repeats = opts.quick ? 1 : 3;
    let scratch: string | null = null;
    let modelPath = SHIPPED;
    let origin = `shipped model ${SHIPPED}`;
    let trainS: number | null = null;
    let trees: number | null = null;
    if (!existsSync(SHIPPED) || !existsSync(metaPathFor(SHIPPED))) {
      scratch = mkdtempSync(join(tmpdir(), 'ffwatt-bench-advisor-'));
      opts.log('advisor: no shipped model; training one on synthetic runs (advisor/train.ts, default boosted-tree settings)');
      const rows = syntheticRows();
      const t0 = performance.now();
      const trained = trainAdvisor(rows);
      trainS = (performance.now() - t0) / 1000;
      trees = trained.gbrt.reduce((n, g) => n + g.trees.length, 0);
      modelPath = writeModelFiles(trained, rows, scratch, 'bench-advisor').onnx;
      origin = `no shipped model (models/advisor.onnx absent): trained in the benchmark with advisor/train.ts trainAdvisor (default settings) on ${rows.length} synthetic runs and exported with advisor/model-files.ts writeModelFiles`;
    }
    const advisor = await OnnxAdvisor.load(modelPath);
    try {
      const inputs = candidates(advisor.meta, CANDIDATES);
      opts.log(`advisor: ${repeats} × ${CANDIDATES.toLocaleString('en-US')} predictions (${origin.split(':')[0]})`);
      await advisor.predict(inputs.slice(0, 1000)); // warm-up: session, JIT
      const endToEnd: number[] = [];
      const sessionOnly: number[] = [];
      const encodeOnly: number[] = [];
      let predictions = 0;
      for (let r = 0; r < repeats; r++) {
        let t0 = performance.now();
        const preds = await advisor.predict(inputs);
        endToEnd.push((performance.now() - t0) / 1000);
        predictions = preds.length;
        t0 = performance.now();
        const x = encodeBatch(advisor.meta.features, inputs);
        encodeOnly.push((performance.now() - t0) / 1000);
        t0 = performance.now();
        await advisor.runEncoded(x, inputs.length);
        sessionOnly.push((performance.now() - t0) / 1000);
      }
      if (predictions !== CANDIDATES) throw new Error(`expected ${CANDIDATES} predictions, got ${predictions}`);
      const e2e = median(endToEnd);
      const notes: string[] = [];
      if (scratch) notes.push(`${origin[0].toUpperCase()}${origin.slice(1)}. The figures describe a model of the same kind and size the training code produces (${advisor.meta.targets.length} targets).`);
      if (!(e2e < TARGET.value)) {
        notes.push(
          `100k predictions took ${fmt(e2e)} s end to end (median of ${repeats}), ${fmt(e2e / TARGET.value)}× the target: session.run alone ${fmt(median(sessionOnly))} s, feature encoding ${fmt(median(encodeOnly))} s, ` +
            `so about ${fmt(Math.max(0, e2e - median(sessionOnly) - median(encodeOnly)))} s go to turning the raw outputs into 100k prediction objects with units and intervals (OnnxAdvisor.predict). ` +
            `The time is onnxruntime's TreeEnsembleRegressor walking ${trees ?? 'all the'} trees (${advisor.meta.targets.length} targets × the boosting rounds) for every row with default session options; ` +
            'a smaller ensemble (fewer rounds, or one model per target evaluated only where needed) or a pre-filter of the candidates would be needed to meet it.',
        );
      }
      return {
        title: 'Advisor inference',
        method:
          `${origin}. ${CANDIDATES.toLocaleString('en-US')} candidate configurations (encoders × presets × rate values × 61 sizes × 5 frame rates × 1–4 streams from the model's grid) predicted with advisor/infer.ts OnnxAdvisor.predict (feature encoding, one onnxruntime-node session.run, conversion to units with intervals); median of ${repeats} after a warm-up. session.run and encoding are also timed alone.`,
        rows: [
          row('100k predictions, end to end (median)', e2e, 's', { target: TARGET }),
          row('100k rows, session.run only (median)', median(sessionOnly), 's'),
          row('100k rows, feature encoding only (median)', median(encodeOnly), 's'),
          ...(trainS !== null ? [row('training the synthetic model (not a target)', trainS, 's')] : []),
        ],
        details: { origin, candidates: CANDIDATES, repeats, endToEndS: endToEnd, sessionOnlyS: sessionOnly, encodeOnlyS: encodeOnly, trainS, trees, targets: advisor.meta.targets.map((t) => t.name), columns: advisor.meta.features.columns.length },
        notes,
      };
    } finally {
      await advisor.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
  });
}

await runIfMain(import.meta.url, run);
