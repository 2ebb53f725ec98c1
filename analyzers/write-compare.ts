// Writers of the campaign-vs-campaign report: Markdown, JSON and self-contained HTML.
import type { CompareModel } from './campaign-compare.ts';
import { num, round, signedPct, stat } from './format.ts';
import { table } from './write-md.ts';
import { esc } from './svg.ts';

export type CompareFormat = 'md' | 'json' | 'html';
export const COMPARE_FORMATS: readonly CompareFormat[] = ['md', 'json', 'html'];

const side = (s: CompareModel['base']) =>
  `\`${s.id}\` "${s.name}" (${s.createdAt}, ${s.db}; ${s.runs} succeeded runs, ${s.leftOut} left out)`;
const values = (xs: Array<{ value: string; runs: number }>) =>
  xs.length ? xs.map((x) => `${x.value} (${x.runs})`).join('; ') : '—';
const quality = (q: CompareModel['matches'][number]['quality']) => (q ? `${num(q.base)} → ${num(q.test)}` : '—');

function matchCells(m: CompareModel['matches'][number]): string[] {
  return [
    m.label,
    m.stratum,
    stat(m.base),
    stat(m.test),
    m.diffPct == null ? '—' : signedPct(m.diffPct),
    num(m.t, 3),
    num(m.df, 3),
    num(m.p, 3),
    num(m.pHolm, 3),
    num(m.hedgesG, 3),
    quality(m.quality),
    `${num(m.speed.base, 3)} → ${num(m.speed.test, 3)}`,
    m.verdict,
  ];
}

const MATCH_HEAD = (c: CompareModel) => [
  'scenario',
  'class · energy',
  `base J/encoded min (${c.basis.energy})`,
  `test J/encoded min (${c.basis.energy})`,
  'test vs base',
  't',
  'df',
  'p',
  'Holm p',
  "Hedges' g",
  c.matches.find((m) => m.quality)?.quality?.metric.toUpperCase() ?? 'quality',
  'speed',
  'result',
];

export function renderCompareMarkdown(c: CompareModel): string {
  const changed = c.provenance.filter((d) => d.changed);
  const same = c.provenance.filter((d) => !d.changed);
  const sig = c.matches.filter((m) => m.significant).length;
  const out = [
    '# ffwatt campaign comparison',
    '',
    `Base: ${side(c.base)}.`,
    `Test: ${side(c.test)}.`,
    `Report generated ${c.generatedAt}.`,
    '',
    `> ${c.basis.note}`,
    '',
    '## What changed',
    '',
    changed.length
      ? table(
          ['field', 'base', 'test'],
          changed.map((d) => [d.field, values(d.base), values(d.test)]),
        )
      : 'No recorded provenance field differs between the two campaigns.',
    '',
    `Unchanged: ${same.map((d) => `${d.field} ${values(d.base)}`).join('; ') || '—'}.`,
    '',
    '## Matched scenarios',
    '',
    `${c.matches.length} matched (same scenario, hardware class and energy kind); ${sig} differ significantly after Holm correction at α=${c.alpha}.`,
    '',
  ];
  if (c.matches.length) out.push(table(MATCH_HEAD(c), c.matches.map(matchCells)));
  else
    out.push(
      'No scenario of the base campaign ran on the same hardware class with the same energy kind in the test campaign.',
    );
  const unmatched = [
    ...c.unmatched.baseOnly.map((u) => ['base only', u.label, u.stratum]),
    ...c.unmatched.testOnly.map((u) => ['test only', u.label, u.stratum]),
  ];
  if (unmatched.length) out.push('', '## Not matched', '', table(['side', 'scenario', 'class · energy'], unmatched));
  out.push('', '## Method', '', ...c.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

export function renderCompareJson(c: CompareModel): string {
  return JSON.stringify(c, (_k, v) => (typeof v === 'number' ? round(v) : v), 2) + '\n';
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;max-width:1200px;margin:0 auto;padding:24px}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;width:100%;font-size:12.5px;margin:.4em 0 1em}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f6f8fa}.muted{color:#57606a}
.note{border-left:4px solid #0b5cad;padding:.4em .8em;background:#f3f8fd}tr.changed td{background:#fff6ec}.sig{color:#1a5e20;font-weight:600}.nsig{color:#57606a}
tr.estimate td{background:#fff6ec}@media print{body{max-width:none;padding:0}}`;

function htmlTable(head: string[], rows: Array<{ cells: string[]; cls?: string }>, id: string): string {
  return `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr${r.cls ? ` class="${r.cls}"` : ''}>${r.cells.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

export function renderCompareHtml(c: CompareModel): string {
  const prov = htmlTable(
    ['field', 'base', 'test', ''],
    c.provenance.map((d) => ({
      cells: [esc(d.field), esc(values(d.base)), esc(values(d.test)), d.changed ? '<b>changed</b>' : 'same'],
      cls: d.changed ? 'changed' : undefined,
    })),
    'provenance-table',
  );
  const matches = c.matches.length
    ? htmlTable(
        MATCH_HEAD(c),
        c.matches.map((m) => {
          const cells = matchCells(m).map(esc);
          cells[cells.length - 1] = `<span class="${m.significant ? 'sig' : 'nsig'}">${cells[cells.length - 1]}</span>`;
          return { cells, cls: m.energyKind === 'estimated' ? 'estimate' : undefined };
        }),
        'match-table',
      )
    : '<p>No scenario of the base campaign ran on the same hardware class with the same energy kind in the test campaign.</p>';
  const unmatched = [
    ...c.unmatched.baseOnly.map((u) => ['base only', u.label, u.stratum]),
    ...c.unmatched.testOnly.map((u) => ['test only', u.label, u.stratum]),
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>ffwatt comparison: ${esc(c.base.id)} vs ${esc(c.test.id)}</title><style>${CSS}</style></head>
<body><h1>ffwatt campaign comparison</h1>
<p class="muted">Base ${esc(side(c.base).replace(/`/g, ''))}<br>Test ${esc(side(c.test).replace(/`/g, ''))}<br>Generated ${esc(c.generatedAt)}</p>
<p class="note">${esc(c.basis.note)}</p>
<section id="provenance"><h2>What changed</h2>${prov}</section>
<section id="matches"><h2>Matched scenarios</h2><p class="muted">${c.matches.length} matched; ${c.matches.filter((m) => m.significant).length} differ significantly after Holm correction at α=${c.alpha}.</p>${matches}</section>
${
  unmatched.length
    ? `<section id="unmatched"><h2>Not matched</h2>${htmlTable(
        ['side', 'scenario', 'class · energy'],
        unmatched.map((u) => ({ cells: u.map(esc) })),
        'unmatched-table',
      )}</section>`
    : ''
}
<section id="method"><h2>Method</h2><ul>${c.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>
</body></html>
`;
}

export const COMPARE_RENDER: Record<CompareFormat, (c: CompareModel) => string> = {
  md: renderCompareMarkdown,
  json: renderCompareJson,
  html: renderCompareHtml,
};
