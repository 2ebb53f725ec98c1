#!/usr/bin/env node
// npx zx advisor/recommend.mjs --min-vmaf 93 --resolution 640x360 --fps 30 [--hardware this] [--json]
import { register } from 'tsx/esm/api';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

register();
// Under `npx zx` process.argv also holds zx's own path; the arguments start after this file.
const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(process.argv.findIndex((a) => resolve(a) === self) + 1);
const m = await import('./cli.ts');
process.exitCode = await m.recommendCommand(args);
