// The model shipped in models/: trained on a real campaign measured on this kind of machine.
// Re-trains from the shipped rows with the recorded settings and checks the model card, the
// ONNX file and the claim that the boosted model beats the linear baseline on held-out data.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readTrainingData } from './model-files.ts';
import { crossValidate, trainAdvisor, toMatrix, type TrainOptions } from './train.ts';
import { OnnxAdvisor, loadMeta } from './infer.ts';
import { predictGbrt } from './gbrt.ts';
import type { ModelCard } from './model-card.ts';

const card = JSON.parse(readFileSync('models/model-card.json', 'utf8')) as ModelCard;
const meta = loadMeta('models/advisor.features.json');
const rows = readTrainingData('models/advisor.data.json');
const recipe: TrainOptions = {
  seed: meta.training.seed,
  validationFraction: meta.training.validationFraction,
  gbrt: meta.training.gbrt,
  ridgeLambda: meta.training.ridgeLambda,
  linearStart: meta.training.linearStart,
  tune: meta.training.tune,
  contentMethod: meta.features.contentMethod,
};
const retrained = trainAdvisor(rows, recipe);

describe('shipped advisor model (models/)', () => {
  it('comes from a real campaign: measured runs with provenance, no synthetic rows', () => {
    expect(card.data.campaigns.length).toBeGreaterThan(0);
    expect(card.data.campaigns.map((c) => c.name)).toContain('advisor-train');
    expect(rows.length).toBe(card.data.runs.total);
    expect(rows.every((r) => r.campaignId !== 'synthetic')).toBe(true);
    expect(meta.features.contentMethod).toBe('siti');
  });

  // Energy per encoded minute is the figure the advisor ranks by. (On this noisy campaign the
  // ridge baseline is ahead on speed, and on quality in the single split: see MODEL_CARD.md.)
  it('on held-out configurations the boosted model predicts energy better than the linear baseline (re-trained here)', () => {
    const { gbrt, ridge } = retrained.scores;
    expect(gbrt.energy.mae).toBeLessThan(ridge.energy.mae);
    expect(gbrt.energy.r2).toBeGreaterThan(ridge.energy.r2);
  });

  it('so it does across every configuration (grouped 5-fold cross-validation), re-computed here', () => {
    const cv = crossValidate(rows, recipe);
    expect(cv.gbrt.energy.mae).toBeLessThan(cv.ridge.energy.mae);
    expect(cv.gbrt.energy.mape).toBeLessThan(cv.ridge.energy.mape);
    expect(cv.gbrt.quality.mae).toBeLessThan(cv.ridge.quality.mae);
    expect(cv.gbrt.energy.mae).toBeCloseTo(card.crossValidated!.gbrt.energy.mae, 9);
    expect(cv.ridge.energy.mae).toBeCloseTo(card.crossValidated!.ridge.energy.mae, 9);
  });

  it('the model card is reproducible from the shipped rows', () => {
    for (const t of ['energy', 'quality', 'speed'] as const) {
      for (const m of ['gbrt', 'ridge'] as const) {
        expect(retrained.scores[m][t].mae).toBeCloseTo(card.heldOut[m][t].mae, 9);
        expect(retrained.scores[m][t].r2).toBeCloseTo(card.heldOut[m][t].r2, 9);
      }
    }
  });

  it('the shipped ONNX file predicts what the re-trained TypeScript model predicts (1e-5)', async () => {
    const advisor = await OnnxAdvisor.load('models/advisor.onnx');
    try {
      const x = toMatrix(advisor.meta.features, rows);
      const raw = await advisor.runEncoded(x.data, rows.length);
      const k = advisor.meta.targets.length;
      retrained.gbrt.forEach((model, t) => {
        const ts = predictGbrt(model, x);
        for (let i = 0; i < rows.length; i++) expect(Math.abs(raw[i * k + t] - ts[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ts[i])));
      });
    } finally {
      await advisor.close();
    }
  });
});
