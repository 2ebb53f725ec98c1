#!/usr/bin/env node
// `make train`: npx zx advisor/train.mjs --db results/ffwatt.sqlite --out models/
import { register } from 'tsx/esm/api';
import { scriptArgs } from '../core/script-args.mjs';

register();
const m = await import('./train-cli.ts');
process.exitCode = await m.trainCommand(scriptArgs(import.meta.url));
