// Writes the report files of one campaign and renders the short end-of-run summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../core/errors.ts';
import type { DB } from '../store/store.ts';
import type { CostOptions, ReportModel } from '../core/report-model.ts';
import { summarize } from './summarize.ts';
import type { ReferenceChoice } from './compare.ts';
import { renderMarkdown, sourceCell, table } from './write-md.ts';
import { renderCsv } from './write-csv.ts';
import { renderJson } from './write-json.ts';
import { renderHtml } from './write-html.ts';
import { bitrate, bytes, num, stat } from './format.ts';

export type ReportFormat = 'md' | 'csv' | 'json' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'csv', 'json', 'html'];

export interface WriteReportsOptions {
  db: string | DB;
  campaignId?: string;
  formats?: ReportFormat[];
  outDir: string;
  cost?: CostOptions;
  reference?: ReferenceChoice;
  /** Count flagged runs in the statistics (default false: left out and listed). */
  includeFlagged?: boolean;
  /** Pins the report timestamp (tests); default now. */
  now?: Date;
}

const RENDER: Record<ReportFormat, (m: ReportModel) => string> = {
  md: renderMarkdown,
  csv: renderCsv,
  json: renderJson,
  html: renderHtml,
};

function checkFormats(formats: ReportFormat[]): void {
  for (const f of formats) {
    if (!REPORT_FORMATS.includes(f))
      throw new InputError(`unknown report format "${f}"`, {
        field: 'format',
        fix: `use some of: ${REPORT_FORMATS.join(', ')}`,
      });
  }
}

/** Writes `report.<format>` files of an already built model under outDir; returns their paths. */
export function writeModelFiles(model: ReportModel, formats: ReportFormat[], outDir: string): Record<string, string> {
  checkFormats(formats);
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const f of formats) {
    const path = join(dir, `report.${f}`);
    writeFileSync(path, RENDER[f](model));
    files[f] = path;
  }
  return files;
}

/** Builds the model once and writes `report.<format>` files under outDir; returns their paths. */
export async function writeReports(
  opts: WriteReportsOptions,
): Promise<{ files: Record<string, string>; model: ReportModel }> {
  const formats = opts.formats ?? [...REPORT_FORMATS];
  checkFormats(formats);
  const model = summarize({
    db: opts.db,
    campaignId: opts.campaignId,
    cost: opts.cost,
    reference: opts.reference,
    includeFlagged: opts.includeFlagged,
    now: opts.now,
  });
  return { files: writeModelFiles(model, formats, opts.outDir), model };
}

/** The short per-scenario table printed at the end of a run. */
export function renderSummaryMarkdown(model: ReportModel): string {
  // With several hardware classes each row names its class: the figures of two machines are not one list.
  const classes = new Set(model.scenarios.map((s) => s.hardwareClass)).size > 1;
  const rows = model.scenarios.map((s) => {
    const q = [s.metrics.psnr, s.metrics.ssim, s.metrics.vmaf].map((m) => num(m?.mean, 4)).join(' / ');
    return [
      s.label +
        (classes ? ` on ${s.hardwareClass}` : '') +
        (s.runs.failed + s.runs.canceled ? ` (${s.runs.failed + s.runs.canceled} failed)` : '') +
        (s.excluded.runs ? ` (${s.excluded.runs} left out)` : ''),
      num(s.metrics.mediaSeconds?.mean),
      num(s.metrics.wallS?.mean),
      num(s.metrics.fps?.mean),
      num(s.metrics.speed?.mean, 3),
      bitrate(s.metrics.bitrateBps?.mean),
      bytes(s.metrics.outputBytes?.mean),
      num(s.metrics.grossJ?.mean),
      stat(s.energy),
      sourceCell(s),
      q,
    ];
  });
  const head = [
    'scenario',
    'media s',
    'wall s',
    'fps',
    'speed',
    'bitrate',
    'size',
    'energy J',
    `J/encoded min (${model.basis.energy})`,
    'source',
    'PSNR / SSIM / VMAF',
  ];
  const lines = [table(head, rows)];
  if (model.scenarios.some((s) => s.estimate))
    lines.push(
      '',
      'ESTIMATE rows: energy modelled per logical CPU (mixed: plus a measured GPU), not measured; ranked only against other estimates.',
    );
  if (model.excluded.runs) lines.push('', model.excluded.note);
  if (model.basis.energy === 'gross' && model.ranking.length) lines.push('', model.basis.note);
  return lines.join('\n');
}
