// Markdown writer: the full report as stable text (same model → same bytes).
import { figuresText } from './cost.ts';
import type { ReportModel, ScenarioReport } from '../core/report-model.ts';
import { bitrate, bytes, flagList, meterStateText, num, signedPct, stat } from './format.ts';
import { stratumLabel } from '../core/strata.ts';

/** Most pairwise tests listed in Markdown/HTML; the JSON report keeps them all. */
export const MAX_TEST_ROWS = 500;

const MD_SPECIAL = /[|\n]/;
const esc = (s: string) => (MD_SPECIAL.test(s) ? s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ') : s);

export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(head), `| ${head.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Energy-source cell: estimates are spelled out on every row. */
export const sourceCell = (s: { estimate: boolean; sourceLabel: string }) =>
  s.estimate ? `**${s.sourceLabel}**` : s.sourceLabel;

function header(model: ReportModel): string[] {
  const c = model.campaign;
  const t = model.totals.runs;
  const out = [
    `# ffwatt report: ${c.name}`,
    '',
    `Campaign \`${c.id}\` (${c.status}), created ${c.createdAt}; report generated ${model.generatedAt}.`,
    `${model.totals.scenarios} scenarios; runs: ${t.succeeded} succeeded, ${t.failed} failed, ${t.canceled} canceled.`,
    `Repetition policy: ${c.repetitions.min}–${c.repetitions.max} runs, stop when the 95% CI half-width is ≤ ${c.repetitions.ciHalfwidthPct}% of the mean.`,
    '',
    `> ${model.basis.note}`,
  ];
  if (model.scenarios.some((s) => s.estimate)) out.push('>', `> ${ESTIMATE_WHY}`);
  out.push('>', `> ${strataLine(model)}`, '>', `> ${model.excluded.note}`);
  return out;
}

/** Why estimates stand apart: printed wherever they appear. */
export const ESTIMATE_WHY =
  'Rows marked **ESTIMATE** carry modelled energy (source `estimate`: CPU time × watts per logical CPU; `mixed`: that estimate plus a measured GPU): they are not measurements, so they are ranked, tested and charted only against other estimates, never beside measured rows.';

export function strataLine(model: ReportModel): string {
  const list = model.strata
    .map((s) => `${s.stratum} (${s.scenarios} scenario${s.scenarios === 1 ? '' : 's'}, ${s.runs} runs)`)
    .join('; ');
  return `Strata (hardware class · energy kind), each ranked and tested on its own: ${list || 'none'}.`;
}

function summary(model: ReportModel): string[] {
  const out = ['', '## Summary', ''];
  if (model.ranking.length === 0) out.push('No scenario has an energy figure; nothing is ranked.');
  for (const st of rankingStrata(model)) {
    out.push(`Lowest on ${st.stratum}:`, '');
    for (const r of st.rows.slice(0, 3))
      out.push(
        `${r.rank}. ${r.label}: ${stat(r.energy)} J per encoded minute (${model.basis.energy})${r.estimate ? ' — **ESTIMATE**' : ''}`,
      );
    out.push('');
  }
  if (model.ranking.length) out.pop();
  const best = model.scenarios.filter((s) => s.efficiency === 1);
  if (best.length)
    out.push(
      '',
      `Most quality per joule (${model.qualityMetric?.toUpperCase()} per J/encoded minute), per content and stratum: ${best.map((s) => `${s.label} on ${s.stratum}`).join('; ')}.`,
    );
  if (model.reference)
    out.push(
      '',
      `Reference configuration: ${model.reference.encoder ?? model.reference.codec} ${model.reference.preset} (${model.reference.chosenBy}).`,
    );
  const sig = model.comparisons.tests.filter((t) => t.significant).length;
  out.push(
    '',
    `Pairwise tests: ${sig} of ${model.comparisons.tests.length} differences are significant after Holm correction.`,
  );
  return out;
}

/** Ranking rows grouped by stratum, in the model's order. */
export function rankingStrata(
  model: ReportModel,
): Array<{ stratum: string; estimate: boolean; rows: ReportModel['ranking'] }> {
  const out: Array<{ stratum: string; estimate: boolean; rows: ReportModel['ranking'] }> = [];
  for (const r of model.ranking) {
    const last = out[out.length - 1];
    if (last && last.stratum === r.stratum) last.rows.push(r);
    else out.push({ stratum: r.stratum, estimate: r.estimate, rows: [r] });
  }
  return out;
}

function ranking(model: ReportModel): string[] {
  const out = [
    '',
    '## Ranking',
    '',
    `By ${model.basis.energy} J per encoded minute (mean ±95% CI half-width), lowest first, ranked within each hardware class and energy kind.`,
  ];
  if (model.ranking.length === 0) out.push('', 'Nothing is ranked: no counted run has an energy figure.');
  for (const st of rankingStrata(model)) {
    out.push('', `### ${st.stratum}`, '');
    if (st.estimate) out.push(ESTIMATE_WHY, '');
    out.push(
      table(
        [
          'rank',
          'scenario',
          `J/encoded min (${model.basis.energy})`,
          `energy ${model.cost.currency} / encoded h`,
          'g CO2e / encoded min',
          'source',
          'flags',
        ],
        st.rows.map((r) => [
          String(r.rank),
          r.label,
          stat(r.energy),
          num(r.energyCostPerEncodedHour),
          num(r.co2GramsPerEncodedMinute),
          sourceCell(r),
          r.flags.join(', '),
        ]),
      ),
    );
  }
  return out;
}

function scenarios(model: ReportModel): string[] {
  const q = (s: ScenarioReport) => [stat(s.metrics.psnr), stat(s.metrics.ssim), stat(s.metrics.vmaf)];
  return [
    '',
    '## Scenarios',
    '',
    'Mean ±95% CI half-width over the counted succeeded runs. J/min = joules per encoded minute. One row per scenario, hardware class and energy kind.',
    '',
    table(
      [
        'scenario',
        'class · energy',
        'ok',
        'left out',
        'failed',
        'repetitions',
        'J/min gross',
        'J/min net',
        'W',
        'fps',
        'speed',
        'bitrate',
        'size',
        'PSNR',
        'SSIM',
        'VMAF',
        'source',
        'idle W',
        'efficiency',
        'flags',
      ],
      model.scenarios.map((s) => [
        s.label,
        s.stratum,
        String(s.runs.succeeded),
        String(s.excluded.runs),
        String(s.runs.failed + s.runs.canceled),
        `${s.repetitions.met ? 'met' : 'not met'}: ${s.repetitions.note}`,
        stat(s.metrics.jPerMin),
        stat(s.metrics.netJPerMin),
        stat(s.metrics.avgW),
        stat(s.metrics.fps),
        stat(s.metrics.speed, 3),
        bitrate(s.metrics.bitrateBps?.mean),
        bytes(s.metrics.outputBytes?.mean),
        ...q(s),
        sourceCell(s),
        s.idleBaseline.used ? num(s.idleBaseline.watts?.mean, 4) : 'none',
        s.efficiency == null ? '—' : `${num(s.efficiency * 100, 3)}%`,
        flagList(s.flags),
      ]),
    ),
  ];
}

function relative(model: ReportModel): string[] {
  if (!model.reference) return [];
  const out = [
    '',
    '## Relative to the reference',
    '',
    `Reference: ${model.reference.encoder ?? model.reference.codec} ${model.reference.preset}, same content, streams and rate setting.`,
    '',
  ];
  if (model.relative.length === 0) out.push('No scenario shares its work with a reference scenario.');
  for (const r of model.relative) out.push(`- ${r.text}`);
  return out;
}

function comparisons(model: ReportModel): string[] {
  const c = model.comparisons;
  const out = ['', '## Pairwise comparisons', '', `${c.note} Metric: ${c.metric}. Family: ${c.family}.`, ''];
  if (c.tests.length === 0) return [...out, 'No pair of scenarios doing the same work has two or more runs each.'];
  const shown = c.tests.slice(0, MAX_TEST_ROWS);
  out.push(
    table(
      ['A', 'B', 'class · energy', 'A vs B', 't', 'df', 'p', 'Holm p', "Hedges' g", 'result'],
      shown.map((t) => [
        t.labelA,
        t.labelB,
        stratumLabel(t.hardwareClass, t.energyKind),
        signedPct(t.diffPct),
        num(t.t, 3),
        num(t.df, 3),
        num(t.p, 3),
        num(t.pHolm, 3),
        num(t.hedgesG, 3),
        t.verdict,
      ]),
    ),
  );
  if (c.tests.length > shown.length)
    out.push('', `First ${shown.length} of ${c.tests.length} tests shown; all are in report.json.`);
  return out;
}

function pareto(model: ReportModel): string[] {
  const out = ['', '## Pareto fronts', '', 'One front per hardware class and energy kind.', ''];
  if (model.pareto.length === 0) out.push('No counted run has energy and quality/speed figures: no front.', '');
  for (const st of model.pareto) {
    out.push(`### ${st.stratum}`, '');
    for (const set of [st.quality, st.speed]) {
      if (!set) continue;
      const front = set.points.filter((p) => p.onFront).sort((a, b) => a.energy - b.energy);
      out.push(
        `Energy vs ${set.metric.toUpperCase()} (no other scenario of this stratum uses less energy and scores higher):`,
        '',
      );
      for (const p of front)
        out.push(
          `- ${p.label}: ${num(p.energy)} J/min, ${set.metric} ${num(p.value)}${p.estimate ? ' — **ESTIMATE**' : ''}`,
        );
      out.push('');
    }
    if (!st.quality) out.push('No quality scores: no energy–quality front.', '');
  }
  return out.slice(0, -1);
}

function machines(model: ReportModel): string[] {
  const mc = model.machineComparison;
  const out = ['', '## Machine comparison', '', mc.note];
  if (mc.scenarios.length === 0) return out;
  const q = mc.qualityMetric ? mc.qualityMetric.toUpperCase() : 'quality';
  out.push(
    '',
    table(
      [
        'scenario',
        'hardware class',
        'energy',
        `J/encoded min (${model.basis.energy})`,
        q,
        'speed',
        'kWh / encoded h',
        `energy ${model.cost.currency} / encoded h`,
        `instance ${model.cost.currency} / encoded h`,
        'g CO2e / encoded min',
        'priced with',
      ],
      mc.scenarios.flatMap((m) =>
        m.rows.map((r) => [
          m.label,
          r.hardwareClass,
          r.energyKind === 'estimated' ? '**ESTIMATE**' : r.energyKind,
          stat(r.energy),
          stat(r.quality),
          stat(r.speed, 3),
          num(r.kwhPerEncodedHour),
          num(r.energyCostPerEncodedHour),
          num(r.instanceCostPerEncodedHour),
          num(r.co2GramsPerEncodedMinute),
          figuresText(r.costFigures, model.cost.currency),
        ]),
      ),
    ),
  );
  return out;
}

function leftOut(model: ReportModel): string[] {
  const e = model.excluded;
  const out = ['', '## Left out of the statistics', '', e.note];
  if (e.rows.length)
    out.push(
      '',
      table(
        ['scenario', 'class · energy', 'runs left out', 'reasons'],
        e.rows.map((r) => [r.label, r.stratum, String(r.runs), flagList(r.reasons)]),
      ),
    );
  return out;
}

function curves(model: ReportModel): string[] {
  const out = ['', '## Rate–energy curves', ''];
  if (model.curves.length === 0) return [...out, 'No configuration was run at two or more rates.'];
  out.push(
    'BD-rate: bitrate difference at equal quality vs the anchor curve; BD-energy: energy difference at equal quality (PCHIP over log values, ≥ 4 rates).',
    '',
    table(
      [
        'content',
        'class',
        'configuration',
        'points (rate: bitrate, J/min, quality)',
        'anchor',
        'BD-rate',
        'BD-energy',
        'note',
        'source',
      ],
      model.curves.map((c) => [
        c.group,
        c.hardwareClass,
        c.config,
        c.points.map((p) => `${p.rateLabel}: ${bitrate(p.bitrateBps)}, ${num(p.energy)}, ${num(p.quality)}`).join('; '),
        c.bd?.anchor || '—',
        c.bd?.bdRatePct == null ? '—' : signedPct(c.bd.bdRatePct),
        c.bd?.bdEnergyPct == null ? '—' : signedPct(c.bd.bdEnergyPct),
        c.bd?.reason ?? '',
        c.estimate ? '**ESTIMATE**' : 'measured',
      ]),
    ),
  );
  return out;
}

function cost(model: ReportModel): string[] {
  const a = model.cost;
  return [
    '',
    '## Cost and CO2 per encoded hour',
    '',
    `Each run is priced with its own node's figures (node labels cost.*, from the inventory); a figure the node lacks is the report's: ${a.pricePerKwh} ${a.currency}/kWh, ${a.carbonGramsPerKwh} g CO2e/kWh, instance ${a.instanceCostPerHour == null ? 'not priced (no instanceCostPerHour given)' : `${a.instanceCostPerHour} ${a.currency}/h`}.${a.defaulted.length ? ` Defaults used for: ${a.defaulted.join(', ')}.` : ''} "priced with" names each figure's origin (node, report or default). Energy is gross.`,
    '',
    table(
      [
        'scenario',
        'class',
        'kWh',
        `energy ${a.currency}`,
        'g CO2e',
        'g CO2e / encoded min',
        `instance ${a.currency}`,
        'priced with',
        'source',
      ],
      model.scenarios.map((s) => [
        s.label,
        s.hardwareClass,
        num(s.cost.kwhPerEncodedHour),
        num(s.cost.energyCostPerEncodedHour),
        num(s.cost.co2GramsPerEncodedHour),
        num(s.cost.co2GramsPerEncodedMinute),
        num(s.cost.instanceCostPerEncodedHour),
        figuresText(s.cost.figures, a.currency),
        sourceCell(s),
      ]),
    ),
  ];
}

function missing(model: ReportModel): string[] {
  const rows = model.scenarios.filter((s) => s.missing.length);
  if (rows.length === 0) return [];
  return ['', '## Missing figures', '', ...rows.map((s) => `- ${s.label} (${s.stratum}): ${s.missing.join('; ')}`)];
}

function provenance(model: ReportModel): string[] {
  const p = model.provenance;
  const list = (xs: Array<{ value: string; runs: number }>) =>
    xs.length ? xs.map((x) => `${x.value} (${x.runs} runs)`).join('; ') : '—';
  return [
    '',
    '## Provenance',
    '',
    `- FFmpeg: ${list(p.ffmpegVersions)}`,
    `- CPU: ${list(p.cpuModels)}`,
    `- GPU: ${list(p.gpus)}`,
    `- Kernel: ${list(p.kernels)}`,
    `- Nodes: ${list(p.nodes)}`,
    `- Hardware classes: ${list(p.hardwareClasses)}`,
    `- Meters: ${p.meters.length ? p.meters.map((m) => `${m.meter} (${m.source === 'estimate' ? '**estimate**' : m.source}, ${meterStateText(m.state)}, ${m.runs} runs)`).join('; ') : '—'}`,
    `- Idle baselines: ${p.idleBaselines.length ? p.idleBaselines.map((b) => `${b.nodeId} ${num(b.totalW)} W over ${num(b.seconds)} s (${b.source}, ${b.measuredAt})`).join('; ') : 'none measured'}`,
  ];
}

export function renderMarkdown(model: ReportModel): string {
  const parts = [
    ...header(model),
    ...summary(model),
    ...ranking(model),
    ...scenarios(model),
    ...relative(model),
    ...comparisons(model),
    ...pareto(model),
    ...machines(model),
    ...curves(model),
    ...cost(model),
    ...leftOut(model),
    ...missing(model),
    ...provenance(model),
    '',
    '## Method',
    '',
    ...model.notes.map((n) => `- ${n}`),
  ];
  return parts.join('\n') + '\n';
}
