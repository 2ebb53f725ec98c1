// The layer rules of `make lint` (docs/architecture.md) fail on each kind of breach they exist for:
// a cycle between parts, an upward import, SQL outside store/, a process started outside runner/.
// Each breach is planted in a small tree with the real part folders, checked with the real
// .dependency-cruiser.cjs and scripts/check-sql.mjs; the same tree without the plants passes,
// and so does the repository itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const depcruiseBin = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const LINT_DIRS = /^LINT_DIRS := (.+)$/m
  .exec(readFileSync(join(root, 'Makefile'), 'utf8'))![1]
  .trim()
  .split(/\s+/);

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Files of a small tree laid out like the repository: the allowed edges of each kind. */
const CLEAN: Record<string, string> = {
  'core/errors.ts': `export class InputError extends Error {}\n`,
  'runner/run.ts': `import { spawn } from 'node:child_process';\nimport { execa } from 'execa';\nimport { InputError } from '../core/errors.ts';\nexport const run = { spawn, execa, InputError };\n`,
  'store/store.ts': `import Database from 'better-sqlite3';\nexport const open = (p: string) => new Database(p);\nexport const count = (db: Database.Database) => db.prepare('SELECT COUNT(*) FROM run').get();\n`,
  'analyzers/report.ts': `import { count, open } from '../store/store.ts';\nexport const report = (p: string) => count(open(p));\n`,
  'master/server.ts': `import { report } from '../analyzers/report.ts';\nimport { InputError } from '../core/errors.ts';\nexport const server = { report, InputError };\n`,
  'media/encode.ts': `import { run } from '../runner/run.ts';\nexport const encode = run;\n`,
};

/** One breach each, with the rule `make lint` must name. */
const PLANTS: Array<{
  what: string;
  files: Record<string, string>;
  rule: string;
  file: string;
  tool: 'depcruise' | 'check-sql';
}> = [
  {
    what: 'a cycle between two parts',
    files: {
      'media/a.ts': `import { b } from '../runner/b.ts';\nexport const a = () => b;\n`,
      'runner/b.ts': `import { a } from '../media/a.ts';\nexport const b = () => a;\n`,
    },
    rule: 'no-cycle-between-parts',
    file: 'media/a.ts',
    tool: 'depcruise',
  },
  {
    what: 'an upward import (core importing master)',
    files: { 'core/up.ts': `import { server } from '../master/server.ts';\nexport const up = server;\n` },
    rule: 'layer-core',
    file: 'core/up.ts',
    tool: 'depcruise',
  },
  {
    what: 'better-sqlite3 opened outside store/',
    files: {
      'analyzers/raw.ts': `import Database from 'better-sqlite3';\nexport const raw = (p: string) => new Database(p);\n`,
    },
    rule: 'sql-only-in-store',
    file: 'analyzers/raw.ts',
    tool: 'depcruise',
  },
  {
    what: 'a query string outside store/ on a handle from the store',
    files: {
      'master/jobs.ts': `import type { open } from '../store/store.ts';\nexport const jobs = (db: ReturnType<typeof open>) => db.prepare(\`SELECT id FROM job WHERE state = 'queued'\`).all();\n`,
    },
    rule: 'sql-only-in-store',
    file: 'master/jobs.ts',
    tool: 'check-sql',
  },
  {
    what: 'child_process outside runner/',
    files: {
      'media/spawn.ts': `import { execFileSync } from 'node:child_process';\nexport const probe = () => execFileSync('ffprobe');\n`,
    },
    rule: 'processes-only-in-runner',
    file: 'media/spawn.ts',
    tool: 'depcruise',
  },
  {
    what: 'execa outside runner/',
    files: { 'quality/score.ts': `import { execa } from 'execa';\nexport const score = () => execa('ffmpeg');\n` },
    rule: 'processes-only-in-runner',
    file: 'quality/score.ts',
    tool: 'depcruise',
  },
];

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ffwatt-layers-'));
  tmp.push(dir);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(root, 'tsconfig.json')));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function depcruise(cwd: string, dirs: string[]): { code: number | null; out: string } {
  const present = dirs.filter((d) => spawnSync('test', ['-d', join(cwd, d)]).status === 0);
  const r = spawnSync(
    process.execPath,
    [depcruiseBin, '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'err', ...present],
    { cwd, encoding: 'utf8' },
  );
  return { code: r.status, out: r.stdout + r.stderr };
}

function checkSql(dir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'check-sql.mjs'), dir], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('make lint: layer rules', () => {
  it('passes a tree whose parts import only downwards, with SQL in store/ and processes in runner/', () => {
    const dir = tree(CLEAN);
    const dc = depcruise(dir, LINT_DIRS);
    expect(dc.out).toMatch(/no dependency violations found/);
    expect(dc.code).toBe(0);
    expect(checkSql(dir)).toMatchObject({ code: 0 });
  });

  // One tree holds every plant (one depcruise start instead of one per plant); each plant must
  // show up as its own line naming its rule and its file.
  let planted: Record<'depcruise' | 'check-sql', { code: number | null; out: string }>;
  beforeAll(() => {
    const dir = tree(Object.assign({}, CLEAN, ...PLANTS.map((p) => p.files)));
    planted = { depcruise: depcruise(dir, LINT_DIRS), 'check-sql': checkSql(dir) };
  });

  for (const plant of PLANTS) {
    it(`fails on ${plant.what}, naming the file and the rule`, () => {
      const r = planted[plant.tool];
      expect(r.code).not.toBe(0);
      const line = r.out.split('\n').find((l) => l.includes(plant.rule) && l.includes(plant.file));
      expect(line, r.out).toBeDefined();
    });
  }

  it('passes on the repository', () => {
    const sql = checkSql(root);
    expect(sql.code, sql.out).toBe(0);
    const dc = depcruise(root, LINT_DIRS);
    expect(dc.code, dc.out).toBe(0);
  });
});
