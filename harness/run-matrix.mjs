#!/usr/bin/env node
// `npx zx harness/run-matrix.mjs [matrix] [flags]` = `ffwatt run [matrix] [flags]`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/main.ts');
process.exitCode = await main(['run', ...process.argv.slice(2)]);
