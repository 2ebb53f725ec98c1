#!/usr/bin/env node
// Thin entry: `npx zx analyzers/report.mjs [results.sqlite|campaign-id] [--format ...] [--out DIR]`
// (also runs with plain `node`). Loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';
import { scriptArgs } from '../core/script-args.mjs';

register();
const { reportCommand } = await import('./cli.ts');
process.exitCode = await reportCommand(scriptArgs(import.meta.url));
