// HTML writer: one self-contained file (inline CSS and SVG, no script, no network).
import { figuresText } from './cost.ts';
import type { ReportModel, ScenarioReport } from '../core/report-model.ts';
import { bitrate, bytes, flagList, meterStateText, num, signedPct, stat } from './format.ts';
import { barChart, esc, lineChart, scatterChart } from './svg.ts';
import { stratumLabel } from '../core/strata.ts';
import { ESTIMATE_WHY, MAX_TEST_ROWS, rankingStrata, strataLine } from './write-md.ts';

const plain = (md: string) => md.replace(/\*\*/g, '').replace(/`/g, '');

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#fff; --accent:#0b5cad; --est:#b35900; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .3em; } h2 { font-size: 1.25em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
p.meta, .muted { color: var(--muted); }
.note { border-left: 4px solid var(--accent); padding: .4em .8em; background: #f3f8fd; }
.warn { border-left: 4px solid var(--est); padding: .4em .8em; background: #fff6ec; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: .4em 0 1em; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.estimate td { background: #fff6ec; }
.badge { display: inline-block; padding: 0 .4em; border-radius: 3px; font-size: 11px; font-weight: 600; }
.badge.est { background: var(--est); color: #fff; } .badge.meas { background: #e7f0e7; color: #1a5e20; }
.sig { color: #1a5e20; font-weight: 600; } .nsig { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; break-inside: avoid; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 4px; }
svg .grid { stroke: #eaeef2; } svg .axis { stroke: #57606a; } svg .tick { font-size: 11px; fill: #57606a; } svg .label { font-size: 12px; fill: #1b1f24; }
svg .dot { fill: #1f77b4; fill-opacity: .75; stroke: #fff; } svg .dot.on-front { fill: #d62728; }
svg .dot.estimate { fill: #fff; stroke: var(--est); stroke-width: 2; stroke-dasharray: 3 2; } svg .est { font-size: 10px; fill: var(--est); }
svg .front { fill: none; stroke: #d62728; stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .bar.estimate { fill-opacity: .35; stroke: var(--est); stroke-width: 2; stroke-dasharray: 4 2; }
svg .whisker { stroke: #1b1f24; stroke-width: 1.5; } svg .series { fill: none; stroke-width: 2; } svg .series.estimate { stroke-dasharray: 5 3; }
.legend .sw { display: inline-block; width: 10px; height: 10px; margin: 0 2px 0 8px; vertical-align: middle; }
.front-sw { background: #d62728; } .est-sw { border: 2px dashed var(--est); }
ul.plain { padding-left: 1.2em; }
@media screen { #scenario-table td:first-child, #cost-table td:first-child, #ranking-table td:nth-child(2) { white-space: nowrap; } }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  table { font-size: 8.5px; } .table-wrap { overflow: visible; }
  h2 { break-after: avoid; } table, figure.chart { break-inside: avoid; }
  .charts { grid-template-columns: 1fr 1fr; } th { position: static; }
  a { color: inherit; text-decoration: none; }
}
`;

const badge = (s: { estimate: boolean; sourceLabel: string }) =>
  s.estimate
    ? `<span class="badge est">${esc(s.sourceLabel)}</span>`
    : `<span class="badge meas">${esc(s.sourceLabel)}</span>`;
const td = (v: string, numeric = false) => `<td${numeric ? ' class="num"' : ''}>${v}</td>`;

function htmlTable(
  head: string[],
  rows: Array<{ cells: string[]; estimate?: boolean; numeric?: boolean[] }>,
  id: string,
): string {
  return `<div class="table-wrap"><table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr${r.estimate ? ' class="estimate"' : ''}>${r.cells.map((c, i) => td(c, r.numeric?.[i])).join('')}</tr>`).join('\n')}
</tbody></table></div>`;
}

function summary(m: ReportModel): string {
  const c = m.campaign;
  const t = m.totals.runs;
  const top = rankingStrata(m).map(
    (st) =>
      `<p>Lowest energy per encoded minute on <b>${esc(st.stratum)}</b>:</p><ol>${st.rows
        .slice(0, 3)
        .map(
          (r) =>
            `<li>${esc(r.label)}: <b>${esc(stat(r.energy))}</b> J per encoded minute (${m.basis.energy}) ${badge(r)}</li>`,
        )
        .join('')}</ol>`,
  );
  const best = m.scenarios.filter((s) => s.efficiency === 1);
  return `<header><h1>ffwatt report: ${esc(c.name)}</h1>
<p class="meta">Campaign <code>${esc(c.id)}</code> (${esc(c.status)}), created ${esc(c.createdAt)} · generated ${esc(m.generatedAt)} · ${m.totals.scenarios} scenarios · runs ${t.succeeded} succeeded, ${t.failed} failed, ${t.canceled} canceled · repetitions ${c.repetitions.min}–${c.repetitions.max}, CI target ±${c.repetitions.ciHalfwidthPct}%</p></header>
<section id="summary"><h2>Summary</h2>
<p class="note">${esc(m.basis.note)}</p>
${m.scenarios.some((s) => s.estimate) ? `<p class="warn"><span class="badge est">ESTIMATE</span> ${esc(plain(ESTIMATE_WHY))}</p>` : ''}
<p class="note">${esc(strataLine(m))}</p>
<p class="${m.excluded.runs ? 'warn' : 'note'}" id="left-out-note">${esc(m.excluded.note)}</p>
${top.length ? top.join('\n') : '<p>No scenario has an energy figure; nothing is ranked.</p>'}
${best.length ? `<p>Most ${esc(m.qualityMetric?.toUpperCase() ?? '')} per J/encoded minute, per content and stratum: ${best.map((s) => `${esc(s.label)} on ${esc(s.hardwareClass)} ${badge(s)}`).join('; ')}.</p>` : ''}
${m.reference ? `<p>Reference configuration: <b>${esc(m.reference.encoder ?? m.reference.codec)} ${esc(m.reference.preset)}</b> (${esc(m.reference.chosenBy)}).</p>` : ''}
<p>Pairwise tests: ${m.comparisons.tests.filter((x) => x.significant).length} of ${m.comparisons.tests.length} differences are significant after Holm correction.</p>
</section>`;
}

function ranking(m: ReportModel): string {
  const blocks = rankingStrata(m).map(
    (st, i) => `<h3>${esc(st.stratum)}</h3>${st.estimate ? `<p class="warn">${esc(plain(ESTIMATE_WHY))}</p>` : ''}
${htmlTable(
  ['rank', 'scenario', `J/encoded min (${m.basis.energy})`, 'source', 'flags'],
  st.rows.map((r) => ({
    cells: [String(r.rank), esc(r.label), esc(stat(r.energy)), badge(r), esc(r.flags.join(', '))],
    estimate: r.estimate,
    numeric: [true, false, true],
  })),
  i === 0 ? 'ranking-table' : `ranking-table-${i}`,
)}`,
  );
  return `<section id="ranking"><h2>Ranking</h2><p class="muted">By ${m.basis.energy} J per encoded minute, mean ±95% CI half-width, lowest first, ranked within each hardware class and energy kind.</p>
${blocks.length ? blocks.join('\n') : '<p>Nothing is ranked: no counted run has an energy figure.</p>'}</section>`;
}

function machineComparison(m: ReportModel): string {
  const mc = m.machineComparison;
  if (mc.scenarios.length === 0)
    return `<section id="machines"><h2>Machine comparison</h2><p>${esc(mc.note)}</p></section>`;
  const q = mc.qualityMetric ? mc.qualityMetric.toUpperCase() : 'quality';
  const rows = mc.scenarios.flatMap((s) =>
    s.rows.map((r) => ({
      cells: [
        esc(s.label),
        esc(r.hardwareClass),
        r.energyKind === 'estimated' ? '<span class="badge est">ESTIMATE</span>' : esc(r.energyKind),
        esc(stat(r.energy)),
        esc(stat(r.quality)),
        esc(stat(r.speed, 3)),
        esc(num(r.kwhPerEncodedHour)),
        esc(num(r.energyCostPerEncodedHour)),
        esc(num(r.instanceCostPerEncodedHour)),
        esc(num(r.co2GramsPerEncodedMinute)),
        esc(figuresText(r.costFigures, m.cost.currency)),
      ],
      estimate: r.energyKind === 'estimated',
      numeric: [false, false, false, true, true, true, true, true, true, true, false],
    })),
  );
  const charts = mc.scenarios.slice(0, MAX_MACHINE_CHARTS).map((s, i) =>
    barChart({
      id: `machines-${i}`,
      title: `${s.label}: J per encoded minute (${m.basis.energy}) per hardware class`,
      yLabel: 'J per encoded minute',
      bars: s.rows
        .filter((r) => r.energy)
        .map((r) => ({
          id: `r${r.rowId}`,
          label: r.hardwareClass,
          value: r.energy!.mean,
          low: r.energy!.low,
          high: r.energy!.high,
          estimate: r.energyKind === 'estimated',
        })),
    }),
  );
  return `<section id="machines"><h2>Machine comparison</h2><p class="muted">${esc(mc.note)}</p>
${htmlTable(['scenario', 'hardware class', 'energy', `J/encoded min (${m.basis.energy})`, q, 'speed', 'kWh / encoded h', `energy ${m.cost.currency} / encoded h`, `instance ${m.cost.currency} / encoded h`, 'g CO2e / encoded min', 'priced with'], rows, 'machine-table')}
<div class="charts">${charts.join('\n')}</div>${mc.scenarios.length > MAX_MACHINE_CHARTS ? `<p class="muted">Charts for the first ${MAX_MACHINE_CHARTS} of ${mc.scenarios.length} scenarios; all are in the table.</p>` : ''}</section>`;
}

/** Beyond this many scenarios the machine comparison keeps its table but stops drawing charts. */
const MAX_MACHINE_CHARTS = 24;

function leftOut(m: ReportModel): string {
  const e = m.excluded;
  return `<section id="left-out"><h2>Left out of the statistics</h2><p class="${e.runs ? 'warn' : 'note'}">${esc(e.note)}</p>
${
  e.rows.length
    ? htmlTable(
        ['scenario', 'class · energy', 'runs left out', 'reasons'],
        e.rows.map((r) => ({
          cells: [esc(r.label), esc(r.stratum), String(r.runs), esc(flagList(r.reasons))],
          numeric: [false, false, true],
        })),
        'left-out-table',
      )
    : ''
}</section>`;
}

function scenarioTable(m: ReportModel): string {
  const rows = m.scenarios.map((s: ScenarioReport) => ({
    cells: [
      esc(s.label),
      esc(s.stratum),
      String(s.runs.succeeded),
      String(s.excluded.runs),
      String(s.runs.failed + s.runs.canceled),
      `${s.repetitions.met ? '✔' : '✘'} ${esc(s.repetitions.note)}`,
      esc(stat(s.metrics.jPerMin)),
      esc(stat(s.metrics.netJPerMin)),
      esc(stat(s.metrics.avgW)),
      esc(stat(s.metrics.fps)),
      esc(stat(s.metrics.speed, 3)),
      esc(bitrate(s.metrics.bitrateBps?.mean)),
      esc(bytes(s.metrics.outputBytes?.mean)),
      esc(stat(s.metrics.psnr)),
      esc(stat(s.metrics.ssim)),
      esc(stat(s.metrics.vmaf)),
      badge(s),
      s.idleBaseline.used ? esc(num(s.idleBaseline.watts?.mean)) : 'none',
      s.efficiency == null ? '—' : `${esc(num(s.efficiency * 100, 3))}%`,
      esc(flagList(s.flags)),
      esc(s.missing.join('; ')),
    ],
    estimate: s.estimate,
    numeric: [
      false,
      false,
      true,
      true,
      true,
      false,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      true,
      true,
    ],
  }));
  return `<section id="scenarios"><h2>Scenarios</h2><p class="muted">Mean ±95% CI half-width over succeeded runs; J/min = joules per encoded minute.</p>
${htmlTable(['scenario', 'class · energy', 'ok', 'left out', 'failed', 'repetitions', 'J/min gross', 'J/min net', 'W', 'fps', 'speed', 'bitrate', 'size', 'PSNR', 'SSIM', 'VMAF', 'source', 'idle W', 'efficiency', 'flags', 'missing'], rows, 'scenario-table')}</section>`;
}

function comparisons(m: ReportModel): string {
  const rel = m.relative.length
    ? `<ul class="plain">${m.relative.map((r) => `<li${r.estimate ? ' class="estimate"' : ''}>${esc(r.text)}${r.estimate ? ' <span class="badge est">ESTIMATE</span>' : ''}</li>`).join('')}</ul>`
    : '<p>No scenario shares its work with a reference scenario.</p>';
  const c = m.comparisons;
  const tests = c.tests.length
    ? htmlTable(
        ['A', 'B', 'class · energy', 'A vs B', 't', 'df', 'p', 'Holm p', "Hedges' g", 'result'],
        c.tests.slice(0, MAX_TEST_ROWS).map((t) => ({
          cells: [
            esc(t.labelA),
            esc(t.labelB),
            esc(stratumLabel(t.hardwareClass, t.energyKind)),
            esc(signedPct(t.diffPct)),
            esc(num(t.t, 3)),
            esc(num(t.df, 3)),
            esc(num(t.p, 3)),
            esc(num(t.pHolm, 3)),
            esc(num(t.hedgesG, 3)),
            `<span class="${t.significant ? 'sig' : 'nsig'}">${esc(t.verdict)}</span>`,
          ],
          estimate: t.estimate,
          numeric: [false, false, false, true, true, true, true, true, true],
        })),
        'pairwise-table',
      ) +
      (c.tests.length > MAX_TEST_ROWS
        ? `<p class="muted">First ${MAX_TEST_ROWS} of ${c.tests.length} tests shown; all are in report.json.</p>`
        : '')
    : '<p>No pair of scenarios doing the same work has two or more runs each.</p>';
  return `<section id="comparisons"><h2>Comparisons</h2>
<h3>Relative to the reference</h3>${rel}
<h3>Pairwise Welch tests</h3><p class="muted">${esc(c.note)} Metric: ${esc(c.metric)}. Family: ${esc(c.family)}.</p>${tests}</section>`;
}

function paretoCharts(m: ReportModel): string {
  const charts: string[] = [];
  for (const [i, st] of m.pareto.entries())
    for (const set of [st.quality, st.speed]) {
      if (!set) continue;
      charts.push(
        scatterChart({
          id: i === 0 ? `pareto-${set.metric}` : `pareto-${set.metric}-${i}`,
          title: `${st.stratum}: energy vs ${set.metric.toUpperCase()}, Pareto front (lower energy, higher ${set.metric})`,
          xLabel: `J per encoded minute (${m.basis.energy})`,
          yLabel: set.metric === 'speed' ? 'speed (× real time)' : set.metric.toUpperCase(),
          points: set.points.map((p) => ({
            id: `s${p.rowId}`,
            x: p.energy,
            y: p.value,
            label: p.label,
            highlight: p.onFront,
            estimate: p.estimate,
          })),
        }),
      );
    }
  return `<section id="pareto"><h2>Pareto fronts</h2>${charts.length ? `<div class="charts">${charts.join('\n')}</div>` : '<p>No scenario has both energy and quality/speed figures.</p>'}</section>`;
}

function codecBars(m: ReportModel): string {
  // One chart per codec and stratum: bars of different classes or energy kinds never stand side by side.
  const groups = [
    ...new Map(
      m.scenarios
        .filter((s) => s.energy)
        .map((s) => [`${s.codec}\u0000${s.stratum}`, { codec: s.codec, stratum: s.stratum }]),
    ).values(),
  ];
  const strataPerCodec = (codec: string) => groups.filter((g) => g.codec === codec).length;
  const charts = groups.map(({ codec, stratum }, i) =>
    barChart({
      id: strataPerCodec(codec) === 1 ? `bars-${codec}` : `bars-${codec}-${i}`,
      title: `${codec} on ${stratum}: J per encoded minute (${m.basis.energy}) per scenario`,
      yLabel: 'J per encoded minute',
      bars: m.scenarios
        .filter((s) => s.codec === codec && s.stratum === stratum && s.energy)
        .map((s) => ({
          id: `s${s.id}`,
          label: `${s.preset} ${s.rateLabel}${s.streams > 1 ? ` x${s.streams}` : ''}`,
          value: s.energy!.mean,
          low: s.energy!.low,
          high: s.energy!.high,
          estimate: s.estimate,
        })),
    }),
  );
  return `<section id="codecs"><h2>Energy per codec</h2>${charts.length ? `<div class="charts">${charts.join('\n')}</div>` : '<p>No energy figures.</p>'}</section>`;
}

function curveCharts(m: ReportModel): string {
  const title = (c: ReportModel['curves'][number]) =>
    `${c.group} on ${c.hardwareClass}${c.estimate ? ' (ESTIMATE)' : ''}`;
  const groups = [...new Set(m.curves.map(title))];
  const blocks = groups.map((g, gi) => {
    const curves = m.curves.filter((c) => title(c) === g);
    const series = (key: 'energy' | 'quality') =>
      curves
        .map((c) => ({
          name: c.config,
          estimate: c.estimate,
          points: c.points
            .filter((p) => p.bitrateBps != null && p[key] != null)
            .map((p) => ({ id: `s${p.rowId}`, x: p.bitrateBps!, y: p[key]!, label: p.rateLabel })),
        }))
        .filter((s) => s.points.length > 0);
    const charts = [];
    const e = series('energy');
    if (e.length)
      charts.push(
        lineChart({
          id: `curve-energy-${gi}`,
          title: `${g}: energy vs bitrate`,
          xLabel: 'bitrate (bit/s, log)',
          yLabel: `J per encoded minute (${m.basis.energy})`,
          series: e,
        }),
      );
    const q = series('quality');
    if (q.length && m.qualityMetric)
      charts.push(
        lineChart({
          id: `curve-quality-${gi}`,
          title: `${g}: ${m.qualityMetric.toUpperCase()} vs bitrate`,
          xLabel: 'bitrate (bit/s, log)',
          yLabel: m.qualityMetric.toUpperCase(),
          series: q,
        }),
      );
    const bd = htmlTable(
      ['configuration', 'rates', 'anchor', 'BD-rate', 'BD-energy', 'note'],
      curves.map((c) => ({
        cells: [
          esc(c.config) + (c.estimate ? ' <span class="badge est">ESTIMATE</span>' : ''),
          esc(c.points.map((p) => p.rateLabel).join(', ')),
          esc(c.bd?.anchor || '—'),
          c.bd?.bdRatePct == null ? '—' : esc(signedPct(c.bd.bdRatePct)),
          c.bd?.bdEnergyPct == null ? '—' : esc(signedPct(c.bd.bdEnergyPct)),
          esc(c.bd?.reason ?? ''),
        ],
        estimate: c.estimate,
        numeric: [false, false, false, true, true],
      })),
      `bd-table-${gi}`,
    );
    return `<h3>${esc(g)}</h3><div class="charts">${charts.join('\n')}</div>${bd}`;
  });
  return `<section id="curves"><h2>Rate–energy curves</h2><p class="muted">BD-rate: bitrate difference at equal quality vs the anchor curve; BD-energy: energy difference at equal quality (PCHIP over log values, needs ≥ 4 rates per curve).</p>${blocks.length ? blocks.join('\n') : '<p>No configuration was run at two or more rates.</p>'}</section>`;
}

function cost(m: ReportModel): string {
  const a = m.cost;
  return `<section id="cost"><h2>Cost and CO2 per encoded hour</h2>
<p class="note">Each run is priced with its own node's figures (node labels cost.*, from the inventory); a figure the node lacks is the report's: ${esc(String(a.pricePerKwh))} ${esc(a.currency)}/kWh, ${esc(String(a.carbonGramsPerKwh))} g CO2e/kWh, instance ${a.instanceCostPerHour == null ? 'not priced (no instanceCostPerHour given)' : `${esc(String(a.instanceCostPerHour))} ${esc(a.currency)}/h`}.${a.defaulted.length ? ` Defaults used for: ${esc(a.defaulted.join(', '))}.` : ''} Energy is gross (what the meters measured).</p>
${htmlTable(
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
  m.scenarios.map((s) => ({
    cells: [
      esc(s.label),
      esc(s.hardwareClass),
      esc(num(s.cost.kwhPerEncodedHour)),
      esc(num(s.cost.energyCostPerEncodedHour)),
      esc(num(s.cost.co2GramsPerEncodedHour)),
      esc(num(s.cost.co2GramsPerEncodedMinute)),
      esc(num(s.cost.instanceCostPerEncodedHour)),
      esc(figuresText(s.cost.figures, a.currency)),
      badge(s),
    ],
    estimate: s.estimate,
    numeric: [false, false, true, true, true, true, true, false],
  })),
  'cost-table',
)}</section>`;
}

function provenance(m: ReportModel): string {
  const p = m.provenance;
  const list = (xs: Array<{ value: string; runs: number }>) =>
    xs.length ? xs.map((x) => `${esc(x.value)} (${x.runs} runs)`).join('; ') : '—';
  return `<section id="provenance"><h2>Provenance</h2><ul class="plain">
<li>FFmpeg: ${list(p.ffmpegVersions)}</li><li>CPU: ${list(p.cpuModels)}</li><li>GPU: ${list(p.gpus)}</li><li>Kernel: ${list(p.kernels)}</li><li>Nodes: ${list(p.nodes)}</li><li>Hardware classes: ${list(p.hardwareClasses)}</li>
<li>Meters: ${p.meters.length ? p.meters.map((x) => `${esc(x.meter)} (${x.source === 'estimate' ? '<span class="badge est">estimate</span>' : esc(x.source)}, ${meterStateText(x.state)}, ${x.runs} runs)`).join('; ') : '—'}</li>
<li>Idle baselines: ${p.idleBaselines.length ? p.idleBaselines.map((b) => `${esc(b.nodeId)} ${esc(num(b.totalW))} W over ${esc(num(b.seconds))} s (${esc(b.source)}, ${esc(b.measuredAt)})`).join('; ') : 'none measured'}</li>
</ul></section>
<section id="method"><h2>Method</h2><ul class="plain">${m.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>`;
}

export function renderHtml(m: ReportModel): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ffwatt report: ${esc(m.campaign.name)}</title>
<style>${CSS}</style></head>
<body>
${summary(m)}
${ranking(m)}
${paretoCharts(m)}
${machineComparison(m)}
${codecBars(m)}
${curveCharts(m)}
${comparisons(m)}
${scenarioTable(m)}
${cost(m)}
${leftOut(m)}
${provenance(m)}
</body></html>
`;
}
