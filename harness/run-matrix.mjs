#!/usr/bin/env node
// `npx zx harness/run-matrix.mjs [matrix] [flags]` = `ffwatt run [matrix] [flags]`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
// Under zx, argv holds zx's own path and this script's path before the user's arguments.
const self = realpathSync(fileURLToPath(import.meta.url));
const at = process.argv.findIndex((a, i) => i > 0 && (() => { try { return realpathSync(a) === self; } catch { return false; } })());
const args = process.argv.slice(at >= 0 ? at + 1 : 2);
const { main } = await import('../core/main.ts');
process.exitCode = await main(['run', ...args]);
