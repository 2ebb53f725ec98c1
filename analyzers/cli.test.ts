import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDARD_CAMPAIGN_ID, writeStandardFixture } from './fixture-db.ts';
import { reportCommand } from './cli.ts';

let dir: string;
let db: string;

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await reportCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-cli-'));
  db = join(dir, 'results', 'ffwatt.sqlite');
  writeStandardFixture(db);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ffwatt report', () => {
  it('writes the chosen formats from a database path into --out', async () => {
    const out = join(dir, 'a');
    const r = await run([db, '--format', 'md,csv', '--out', out]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(`md: ${join(out, 'report.md')}\ncsv: ${join(out, 'report.csv')}\n`);
    expect(existsSync(join(out, 'report.html'))).toBe(false);
  });
  it('takes a campaign id with --db and defaults the output to <db dir>/reports/<campaign>', async () => {
    const r = await run([
      STANDARD_CAMPAIGN_ID,
      '--db',
      db,
      '--format',
      'json',
      '--price-per-kwh',
      '0.1',
      '--currency',
      'USD',
    ]);
    expect(r.code).toBe(0);
    const path = join(dir, 'results', 'reports', STANDARD_CAMPAIGN_ID, 'report.json');
    expect(JSON.parse(readFileSync(path, 'utf8')).cost).toMatchObject({ pricePerKwh: 0.1, currency: 'USD' });
  });
  it('prints one JSON document with --json', async () => {
    const r = await run([db, '--format', 'md', '--out', join(dir, 'j'), '--json']);
    const doc = JSON.parse(r.out);
    expect(doc.campaignId).toBe(STANDARD_CAMPAIGN_ID);
    expect(doc.ranking[0].rank).toBe(1);
  });
  it.each([
    [['/nonexistent/results.sqlite'], /results database \/nonexistent\/results.sqlite does not exist/],
    [['--db', 'DBPATH', 'c-unknown'], /campaign "c-unknown" is not in .*\n {2}fix: use one of: c-fixture-0001/],
    [
      ['DBPATH', '--format', 'md,pdf'],
      /--format: unknown format "pdf"\n {2}fix: use a comma-separated list of: md, csv, json, html/,
    ],
    [['DBPATH', '--price-per-kwh', 'cheap'], /--price-per-kwh must be a number >= 0 \(got "cheap"\)/],
    [['DBPATH', '--reference', 'av2'], /reference configuration .* matches no scenario/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
    [['GARBAGE'], /GARBAGE.* is not a usable ffwatt results database/],
  ])('bad input %j exits 2 with a clear message', async (argv, message) => {
    const garbage = join(dir, 'GARBAGE.sqlite');
    writeFileSync(garbage, 'this is not SQLite\n'.repeat(200));
    const r = await run(argv.map((a) => (a === 'DBPATH' ? db : a === 'GARBAGE' ? garbage : a)));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
  it('report.mjs runs under plain node (as zx would) and sets the exit code', () => {
    const script = join(import.meta.dirname, 'report.mjs');
    const ok = spawnSync(process.execPath, [script, db, '--format', 'csv', '--out', join(dir, 'mjs')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(readFileSync(join(dir, 'mjs', 'report.csv'), 'utf8')).toMatch(/^campaign_id,scenario_id,label,/);
    const bad = spawnSync(process.execPath, [script, join(dir, 'nope.sqlite')], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/does not exist/);
  });
});

describe('zx entry', () => {
  it('`zx analyzers/report.mjs` passes only the user arguments', () => {
    const zx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'zx');
    const r = spawnSync(zx, [join(import.meta.dirname, 'report.mjs'), db, '--format', 'md', '--out', join(dir, 'zx')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`md: ${join(dir, 'zx', 'report.md')}\n`);
  });
});
