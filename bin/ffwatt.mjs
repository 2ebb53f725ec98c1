#!/usr/bin/env -S node --no-memory-reducer
// Entry point: TypeScript sources are loaded through tsx's ESM loader (no build step; see README).
// The shebang's node flags are agent/node-flags.ts's (why: there); `node bin/ffwatt.mjs` skips them,
// so the commands that measure (`run`, `agent`) are written `node --no-memory-reducer bin/ffwatt.mjs`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
