// `ffwatt report [results-folder|results.sqlite|campaign-id] [--format md,csv,json,html] [--out DIR] [--db PATH] [--include-flagged]`
// `ffwatt report --compare BASE TEST` (campaign ids in --db, results folders or databases)
import { Command, CommanderError } from 'commander';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EXIT_BAD_INPUT, EXIT_OK, InputError, exitCodeOf } from '../core/errors.ts';
import type { CostOptions } from '../core/report-model.ts';
import { REPORT_FORMATS, writeModelFiles, type ReportFormat } from './report.ts';
import { summarize } from './summarize.ts';
import { compareCampaigns, type CampaignRef } from './campaign-compare.ts';
import { COMPARE_FORMATS, COMPARE_RENDER, type CompareFormat } from './write-compare.ts';
import { numberArg } from '../core/cli-options.ts';
import { COST_DEFAULTS } from '../core/cost.ts';

/** The database `ffwatt run --out DIR` writes inside its results folder. */
export const RESULTS_DB_NAME = 'ffwatt.sqlite';

export const DEFAULT_DB = join('results', 'ffwatt.sqlite');

export interface ReportIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: ReportIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function parseFormats(v: string): ReportFormat[] {
  const list = v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((f) => !REPORT_FORMATS.includes(f as ReportFormat));
  if (list.length === 0 || bad.length) {
    throw new InputError(
      `--format: unknown format${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}`,
      { field: '--format', fix: `use a comma-separated list of: ${REPORT_FORMATS.join(', ')}` },
    );
  }
  return [...new Set(list)] as ReportFormat[];
}

const looksLikeDatabase = (s: string) => /\.(sqlite3?|db)$/i.test(s) || (existsSync(s) && statSync(s).isFile());
const isDirectory = (s: string) => existsSync(s) && statSync(s).isDirectory();

/** The database of a results folder written by `ffwatt run --out DIR`; bad input when the folder holds none. */
export function resultsFolderDb(dir: string): string {
  const db = join(dir, RESULTS_DB_NAME);
  if (!existsSync(db)) {
    throw new InputError(`${dir} is a folder but holds no ${RESULTS_DB_NAME}`, {
      file: dir,
      fix: `pass the folder given to \`ffwatt run --out\` (it holds ${RESULTS_DB_NAME} and reports/), the database file itself, or a campaign id with --db PATH`,
    });
  }
  return db;
}

/** BASE or TEST of --compare: a results folder, a database file, or a campaign id in --db. */
function campaignRef(arg: string, db: string | undefined): CampaignRef {
  if (isDirectory(arg)) return { db: resultsFolderDb(arg) };
  if (looksLikeDatabase(arg)) return { db: arg };
  return { db: db ?? DEFAULT_DB, campaignId: arg };
}

/** Runs the report command; returns the exit code (0 ok, 2 bad input, 1 other failure). */
export async function reportCommand(argv: string[], io: ReportIo = defaultIo): Promise<number> {
  const cmd = new Command('ffwatt report')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .description(
      'write reports (Markdown, CSV, JSON, self-contained HTML) of one campaign from a results database, or compare two campaigns',
    )
    .argument(
      '[target]',
      'results folder (as written by `ffwatt run --out DIR`), results database file, or a campaign id (default: latest campaign)',
    )
    .option('--db <path>', `results database (default ${DEFAULT_DB})`)
    .option('--campaign <id>', 'campaign to report (default: the latest)')
    .option('--format <list>', `comma-separated formats: ${REPORT_FORMATS.join(',')}`, REPORT_FORMATS.join(','))
    .option('--out <dir>', 'output directory (default: <db dir>/reports/<campaign id>)')
    .option(
      '--price-per-kwh <n>',
      `electricity price per kWh (default ${COST_DEFAULTS.pricePerKwh})`,
      numberArg('--price-per-kwh', 'non-negative'),
    )
    .option('--currency <code>', `ISO 4217 currency of the prices (default ${COST_DEFAULTS.currency})`)
    .option(
      '--carbon-g-per-kwh <n>',
      `grid carbon intensity, g CO2e per kWh (default ${COST_DEFAULTS.carbonGramsPerKwh})`,
      numberArg('--carbon-g-per-kwh', 'non-negative'),
    )
    .option(
      '--instance-cost-per-hour <n>',
      'hourly machine price (default: not priced)',
      numberArg('--instance-cost-per-hour', 'non-negative'),
    )
    .option(
      '--reference <codec[:preset]>',
      'reference configuration for relative figures (default: fastest preset of the first codec)',
    )
    .option(
      '--include-flagged',
      'count runs flagged noisy_neighbour, thermal_drift, window-opened-after-stream-end, topology-suspect or idle-baseline-dirty (default: left out and listed)',
    )
    .option(
      '--compare <base-and-test...>',
      'compare two campaigns: BASE TEST, each a campaign id (in --db), a results folder or a database; writes compare.<md|json|html>',
    )
    .option('--json', 'print the written files and the model summary as one JSON document');
  try {
    cmd.parse(argv, { from: 'user' });
    const o = cmd.opts<{
      db?: string;
      campaign?: string;
      format: string;
      out?: string;
      pricePerKwh?: number;
      currency?: string;
      carbonGPerKwh?: number;
      instanceCostPerHour?: number;
      reference?: string;
      includeFlagged?: boolean;
      compare?: string[];
      json?: boolean;
    }>();
    const target = cmd.args[0];
    if (o.compare)
      return compareCommand({ ...o, formatGiven: cmd.getOptionValueSource('format') !== 'default' }, cmd.args, io);
    let db = o.db;
    let campaignId = o.campaign;
    if (target) {
      if (isDirectory(target)) {
        if (o.db)
          throw new InputError(`two databases given: results folder ${target} and --db ${o.db}`, {
            field: '--db',
            fix: 'give the results folder or --db, not both',
          });
        db = resultsFolderDb(target);
      } else if (looksLikeDatabase(target)) {
        if (o.db && o.db !== target)
          throw new InputError(`two databases given: ${target} and --db ${o.db}`, {
            field: '--db',
            fix: 'give the database once',
          });
        db = target;
      } else {
        if (o.campaign && o.campaign !== target)
          throw new InputError(`two campaigns given: ${target} and --campaign ${o.campaign}`, {
            field: '--campaign',
            fix: 'give the campaign once',
          });
        campaignId = target;
      }
    }
    db ??= DEFAULT_DB;
    const formats = parseFormats(o.format);
    const cost: CostOptions = {};
    if (o.pricePerKwh != null) cost.pricePerKwh = o.pricePerKwh;
    if (o.currency != null) cost.currency = o.currency;
    if (o.carbonGPerKwh != null) cost.carbonGramsPerKwh = o.carbonGPerKwh;
    if (o.instanceCostPerHour != null) cost.instanceCostPerHour = o.instanceCostPerHour;
    let reference: { codec?: string; preset?: string } | undefined;
    if (o.reference) {
      const [codec, preset] = o.reference.split(':');
      if (!codec)
        throw new InputError(`--reference "${o.reference}" names no codec`, {
          field: '--reference',
          fix: 'use CODEC or CODEC:PRESET, e.g. h264:medium',
        });
      reference = { codec, preset: preset || undefined };
    }
    const model = summarize({ db, campaignId, cost, reference, includeFlagged: o.includeFlagged === true });
    const outDir = o.out ?? join(dirname(db), 'reports', model.campaign.id);
    const files = writeModelFiles(model, formats, outDir);
    if (o.json) {
      io.out(
        JSON.stringify(
          { campaignId: model.campaign.id, files, ranking: model.ranking, leftOut: model.excluded.runs },
          null,
          2,
        ) + '\n',
      );
    } else {
      for (const f of formats) io.out(`${f}: ${files[f]}\n`);
    }
    return EXIT_OK;
  } catch (err) {
    return failure(err, io);
  }
}

function failure(err: unknown, io: ReportIo): number {
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

const COMPARE_ONLY_FLAGS = [
  'campaign',
  'reference',
  'pricePerKwh',
  'currency',
  'carbonGPerKwh',
  'instanceCostPerHour',
] as const;

function compareCommand(
  o: {
    db?: string;
    compare?: string[];
    format: string;
    formatGiven: boolean;
    out?: string;
    includeFlagged?: boolean;
    json?: boolean;
  } & Partial<Record<(typeof COMPARE_ONLY_FLAGS)[number], string | number>>,
  args: string[],
  io: ReportIo,
): number {
  try {
    const list = o.compare ?? [];
    // commander puts words after --compare's two values into the positional target; they belong to --compare.
    const pair = [...list, ...args];
    if (pair.length !== 2) {
      throw new InputError(
        `--compare takes exactly two campaigns, BASE and TEST (got ${pair.length}: ${pair.join(' ') || 'none'})`,
        {
          field: '--compare',
          fix: 'ffwatt report --compare BASE TEST, each a campaign id (in --db), a results folder or a results database',
        },
      );
    }
    const stray = COMPARE_ONLY_FLAGS.filter((k) => o[k] != null);
    if (stray.length)
      throw new InputError(`--compare does not take --${stray[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, {
        field: '--compare',
        fix: 'name the two campaigns after --compare; cost and reference options belong to single-campaign reports',
      });
    const formats = o.formatGiven ? parseCompareFormats(o.format) : [...COMPARE_FORMATS];
    const [base, test] = pair.map((a) => campaignRef(a, o.db));
    const model = compareCampaigns({ base, test, includeFlagged: o.includeFlagged === true });
    const outDir = resolve(o.out ?? join(dirname(test.db), 'reports', `compare-${model.base.id}-vs-${model.test.id}`));
    mkdirSync(outDir, { recursive: true });
    const files: Record<string, string> = {};
    for (const f of formats) {
      files[f] = join(outDir, `compare.${f}`);
      writeFileSync(files[f], COMPARE_RENDER[f](model));
    }
    if (o.json)
      io.out(
        JSON.stringify(
          {
            base: model.base.id,
            test: model.test.id,
            files,
            matches: model.matches.length,
            significant: model.matches.filter((m) => m.significant).length,
            changed: model.provenance.filter((d) => d.changed).map((d) => d.field),
          },
          null,
          2,
        ) + '\n',
      );
    else for (const f of formats) io.out(`${f}: ${files[f]}\n`);
    return EXIT_OK;
  } catch (err) {
    return failure(err, io);
  }
}

function parseCompareFormats(v: string): CompareFormat[] {
  const list = v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((f) => !COMPARE_FORMATS.includes(f as CompareFormat));
  if (list.length === 0 || bad.length) {
    throw new InputError(`--format: ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'} is not a format of --compare`, {
      field: '--format',
      fix: `use a comma-separated list of: ${COMPARE_FORMATS.join(', ')}`,
    });
  }
  return [...new Set(list)] as CompareFormat[];
}
