#!/usr/bin/env node
// SQL lives in store/ only (docs/architecture.md). dependency-cruiser keeps better-sqlite3 imports
// there; this check catches the rest: a query string, or a statement prepared on a handle passed in
// from the store, anywhere else in product code. Tests (*.test.ts), test support files
// (test-*.ts, fixture-*.ts), bench/, test/ and scripts/ are exempt.
//
//   node scripts/check-sql.mjs [ROOT]     exit 0 clean, 1 with one line per finding
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const PARTS = [
  'bin',
  'cli',
  'core',
  'runner',
  'energy',
  'media',
  'quality',
  'matrix',
  'analyzers',
  'advisor',
  'master',
  'agent',
  'harness',
];
const EXEMPT = /(\.test\.ts$|(^|\/)(test|fixture)-[^/]*\.ts$)/;
const CODE = /\.(ts|mts|mjs|cjs|js)$/;
// A statement handed to SQLite: db.prepare('…'), db.exec(`…`), db.pragma('…'), or the call
// opened at the end of a line with the statement on the next.
const CALL = /\.(prepare|exec|pragma)\(\s*([`'"]|$)/;
// A string that starts as an SQL statement (upper-case keywords, as the store writes them).
const STATEMENT_START =
  /[`'"]\s*(SELECT\s|WITH\s+\w+\s+AS\s*\(|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|(CREATE|DROP)\s+(TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\s|ALTER\s+TABLE\s|PRAGMA\s)/;
// SQL further inside a string literal.
const STATEMENT =
  /[`'"][^`'"]*\b(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)/;

function* files(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== '__snapshots__') yield* files(p);
    } else if (CODE.test(e.name)) yield p;
  }
}

export function findSqlOutsideStore(root) {
  const found = [];
  for (const part of PARTS) {
    for (const file of files(join(root, part))) {
      const rel = relative(root, file);
      if (EXEMPT.test(rel)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*)/.test(line)) return; // comments may name a statement
          if (CALL.test(line) || STATEMENT_START.test(line) || STATEMENT.test(line))
            found.push(
              `${rel}:${i + 1}: sql-only-in-store: SQL outside store/ (add a store function): ${line.trim().slice(0, 120)}`,
            );
        });
    }
  }
  return found;
}

const root = process.argv[2] ?? process.cwd();
const found = findSqlOutsideStore(root);
for (const f of found) console.error(f);
if (found.length) {
  console.error(`check-sql: ${found.length} SQL statement(s) outside store/`);
  process.exit(1);
}
console.log('check-sql: no SQL outside store/');
