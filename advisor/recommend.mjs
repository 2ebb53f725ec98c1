#!/usr/bin/env node
// npx zx advisor/recommend.mjs --min-vmaf 93 --resolution 640x360 --fps 30 [--hardware this] [--json]
import { register } from 'tsx/esm/api';
import { scriptArgs } from '../core/script-args.mjs';

register();
const m = await import('./cli.ts');
process.exitCode = await m.recommendCommand(scriptArgs(import.meta.url));
