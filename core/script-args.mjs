// The user's arguments of a `.mjs` entry point, whether it runs as `node x.mjs …` or as
// `npx zx x.mjs …` (zx leaves its own path and the script's path in process.argv).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function same(path, self) {
  try {
    return realpathSync(path) === self;
  } catch {
    return false;
  }
}

/** Arguments after the script whose `import.meta.url` is given. */
export function scriptArgs(metaUrl, argv = process.argv) {
  const self = realpathSync(fileURLToPath(metaUrl));
  const at = argv.findIndex((a, i) => i > 0 && same(a, self));
  return argv.slice(at >= 0 ? at + 1 : 2);
}
