/** The results table: plain text for the terminal, Markdown for docs/PERFORMANCE.md. */
import type { BenchResult } from './result.ts';

const metText = (m: boolean | null) => (m === null ? '—' : m ? 'yes' : 'NO');

function lines(results: BenchResult[]): string[][] {
  const out: string[][] = [];
  for (const r of results) {
    for (const row of r.rows) out.push([r.name, row.label, row.display, row.target?.text ?? '—', metText(row.met)]);
  }
  return out;
}

const HEAD = ['benchmark', 'figure', 'measured', 'target', 'met?'];

export function renderTable(results: BenchResult[]): string {
  const body = lines(results);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((l) => l[i].length)));
  const fmtLine = (l: string[]) =>
    l
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [fmtLine(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmtLine)].join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdownTable(results: BenchResult[]): string {
  const body = lines(results);
  return [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...body.map((l) => `| ${l.map(md).join(' | ')} |`),
  ].join('\n');
}
