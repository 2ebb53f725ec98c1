// Model card: what a shipped advisor model was trained on and how well it does on
// configurations it never saw (JSON for tools, Markdown for people).

import type { TrainedAdvisor } from './train.ts';
import { ENERGY_BASIS_LABEL, type TargetName } from './targets.ts';
import { quantile } from './metrics.ts';
import type { ErrorMetrics } from './metrics.ts';
import type { TrainingRow } from './dataset.ts';

export interface CampaignInfo {
  id: string;
  name: string;
  /** done, canceled (stopped before every job ran: its finished runs still count), … */
  status?: string;
  createdAt: string;
}

export interface ModelCard {
  model: 'ffwatt-advisor';
  version: 1;
  trainedAt: string;
  files: { onnx: string; features: string; data: string };
  algorithm: {
    model: string;
    params: Record<string, number>;
    perTarget: TrainedAdvisor['meta']['training']['chosen'];
    tuning: string;
    baseline: string;
    split: string;
    targets: Array<{ name: TargetName; unit: string; learnedAs: string; note: string }>;
    uncertainty: string;
  };
  data: {
    /** Hardware classes the model was trained on (one per model). */
    hardwareClasses: string[];
    /** Per class: its hardware, runs, flags and how other load on the machine showed in the figures. */
    classes: ClassSection[];
    campaigns: CampaignInfo[];
    runs: TrainedAdvisor['meta']['runs'];
    dropped: Array<{ reason: string; runs: number }>;
    /** Validity flags on the training runs: flag → runs carrying it. */
    flags: Record<string, number>;
    hardware: TrainedAdvisor['meta']['hardware'];
    contents: TrainedAdvisor['meta']['contents'];
    encoders: Record<string, string[]>;
    coverage: TrainedAdvisor['meta']['coverage'];
  };
  heldOut: { gbrt: Record<TargetName, ErrorMetrics>; ridge: Record<TargetName, ErrorMetrics> };
  /** Grouped k-fold cross-validation over all rows (train.ts crossValidate); null when not run. */
  crossValidated: {
    folds: number;
    gbrt: Record<TargetName, ErrorMetrics>;
    ridge: Record<TargetName, ErrorMetrics>;
  } | null;
  limits: string[];
}

export interface ClassSection {
  hardwareClass: string;
  hardware: TrainedAdvisor['meta']['hardware'];
  runs: number;
  flags: Record<string, number>;
  /**
   * Estimate meter: machine-wide estimate ÷ the job's own (process-tree) estimate per run,
   * median and 10–90 % — what other processes would have added had the machine-wide figure
   * been the target. Null without both figures.
   */
  machineOverJob: { median: number; p10: number; p90: number } | null;
}

function classSection(hardwareClass: string, t: TrainedAdvisor, rows: TrainingRow[]): ClassSection {
  const mine = rows.filter((r) => (r.hardwareClass ?? 'unclassified') === hardwareClass);
  const flags: Record<string, number> = {};
  for (const r of mine) for (const f of r.flags ?? []) flags[f] = (flags[f] ?? 0) + 1;
  const ratios = mine.flatMap((r) =>
    r.jobJPerEncodedMinute && r.jPerEncodedMinute ? [r.jPerEncodedMinute / r.jobJPerEncodedMinute] : [],
  );
  return {
    hardwareClass,
    hardware: t.meta.hardware.filter((h) => h.hardwareClass === hardwareClass),
    runs: mine.length,
    flags,
    machineOverJob: ratios.length
      ? { median: quantile(ratios, 0.5), p10: quantile(ratios, 0.1), p90: quantile(ratios, 0.9) }
      : null,
  };
}

export function buildModelCard(
  t: TrainedAdvisor,
  rows: TrainingRow[],
  campaigns: CampaignInfo[],
  files: ModelCard['files'],
  crossValidated: ModelCard['crossValidated'] = null,
): ModelCard {
  const { meta } = t;
  const flags: Record<string, number> = {};
  const droppedIds = new Set(t.dropped.map((d) => d.jobId));
  const trainedRows = rows.filter((r) => !droppedIds.has(r.jobId));
  for (const r of trainedRows) for (const f of r.flags ?? []) flags[f] = (flags[f] ?? 0) + 1;
  const dropped = new Map<string, number>();
  for (const d of t.dropped) dropped.set(d.reason, (dropped.get(d.reason) ?? 0) + 1);
  const energy = meta.targets.find((x) => x.name === 'energy')!;
  const quality = meta.targets.find((x) => x.name === 'quality')!;
  const c = meta.coverage;
  const classes = meta.hardwareClasses.map((c) => classSection(c, t, trainedRows));
  const limits = [
    `Output resolutions ${c.pixels.min}–${c.pixels.max} pixels and ${c.fps.min}–${c.fps.max} fps only; the recommender refuses questions outside this range.`,
    `${quality.metric!.toUpperCase()} targets ${c.quality.min.toFixed(1)}–${c.quality.max.toFixed(1)} only.`,
    `Hardware: ${meta.hardware.map((h) => h.name).join(', ')}; other CPUs fall in the unknown bucket and every prediction for them is an extrapolation.`,
    `Content: ${meta.contents.length} source(s) (${meta.contents.map((x) => x.content).join('; ')}); content complexity (SI/TI) outside ${c.si.min.toFixed(1)}–${c.si.max.toFixed(1)} / ${c.ti.min.toFixed(1)}–${c.ti.max.toFixed(1)} is refused.`,
    `Encoders: ${Object.keys(meta.grid.presets).sort().join(', ')}; presets only as measured (${Object.entries(
      meta.grid.presets,
    )
      .map(([e, p]) => `${e}: ${p.join('/')}`)
      .join('; ')}).`,
    `Energy is ${ENERGY_BASIS_LABEL[energy.basis!]}, as measured by ${[...new Set(meta.hardware.map((h) => h.meterSource))].join(', ')}${meta.hardware.some((h) => h.meterSource === 'estimate') ? ' (an ESTIMATE from CPU time, not a hardware counter)' : ''}.`,
    meta.training.linearStart
      ? `Between measured presets, rates and resolutions the linear part interpolates and the trees step; beyond them nothing is checked, hence the refusals.`
      : `Trees predict piecewise-constant values: between measured presets, rates and resolutions the prediction steps rather than interpolates.`,
    ...(flags.noisy_neighbour && energy.basis === 'job'
      ? [
          `${flags.noisy_neighbour} of ${trainedRows.length} runs are flagged noisy_neighbour: other processes loaded the machine while they were measured. The energy target is the encode's own process tree (its CPU seconds × W per busy CPU), so that load is not in it (see the class section for how much the machine-wide estimate would have added); it still slows the encode (speed is wall-clock) and contends for caches and cores, so repetitions differ more than on a quiet machine.`,
        ]
      : []),
    ...(flags.noisy_neighbour && energy.basis !== 'job'
      ? [
          `${flags.noisy_neighbour} of ${rows.length} runs are flagged noisy_neighbour: other processes loaded the machine while they were measured${meta.hardware.some((h) => h.meterSource === 'estimate') ? ', and the estimate counts machine-wide CPU time, so their energy includes that load' : ''}. Repetitions of one configuration differ by up to 2×; the held-out errors reflect that noise.`,
        ]
      : []),
    `Held-out figures come from ${meta.runs.validation} runs of ${meta.runs.validationConfigurations} configurations; with this little data they are indicative, not tight.`,
  ];
  return {
    model: 'ffwatt-advisor',
    version: 1,
    trainedAt: meta.trainedAt,
    files,
    algorithm: {
      model: meta.training.linearStart
        ? `gradient-boosted regression trees boosted from the ridge model (trees fit its residuals), one ensemble per target; ONNX: LinearRegressor + TreeEnsembleRegressor + Add`
        : `gradient-boosted regression trees (squared loss), one ensemble per target; ONNX: one TreeEnsembleRegressor`,
      params: {
        learningRate: meta.training.gbrt.learningRate,
        minSamplesLeaf: meta.training.gbrt.minSamplesLeaf,
        huberAlpha: meta.training.gbrt.huberAlpha,
        seed: meta.training.seed,
        validationFraction: meta.training.validationFraction,
        ridgeLambda: meta.training.ridgeLambda,
      },
      perTarget: meta.training.chosen,
      tuning: meta.training.tune
        ? 'loss (squared/Huber), depth (1–4) and tree count (25–300) per target chosen by 3-fold cross-validation (mean absolute error) grouped by configuration, inside the training part only'
        : 'fixed depth and tree count',
      baseline: `ridge regression on standardized features (lambda ${t.ridge[0].lambda})`,
      split: `by configuration (all repetitions of a configuration on one side); ${meta.runs.validationConfigurations} of ${meta.runs.configurations} configurations held out`,
      targets: meta.targets.map((x) => ({
        name: x.name,
        unit: x.unit,
        learnedAs: x.transform === 'log' ? `ln(${x.unit})` : x.unit,
        note:
          x.name === 'energy' ? ENERGY_BASIS_LABEL[x.basis!] : x.name === 'quality' ? `${x.metric}` : 'encoding speed',
      })),
      uncertainty: `10%–90% quantiles of held-out residuals, added to each prediction (model space)`,
    },
    data: {
      hardwareClasses: meta.hardwareClasses,
      classes,
      campaigns,
      runs: meta.runs,
      dropped: [...dropped].map(([reason, runs]) => ({ reason, runs })),
      flags,
      hardware: meta.hardware,
      contents: meta.contents,
      encoders: meta.grid.presets,
      coverage: meta.coverage,
    },
    heldOut: t.scores,
    crossValidated,
    limits,
  };
}

const f = (v: number, d = 2) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d));

export function renderModelCard(card: ModelCard): string {
  const table = (scores: ModelCard['heldOut']) =>
    (['energy', 'quality', 'speed'] as TargetName[]).flatMap((t) => {
      const unit = card.algorithm.targets.find((x) => x.name === t)?.unit ?? '';
      return (['gbrt', 'ridge'] as const).map((m) => {
        const s = scores[m][t];
        return `| ${t} (${unit}) | ${m === 'gbrt' ? 'boosted trees (shipped)' : 'ridge baseline'} | ${f(s.mae)} | ${f(s.mape, 1)} % | ${s.r2.toFixed(3)} | ${s.n} |`;
      });
    });
  return [
    '# ffwatt advisor — model card',
    '',
    `Trained ${card.trainedAt} by \`make train\` (advisor/train-cli.ts). Files: \`${card.files.onnx}\`, \`${card.files.features}\` (feature encoding, coverage, uncertainty), \`${card.files.data}\` (the training rows).`,
    '',
    '## Data',
    '',
    ...card.data.campaigns.map(
      (c) =>
        `- campaign \`${c.id}\` (${c.name}${c.status && c.status !== 'done' ? `, ${c.status}: its finished runs are used` : ''}), created ${c.createdAt}`,
    ),
    `- ${card.data.runs.total} runs of ${card.data.runs.configurations} configurations: ${card.data.runs.train} for training, ${card.data.runs.validation} held out (${card.data.runs.validationConfigurations} configurations)`,
    ...card.data.dropped.map((d) => `- dropped: ${d.runs} run(s), ${d.reason}`),
    ...Object.entries(card.data.flags).map(([f, n]) => `- flag \`${f}\` on ${n} of the runs used`),
    ...card.data.hardware.map(
      (h) =>
        `- hardware \`${h.name}\`: ${h.cpuModel}, ${h.cores} cores, ${h.gpu ? 'GPU' : 'no GPU'}, meter ${h.meterSource}; ${h.runs} runs; encoders ${h.encoders.join(', ')}`,
    ),
    '',
    ...card.data.classes.flatMap((c) => [
      `## Hardware class \`${c.hardwareClass}\``,
      '',
      ...c.hardware.map(
        (h) =>
          `- ${h.cpuModel}, ${h.cores} logical CPUs, ${h.gpu ? 'GPU' : 'no GPU'}, meter ${h.meterSource} (advisor hardware name \`${h.name}\`); encoders ${h.encoders.join(', ')}`,
      ),
      `- ${c.runs} runs used${
        Object.keys(c.flags).length
          ? `; flags: ${Object.entries(c.flags)
              .map(([f, n]) => `${f} ${n}`)
              .join(', ')}`
          : ''
      }`,
      ...(c.machineOverJob
        ? [
            `- load: the machine-wide estimate over the same windows was ${c.machineOverJob.median.toFixed(2)}× the encode's own (median; 10–90 %: ${c.machineOverJob.p10.toFixed(2)}–${c.machineOverJob.p90.toFixed(2)}×). The difference is other processes' CPU; the model learns the encode's own figure, so it is left out.`,
          ]
        : []),
      `- ask for it: \`ffwatt recommend --class ${c.hardwareClass} …\` (or \`--node NAME\` of a node of this class)`,
      '',
    ]),
    '## Model',
    '',
    `${card.algorithm.model}; parameters ${Object.entries(card.algorithm.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}; ` +
      `per target ${Object.entries(card.algorithm.perTarget)
        .map(([t, c]) => `${t}: ${c.loss} loss, depth ${c.maxDepth}, ${c.nTrees} trees`)
        .join('; ')} (${card.algorithm.tuning}).`,
    `Baseline: ${card.algorithm.baseline}. Split: ${card.algorithm.split}.`,
    `Targets: ${card.algorithm.targets.map((t) => `${t.name} = ${t.note}, learned as ${t.learnedAs}`).join('; ')}. Uncertainty: ${card.algorithm.uncertainty}.`,
    '',
    '## Held-out errors (configurations never seen in training)',
    '',
    `The shipped model, fitted on the training part, scored on the ${card.data.runs.validationConfigurations} held-out configurations:`,
    '',
    '| target | model | MAE | MAPE | R² | runs |',
    '| --- | --- | --- | --- | --- | --- |',
    ...table(card.heldOut),
    '',
    ...(card.crossValidated
      ? [
          `Grouped ${card.crossValidated.folds}-fold cross-validation over all runs (every configuration held out once; same recipe, tuning inside each fold), pooled out-of-fold predictions:`,
          '',
          '| target | model | MAE | MAPE | R² | runs |',
          '| --- | --- | --- | --- | --- | --- |',
          ...table(card.crossValidated).map((l) => l.replace('boosted trees (shipped)', 'boosted trees')),
          '',
        ]
      : []),
    '## Limits',
    '',
    ...card.limits.map((l) => `- ${l}`),
    '',
  ].join('\n');
}
