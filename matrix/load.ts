// Matrix file → validated, expanded CampaignPlan. Nothing runs before this has succeeded.

import { createHash, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { InputError } from '../core/errors.ts';
import type { CampaignPlan } from '../core/types.ts';
import { DEFAULTS, expandNative } from './expand.ts';
import { convertLegacy, isLegacyBatch } from './legacy.ts';
import { SourceMap, throwProblems, type Problem } from './problems.ts';
import { issuesToProblems, legacyMatrixSchema, nativeMatrixSchema } from './schema.ts';

export interface MatrixOptions {
  /** Seed for the interleaving order; wins over the file's `seed`. Random (and recorded) when neither is set. */
  seed?: number;
  /** Folder for relative input paths; default: the matrix file's folder. */
  baseDir?: string;
  /** Refuse file inputs missing here (default true; off where inputs live on other nodes). */
  checkInputFiles?: boolean;
  /** A master accepting a fleet campaign: inputs relative to the workers' media folder, encoder options allow-listed (expand.ts). */
  fleet?: boolean;
}

export type MatrixSyntax = 'yaml' | 'json';

export interface ParsedSource {
  value: unknown;
  map: SourceMap;
  syntax: MatrixSyntax;
}

/** `.json` is JSON; `.yml`/`.yaml` is YAML; anything else: JSON when it starts with `{`. */
export function syntaxOf(fileName: string, text: string): MatrixSyntax {
  const ext = extname(fileName).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yml' || ext === '.yaml') return 'yaml';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

function syntaxError(
  fileName: string,
  kind: string,
  line: number | undefined,
  col: number | undefined,
  message: string,
): InputError {
  const where = line === undefined ? fileName : `${fileName}:${line}${col === undefined ? '' : `:${col}`}`;
  const fix = `correct the ${kind} syntax there (see docs/matrix.md for examples)`;
  return new InputError(`${where}: ${kind} syntax error: ${message} — fix: ${fix}`, { file: fileName, line, fix });
}

/** Parse text into a plain value plus a map from key paths to lines. */
export function parseSource(text: string, fileName: string): ParsedSource {
  const syntax = syntaxOf(fileName, text);
  if (syntax === 'json') {
    try {
      JSON.parse(text);
    } catch (e) {
      const msg = (e as Error).message;
      const pos = /position (\d+)/.exec(msg);
      const at = pos ? lineCol(text, Number(pos[1])) : undefined;
      throw syntaxError(fileName, 'JSON', at?.line, at?.col, msg.replace(/ in JSON at position \d+.*$/, ''));
    }
  }
  const lineCounter = new LineCounter();
  const doc: Document.Parsed = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    throw syntaxError(
      fileName,
      syntax === 'json' ? 'JSON' : 'YAML',
      pos.line,
      pos.col,
      err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
    );
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) {
    throw new InputError(`${fileName}: the matrix file is empty — fix: start from matrices/quick.yml`, {
      file: fileName,
      fix: 'start from matrices/quick.yml',
    });
  }
  return { value, map: new SourceMap(doc, lineCounter), syntax };
}

function seedOf(opts: MatrixOptions, fileSeed: number | undefined): number {
  if (opts.seed !== undefined) {
    if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 2 ** 32 - 1) {
      throw new InputError(`seed ${opts.seed} is not a whole number from 0 to 4294967295`, {
        field: 'seed',
        fix: 'pass e.g. --seed 42',
      });
    }
    return opts.seed;
  }
  return fileSeed ?? randomInt(0, 2 ** 31);
}

/** Validate and expand matrix text. Throws one InputError listing every problem (file, line, key, fix). */
export function parseMatrix(text: string, fileName: string, opts: MatrixOptions = {}): CampaignPlan {
  const { value, map } = parseSource(text, fileName);
  const problems: Problem[] = [];
  const matrixHash = createHash('sha256').update(text).digest('hex');

  if (isLegacyBatch(value)) {
    const checked = legacyMatrixSchema.safeParse(value);
    if (!checked.success) throwProblems(fileName, map, issuesToProblems(checked.error));
    const campaign = convertLegacy(checked.data.scenarios, fileName, problems);
    if (problems.length > 0) throwProblems(fileName, map, problems);
    return {
      name: campaign.name,
      matrixText: text,
      matrixHash,
      matrixFormat: 'legacy-batch',
      repetitions: campaign.repetitions,
      cooldownS: campaign.cooldownS,
      idleBaselineS: campaign.idleBaselineS,
      seed: seedOf(opts, undefined),
      scenarios: campaign.scenarios,
    };
  }

  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throwProblems(fileName, map, [
      {
        path: [],
        message: 'the matrix must be a mapping with name, input, scenarios, …',
        fix: 'start from matrices/quick.yml',
      },
    ]);
  }
  const checked = nativeMatrixSchema.safeParse(value);
  if (!checked.success) throwProblems(fileName, map, issuesToProblems(checked.error));
  const m = checked.data;
  const scenarios = expandNative(
    m,
    {
      baseDir: opts.baseDir ?? dirname(resolve(fileName)),
      checkInputFiles: opts.fleet ? false : (opts.checkInputFiles ?? true),
      fleet: opts.fleet,
    },
    problems,
  );
  if (problems.length > 0) throwProblems(fileName, map, problems);
  const reps = m.repetitions;
  return {
    name: m.name,
    matrixText: text,
    matrixHash,
    matrixFormat: 'native',
    repetitions: {
      min: reps?.min ?? DEFAULTS.repetitions.min,
      max: reps?.max ?? DEFAULTS.repetitions.max,
      ciHalfwidthPct: reps?.ci_halfwidth_pct ?? DEFAULTS.repetitions.ciHalfwidthPct,
    },
    cooldownS: m.cooldown_s ?? DEFAULTS.cooldownS,
    idleBaselineS: m.idle_baseline_s ?? DEFAULTS.idleBaselineS,
    seed: seedOf(opts, m.seed),
    scenarios,
    ...(m.placement ? { placement: m.placement } : {}),
    ...(m.queue ? { queueClass: m.queue } : {}),
    ...(m.priority !== undefined ? { priority: m.priority } : {}),
  };
}

/** Read, validate and expand a matrix file (YAML, JSON, or the older batch-matrix JSON). */
export async function loadMatrix(path: string, opts: MatrixOptions = {}): Promise<CampaignPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const fix = 'check the path; ready matrices: matrices/quick.yml, matrices/full.yml, matrices/legacy-example.json';
    throw new InputError(`matrix file '${path}' cannot be read (${code ?? (e as Error).message}) — fix: ${fix}`, {
      file: path,
      fix,
    });
  }
  return parseMatrix(text, path, opts);
}
