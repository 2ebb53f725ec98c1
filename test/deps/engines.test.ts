// Every runtime dependency must run on the Node.js the project supports (package.json engines):
// a transitive package that asks for a newer Node (cookie@2 via light-my-request asked for 22) breaks
// installs on Debian-packaged or LTS Node with EBADENGINE warnings and, worse, with syntax it cannot run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const supported = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node as string;
const oldestSupported = semver.minVersion(supported)!.version;

interface LsNode {
  version?: string;
  path?: string;
  dependencies?: Record<string, LsNode>;
}

function runtimePackages(): Map<string, string> {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const found = new Map<string, string>();
  const walk = (deps: Record<string, LsNode> | undefined) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (!node.path || found.has(node.path)) continue;
      found.set(node.path, `${name}@${node.version}`);
      walk(node.dependencies);
    }
  };
  walk((JSON.parse(out) as LsNode).dependencies);
  return found;
}

describe('runtime dependencies and the supported Node.js', () => {
  it(`every runtime package accepts Node ${oldestSupported} (engines ${supported})`, () => {
    const refusing: string[] = [];
    for (const [path, id] of runtimePackages()) {
      const engines = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).engines?.node as string | undefined;
      if (engines && !semver.satisfies(oldestSupported, engines)) refusing.push(`${id} requires node ${engines}`);
    }
    expect(refusing).toEqual([]);
  });
});
