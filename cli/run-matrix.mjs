#!/usr/bin/env node
// `npx zx cli/run-matrix.mjs [matrix] [flags]` = `ffwatt run [matrix] [flags]`.
import { register } from 'tsx/esm/api';
import { scriptArgs } from '../core/script-args.mjs';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(['run', ...scriptArgs(import.meta.url)]);
