// Writes a trained advisor to disk: the ONNX model, its feature/coverage metadata and
// the training rows it came from (so the held-out comparison can be re-run from the tree).

import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensembleToOnnx } from './onnx-export.ts';
import type { TrainedAdvisor } from './train.ts';
import type { TrainingRow } from './dataset.ts';
import { InputError } from '../core/errors.ts';

export interface ModelPaths {
  onnx: string;
  meta: string;
  data: string;
}

export function modelPaths(dir: string, base = 'advisor'): ModelPaths {
  return {
    onnx: join(dir, `${base}.onnx`),
    meta: join(dir, `${base}.features.json`),
    data: join(dir, `${base}.data.json`),
  };
}

export function writeModelFiles(
  trained: TrainedAdvisor,
  rows: TrainingRow[],
  dir: string,
  base = 'advisor',
): ModelPaths {
  mkdirSync(dir, { recursive: true });
  const paths = modelPaths(dir, base);
  const bytes = ensembleToOnnx(trained.gbrt, trained.meta.features.columns.length, {
    'ffwatt.targets': JSON.stringify(trained.meta.targets),
    'ffwatt.columns': JSON.stringify(trained.meta.features.columns),
    'ffwatt.trained_at': trained.meta.trainedAt,
    'ffwatt.hardware_classes': JSON.stringify(trained.meta.hardwareClasses),
  });
  writeFileSync(paths.onnx, bytes);
  writeFileSync(paths.meta, JSON.stringify(trained.meta, null, 2) + '\n');
  writeFileSync(paths.data, JSON.stringify({ version: 1, rows }, null, 1) + '\n');
  return paths;
}

export function readTrainingData(path: string): TrainingRow[] {
  if (!existsSync(path))
    throw new InputError(`training data ${path} not found`, { file: path, fix: 'run `make train`' });
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; rows?: TrainingRow[] };
  if (raw.version !== 1 || !Array.isArray(raw.rows))
    throw new InputError(`${path}: not ffwatt advisor training data (version 1)`, {
      file: path,
      fix: 'run `make train`',
    });
  return raw.rows;
}
