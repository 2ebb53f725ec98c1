#!/usr/bin/env node
// `make train`: npx zx advisor/train.mjs --db results/ffwatt.sqlite --out models/
import { register } from 'tsx/esm/api';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

register();
// Under `npx zx` process.argv also holds zx's own path; the arguments start after this file.
const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(process.argv.findIndex((a) => resolve(a) === self) + 1);
const m = await import('./train-cli.ts');
process.exitCode = await m.trainCommand(args);
