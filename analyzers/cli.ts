// `ffwatt report [results.sqlite|campaign-id] [--format md,csv,json,html] [--out DIR] [--db PATH]`
import { Command, CommanderError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXIT_BAD_INPUT, EXIT_OK, InputError, exitCodeOf } from '../core/errors.ts';
import type { CostOptions } from './model.ts';
import { REPORT_FORMATS, writeModelFiles, type ReportFormat } from './report.ts';
import { summarize } from './summarize.ts';

export const DEFAULT_DB = join('results', 'ffwatt.sqlite');

export interface ReportIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: ReportIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function number(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InputError(`${flag} must be a number >= 0 (got "${v}")`, { field: flag });
    return n;
  };
}

function parseFormats(v: string): ReportFormat[] {
  const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = list.filter((f) => !REPORT_FORMATS.includes(f as ReportFormat));
  if (list.length === 0 || bad.length) {
    throw new InputError(`--format: unknown format${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}`, { field: '--format', fix: `use a comma-separated list of: ${REPORT_FORMATS.join(', ')}` });
  }
  return [...new Set(list)] as ReportFormat[];
}

const looksLikeDatabase = (s: string) => /\.(sqlite3?|db)$/i.test(s) || (existsSync(s) && statSync(s).isFile());

/** Runs the report command; returns the exit code (0 ok, 2 bad input, 1 other failure). */
export async function reportCommand(argv: string[], io: ReportIo = defaultIo): Promise<number> {
  const cmd = new Command('ffwatt report')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .description('write reports (Markdown, CSV, JSON, self-contained HTML) of one campaign from a results database')
    .argument('[target]', 'results database file, or a campaign id (default: latest campaign)')
    .option('--db <path>', `results database (default ${DEFAULT_DB})`)
    .option('--campaign <id>', 'campaign to report (default: the latest)')
    .option('--format <list>', `comma-separated formats: ${REPORT_FORMATS.join(',')}`, REPORT_FORMATS.join(','))
    .option('--out <dir>', 'output directory (default: <db dir>/reports/<campaign id>)')
    .option('--price-per-kwh <n>', 'electricity price per kWh (default 0.25)')
    .option('--currency <code>', 'currency of the prices (default EUR)')
    .option('--carbon-g-per-kwh <n>', 'grid carbon intensity, g CO2e per kWh (default 300)')
    .option('--instance-cost-per-hour <n>', 'hourly machine price (default: not priced)')
    .option('--reference <codec[:preset]>', 'reference configuration for relative figures (default: fastest preset of the first codec)')
    .option('--json', 'print the written files and the model summary as one JSON document');
  try {
    cmd.parse(argv, { from: 'user' });
    const o = cmd.opts<{
      db?: string;
      campaign?: string;
      format: string;
      out?: string;
      pricePerKwh?: string;
      currency?: string;
      carbonGPerKwh?: string;
      instanceCostPerHour?: string;
      reference?: string;
      json?: boolean;
    }>();
    const target = cmd.args[0];
    let db = o.db;
    let campaignId = o.campaign;
    if (target) {
      if (looksLikeDatabase(target)) {
        if (o.db && o.db !== target) throw new InputError(`two databases given: ${target} and --db ${o.db}`, { field: '--db', fix: 'give the database once' });
        db = target;
      } else {
        if (o.campaign && o.campaign !== target) throw new InputError(`two campaigns given: ${target} and --campaign ${o.campaign}`, { field: '--campaign', fix: 'give the campaign once' });
        campaignId = target;
      }
    }
    db ??= DEFAULT_DB;
    const formats = parseFormats(o.format);
    const cost: CostOptions = {};
    if (o.pricePerKwh != null) cost.pricePerKwh = number('--price-per-kwh')(o.pricePerKwh);
    if (o.currency != null) cost.currency = o.currency;
    if (o.carbonGPerKwh != null) cost.carbonGramsPerKwh = number('--carbon-g-per-kwh')(o.carbonGPerKwh);
    if (o.instanceCostPerHour != null) cost.instanceCostPerHour = number('--instance-cost-per-hour')(o.instanceCostPerHour);
    let reference: { codec?: string; preset?: string } | undefined;
    if (o.reference) {
      const [codec, preset] = o.reference.split(':');
      if (!codec) throw new InputError(`--reference "${o.reference}" names no codec`, { field: '--reference', fix: 'use CODEC or CODEC:PRESET, e.g. h264:medium' });
      reference = { codec, preset: preset || undefined };
    }
    const model = summarize({ db, campaignId, cost, reference });
    const outDir = o.out ?? join(dirname(db), 'reports', model.campaign.id);
    const files = writeModelFiles(model, formats, outDir);
    if (o.json) {
      io.out(JSON.stringify({ campaignId: model.campaign.id, files, ranking: model.ranking }, null, 2) + '\n');
    } else {
      for (const f of formats) io.out(`${f}: ${files[f]}\n`);
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      return EXIT_BAD_INPUT; // commander already printed its message
    }
    if (err instanceof InputError) {
      const fix = err.details.fix ? `\n  fix: ${err.details.fix}` : '';
      io.err(`ffwatt report: ${err.message}${fix}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof RangeError) {
      io.err(`ffwatt report: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.err(`ffwatt report: ${(err as Error).stack ?? String(err)}\n`);
    return exitCodeOf(err);
  }
}
