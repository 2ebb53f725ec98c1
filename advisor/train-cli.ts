// `make train` / `npx zx advisor/train.mjs --db results/ffwatt.sqlite --out models/`:
// trains the advisor from a results database and writes the model, its metadata, the
// training rows and the model card.

import { Command, CommanderError } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { InputError, exitCodeOf } from '../core/errors.ts';
import { hasSitiFilter, measureContent } from './content.ts';
import { toTrainingRows } from './dataset.ts';
import type { DB } from '../store/store.ts';
import {
  campaignNameList,
  campaignNames,
  latestDoneCampaignNamed,
  loadRuns,
  openReadOnly,
} from '../store/training-runs.ts';
import { classesOf, crossValidate, trainAdvisor, type TrainOptions } from './train.ts';
import { writeModelFiles } from './model-files.ts';
import { buildModelCard, renderModelCard, type CampaignInfo } from './model-card.ts';

export interface TrainIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: TrainIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function campaignInfo(db: DB, ids: string[]): CampaignInfo[] {
  return campaignNames(db, ids).map((r, i) => ({
    id: ids[i],
    name: r?.name ?? '?',
    status: r?.status ?? '?',
    createdAt: r ? new Date(r.createdAt).toISOString() : '?',
  }));
}

function latestCampaignNamed(db: DB, name: string, file: string): string {
  const id = latestDoneCampaignNamed(db, name);
  if (!id) {
    const names = campaignNameList(db);
    throw new InputError(
      `--campaign-name ${name}: no finished campaign of that name in ${file} (campaigns: ${names.join(', ') || 'none'})`,
      {
        field: '--campaign-name',
        fix: 'run the matrices first: make train-data (matrices/advisor-train-*.yml)',
      },
    );
  }
  return id;
}

export async function trainCommand(argv: string[], io: TrainIo = defaultIo): Promise<number> {
  const program = new Command('train')
    .description('train the advisor from a results database')
    .requiredOption('--db <path>', 'results database (SQLite)')
    .option('--out <dir>', 'where the model files go', 'models')
    .option('--campaign <id...>', 'train on these campaigns only (default: all)')
    .option(
      '--campaign-name <name...>',
      'train on the latest finished campaign of each name (e.g. advisor-train-360p advisor-train-720p)',
    )
    .option(
      '--class <id>',
      'hardware class to train on (required when the runs come from several: a model is per class)',
    )
    .option('--seed <n>', 'seed of the train/validation split', '1')
    .option('--trees <n>', 'boosting rounds (the most tuning may pick)', '300')
    .option('--no-cv', 'skip the grouped 5-fold cross-validation reported beside the held-out split')
    .option('--no-tune', 'keep depth 4 and --trees instead of choosing them by cross-validation')
    .option('--json', 'print the model card as JSON')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    program.parse(argv, { from: 'user' });
    const o = program.opts<{
      db: string;
      out: string;
      campaign?: string[];
      campaignName?: string[];
      class?: string;
      seed: string;
      trees: string;
      tune: boolean;
      cv: boolean;
      json?: boolean;
    }>();
    if (!existsSync(o.db))
      throw new InputError(`--db ${o.db}: no such results database`, {
        field: '--db',
        fix: 'run a campaign first (make train-data, or node bin/ffwatt.mjs run MATRIX)',
      });
    const seed = Number(o.seed);
    const nTrees = Number(o.trees);
    if (!Number.isInteger(seed)) throw new InputError(`--seed '${o.seed}' is not an integer`, { field: '--seed' });
    if (!Number.isInteger(nTrees) || nTrees < 1)
      throw new InputError(`--trees '${o.trees}' is not a positive integer`, { field: '--trees' });
    const db = openReadOnly(o.db);
    try {
      if (o.campaign && o.campaignName)
        throw new InputError('give --campaign or --campaign-name, not both', { field: '--campaign-name' });
      const campaigns = o.campaignName
        ? o.campaignName.map((n) => latestCampaignNamed(db, n, o.db))
        : (o.campaign ?? []);
      const runs = loadRuns(db, campaigns);
      if (runs.length === 0) {
        throw new InputError(
          `--db ${o.db}: no succeeded runs${campaigns.length ? ` in campaign(s) ${campaigns.join(', ')}` : ''}`,
          { field: '--campaign', fix: 'check the campaign ids (ffwatt report lists them)' },
        );
      }
      const method = (await hasSitiFilter()) ? 'siti' : 'proxy';
      const cacheFile = join(dirname(o.db), 'content-cache.json');
      const all = await toTrainingRows(runs, (input) => measureContent(input, { method, cacheFile }));
      const classes = classesOf(all.rows);
      if (o.class && !classes.includes(o.class)) {
        throw new InputError(
          `--class ${o.class}: no usable run of that hardware class in ${o.db} (classes: ${classes.join(', ') || 'none'})`,
          { field: '--class', fix: 'use one of the classes listed' },
        );
      }
      const rows = o.class ? all.rows.filter((r) => r.hardwareClass === o.class) : all.rows;
      const dropped = all.dropped;
      const opts: TrainOptions = { seed, gbrt: { nTrees }, tune: o.tune, contentMethod: method };
      const trained = trainAdvisor(rows, opts);
      const cv = o.cv ? crossValidate(rows, opts) : null;
      trained.dropped.unshift(...dropped);
      const paths = writeModelFiles(trained, rows, o.out);
      const rel = (p: string) => relative(process.cwd(), p) || p;
      const card = buildModelCard(
        trained,
        rows,
        campaignInfo(db, trained.meta.campaigns),
        { onnx: rel(paths.onnx), features: rel(paths.meta), data: rel(paths.data) },
        cv,
      );
      writeFileSync(join(o.out, 'model-card.json'), JSON.stringify(card, null, 2) + '\n');
      writeFileSync(join(o.out, 'MODEL_CARD.md'), renderModelCard(card));
      if (o.json) io.out(JSON.stringify(card, null, 2) + '\n');
      else {
        const g = trained.scores.gbrt;
        const r = trained.scores.ridge;
        io.out(
          `trained on ${trained.meta.runs.total} runs (${trained.meta.runs.validation} held out), wrote ${rel(paths.onnx)}, model card ${rel(join(o.out, 'MODEL_CARD.md'))}\n` +
            (['energy', 'quality', 'speed'] as const)
              .map(
                (t) =>
                  `  ${t}: held-out MAPE trees ${g[t].mape.toFixed(1)} %, ridge ${r[t].mape.toFixed(1)} %; R² ${g[t].r2.toFixed(3)} vs ${r[t].r2.toFixed(3)}\n`,
              )
              .join('') +
            (cv
              ? (['energy', 'quality', 'speed'] as const)
                  .map(
                    (t) =>
                      `  ${t}: ${cv.folds}-fold CV MAPE trees ${cv.gbrt[t].mape.toFixed(1)} %, ridge ${cv.ridge[t].mape.toFixed(1)} %\n`,
                  )
                  .join('')
              : ''),
        );
      }
      return 0;
    } finally {
      db.close();
    }
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' ? 0 : 2;
    io.err(`ffwatt train: ${err instanceof Error ? err.message : String(err)}\n`);
    return exitCodeOf(err);
  }
}
