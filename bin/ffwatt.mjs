#!/usr/bin/env node
// Entry point: TypeScript sources are loaded through tsx's ESM loader (no build step; see README).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
