#!/usr/bin/env node
// Thin entry: `npx zx analyzers/report.mjs [results.sqlite|campaign-id] [--format ...] [--out DIR]`
// (also runs with plain `node`). Loads the TypeScript CLI through tsx.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { reportCommand } = await import('./cli.ts');
// Under zx, process.argv still holds the script path after the zx binary.
const self = realpathSync(fileURLToPath(import.meta.url));
const isSelf = (a) => {
  try {
    return realpathSync(a) === self;
  } catch {
    return false;
  }
};
const args = process.argv.slice(2);
process.exitCode = await reportCommand(args.length && isSelf(args[0]) ? args.slice(1) : args);
