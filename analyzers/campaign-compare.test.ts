import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { okRuns, writeFixture, type FixtureCell } from './fixture-db.ts';
import { compareCampaigns } from './campaign-compare.ts';
import { reportCommand } from './cli.ts';
import { FFWATT } from '../test/fleet/helpers.ts';

const cell = (
  preset: string,
  hardwareClass: string,
  jPerMin: number,
  extra: Partial<FixtureCell> = {},
): FixtureCell => ({
  codec: 'h264',
  encoder: 'libx264',
  preset,
  rate: { kind: 'crf', value: 23 },
  runs: okRuns(4),
  jPerMin,
  vmaf: 88,
  psnr: 38,
  ssim: 0.96,
  speed: 5,
  bitrateBps: 1.5e6,
  idleW: 8,
  hardwareClass,
  ...extra,
});

let dir: string;
let db: string;

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await reportCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-compare-'));
  db = join(dir, 'ffwatt.sqlite');
  // Before: FFmpeg 5.1, schedutil. After: FFmpeg 6.1, performance governor; the ultrafast cell on xeon-2s got 30% dearer.
  writeFixture(db, {
    name: 'before',
    campaignId: 'c-base',
    createdAt: Date.UTC(2026, 0, 1),
    seed: 11,
    idleW: 8,
    provenance: { ffmpegVersion: '5.1.6-0+deb12u1', governor: 'schedutil' },
    cells: [
      cell('ultrafast', 'xeon-2s', 400),
      cell('ultrafast', 'epyc-1s', 300),
      cell('medium', 'xeon-2s', 600),
      cell('medium', 'xeon-2s', 250, { source: 'estimate' }),
      cell('slow', 'xeon-2s', 800),
    ],
  });
  writeFixture(db, {
    name: 'after',
    campaignId: 'c-test',
    createdAt: Date.UTC(2026, 0, 2),
    seed: 12,
    idleW: 8,
    provenance: { ffmpegVersion: '6.1.1-3', governor: 'performance' },
    cells: [
      cell('ultrafast', 'xeon-2s', 520),
      cell('ultrafast', 'epyc-1s', 301),
      cell('medium', 'xeon-2s', 601),
      cell('medium', 'xeon-2s', 252, { source: 'mixed' }),
      cell('slow', 'epyc-1s', 700),
    ],
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('campaign vs campaign', () => {
  it('matches scenarios per hardware class and energy kind, Welch-tests each match and Holm-corrects the family', () => {
    const c = compareCampaigns({ base: { db, campaignId: 'c-base' }, test: { db, campaignId: 'c-test' } });
    expect(c.matches.map((m) => `${m.label} @ ${m.stratum}`)).toEqual([
      'file h264/ultrafast crf23 240p30 x1 @ epyc-1s · measured',
      'file h264/ultrafast crf23 240p30 x1 @ xeon-2s · measured',
      'file h264/medium crf23 240p30 x1 @ xeon-2s · measured',
      // estimate (base) and mixed (test) are both estimated energy: matched with each other, never with measured rows
      'file h264/medium crf23 240p30 x1 @ xeon-2s · ESTIMATE',
    ]);
    const dearer = c.matches[1];
    expect(dearer.diffPct!).toBeGreaterThan(20);
    expect(dearer.significant).toBe(true);
    expect(dearer.verdict).toMatch(/^test uses \d+(\.\d+)?% more energy than base/);
    const same = c.matches[0];
    expect(same.significant).toBe(false);
    expect(same.verdict).toMatch(/^no significant difference/);
    for (const m of c.matches) {
      expect(m.pHolm!).toBeGreaterThanOrEqual(m.p!);
      expect(m.df!).toBeGreaterThan(0);
    }
    expect(c.matches[3].verdict).toMatch(/ESTIMATE energy on both sides/);
    // the slow cell ran on another class after the change: not matched, listed
    expect(c.unmatched).toEqual({
      baseOnly: [{ label: 'file h264/slow crf23 240p30 x1', stratum: 'xeon-2s · measured' }],
      testOnly: [{ label: 'file h264/slow crf23 240p30 x1', stratum: 'epyc-1s · measured' }],
    });
  });

  it('lists what changed between the campaigns from provenance', () => {
    const c = compareCampaigns({ base: { db, campaignId: 'c-base' }, test: { db, campaignId: 'c-test' } });
    const changed = c.provenance.filter((d) => d.changed);
    expect(changed.map((d) => d.field)).toEqual(['FFmpeg version', 'CPU governor', 'meters']);
    expect(changed[0]).toMatchObject({
      base: [{ value: '5.1.6-0+deb12u1', runs: 20 }],
      test: [{ value: '6.1.1-3', runs: 20 }],
    });
    expect(c.provenance.find((d) => d.field === 'kernel')).toMatchObject({ changed: false });
    expect(c.provenance.some((d) => d.field === 'CPU microcode')).toBe(false); // recorded on neither side
  });

  it('writes Markdown, JSON and HTML from the CLI, and refuses bad --compare input with exit 2', async () => {
    const out = join(dir, 'cmp');
    const r = await run(['--compare', 'c-base', 'c-test', '--db', db, '--out', out]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(['md', 'json', 'html'].map((f) => `${f}: ${join(out, `compare.${f}`)}\n`).join(''));
    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    expect(md).toMatch(/\| FFmpeg version \| 5\.1\.6-0\+deb12u1 \(20\) \| 6\.1\.1-3 \(20\) \|/);
    expect(md).toMatch(/\| file h264\/ultrafast crf23 240p30 x1 \| xeon-2s · measured \|.*\| test uses/);
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'))).toMatchObject({
      schema: 'ffwatt-compare/1',
      base: { id: 'c-base' },
      test: { id: 'c-test' },
    });
    expect(readFileSync(join(out, 'compare.html'), 'utf8')).toMatch(/<tr class="changed"><td>CPU governor<\/td>/);

    const bad = await Promise.all([
      run(['--compare', 'c-base', '--db', db]),
      run(['--compare', 'c-base', 'c-base', '--db', db]),
      run(['--compare', 'c-base', 'c-nope', '--db', db]),
      run(['--compare', 'c-base', 'c-test', '--db', db, '--format', 'csv']),
      run(['--compare', 'c-base', 'c-test', '--db', db, '--reference', 'h264']),
    ]);
    expect(bad.map((b) => b.code)).toEqual([2, 2, 2, 2, 2]);
    expect(bad[0].err).toMatch(/--compare takes exactly two campaigns, BASE and TEST \(got 1: c-base\)/);
    expect(bad[1].err).toMatch(/base and test are the same campaign \(c-base/);
    expect(bad[2].err).toMatch(/campaign "c-nope" is not in .*\n {2}fix: use one of: c-test, c-base/);
    expect(bad[3].err).toMatch(/--format: "csv" is not a format of --compare/);
    expect(bad[4].err).toMatch(/--compare does not take --reference/);
  });
});

describe('two real local campaigns (real ffmpeg, real SQLite): results folders, report DIR and --compare', () => {
  const matrix = `name: tiny-compare
input: {source: testsrc2, resolution: 320x180, fps: 30}
repetitions: {min: 5, max: 5, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - mode: file
    codec: h264
    preset: ultrafast
    rate: {crf: 28}
    warmup_s: 0
    duration_s: 2
`;
  const ffwatt = (args: string[]) =>
    spawnSync(process.execPath, [FFWATT, ...args], { encoding: 'utf8', timeout: 180_000 });

  // The estimate counts machine-wide CPU time, so other load on a shared box widens both sides' spread:
  // five runs a side and a tenfold setting keep the difference clear of that noise.
  it('compares a campaign estimated at 5 W per logical CPU with one at 50 W', () => {
    const m = join(dir, 'tiny.yml');
    writeFileSync(m, matrix);
    const base = join(dir, 'real-base');
    const test = join(dir, 'real-test');
    // no RAPL or NVML here: the estimate meter measures both, with a different setting
    for (const [out, watts] of [
      [base, '5'],
      [test, '50'],
    ]) {
      const r = ffwatt(['run', m, '--out', out, '--seed', '3', '--no-report', '--watts-per-logical-cpu', watts]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
    // `ffwatt report DIR` takes the folder `ffwatt run --out DIR` wrote
    const rep = ffwatt(['report', base, '--format', 'md', '--include-flagged']);
    expect(rep.status, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(new RegExp(`^md: ${join(base, 'reports')}/[0-9a-f-]+/report\\.md\\n$`));
    const cmp = ffwatt(['report', '--compare', base, test, '--include-flagged', '--json']);
    expect(cmp.status, cmp.stderr).toBe(0);
    const doc = JSON.parse(cmp.stdout);
    expect(doc).toMatchObject({ matches: 1, significant: 1 });
    const model = JSON.parse(readFileSync(doc.files.json, 'utf8'));
    const match = model.matches[0];
    // Both campaigns ran here: one hardware class (this machine's, from its host facts), estimated energy.
    expect(match.stratum).toMatch(/^[a-z0-9-]+-[0-9a-f]{8} · ESTIMATE$/);
    expect(match).toMatchObject({ significant: true });
    expect(match).toMatchObject({ base: { n: 5 }, test: { n: 5 } });
    expect(match.test.mean / match.base.mean).toBeGreaterThan(3);
    expect(match.pHolm).toBeGreaterThanOrEqual(match.p);
    expect(model.base.db).toBe(join(base, 'ffwatt.sqlite'));
    expect(existsSync(join(doc.files.md))).toBe(true);
  }, 400_000);

  it('names the missing database when a folder is not a results folder', async () => {
    const empty = mkdtempSync(join(dir, 'not-results-'));
    const r = await run([empty]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /not-results-\w+ is a folder but holds no ffwatt\.sqlite\n {2}fix: pass the folder given to `ffwatt run --out`/,
    );
  });
});
