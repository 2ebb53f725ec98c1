import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDARD_CAMPAIGN_ID, STANDARD_CELLS, writeFixture, writeStandardFixture } from './fixture-db.ts';
import { renderSummaryMarkdown, writeReports } from './report.ts';
import { summarize } from './summarize.ts';
import { efficiencyScores } from './compare.ts';
import { InputError } from '../core/errors.ts';
import type { ReportModel } from '../core/report-model.ts';

const GOLDEN = join(import.meta.dirname, '..', 'test', 'fixtures', 'reports');
const NOW = new Date('2026-01-16T00:00:00Z');
let dir: string;
let db: string;
let files: Record<string, string>;
let model: ReportModel;

/** Compares with a committed golden; UPDATE_GOLDEN=1 rewrites it instead. */
function golden(name: string, actual: string) {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.UPDATE_GOLDEN !== '1')
      throw new Error(`golden ${path} is missing: run with UPDATE_GOLDEN=1 once and review it`);
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-report-'));
  db = join(dir, 'results.sqlite');
  writeStandardFixture(db);
  ({ files, model } = await writeReports({ db, outDir: join(dir, 'out'), now: NOW }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reports of the fixed fixture database', () => {
  it('writes all four formats', () => {
    expect(Object.keys(files).sort()).toEqual(['csv', 'html', 'json', 'md']);
    for (const f of Object.values(files)) expect(existsSync(f)).toBe(true);
  });
  it('CSV is exactly the golden', () => golden('fixture.csv', readFileSync(files.csv, 'utf8')));
  it('JSON is exactly the golden', () => golden('fixture.json', readFileSync(files.json, 'utf8')));
  it('Markdown is stable: same bytes on a second run, equal to the golden', async () => {
    const again = await writeReports({ db, outDir: join(dir, 'again'), formats: ['md'], now: NOW });
    expect(readFileSync(again.files.md, 'utf8')).toBe(readFileSync(files.md, 'utf8'));
    golden('fixture.md', readFileSync(files.md, 'utf8'));
  });
  it('CSV has one row per scenario', () => {
    const lines = readFileSync(files.csv, 'utf8').trimEnd().split('\r\n');
    expect(lines).toHaveLength(1 + STANDARD_CELLS.length);
  });
});

describe('report model', () => {
  const byPreset = (codec: string, preset: string, rate: number) =>
    model.scenarios.find((s) => s.codec === codec && s.preset === preset && s.rate.value === rate)!;

  it('counts succeeded and failed runs; statistics use succeeded runs only', () => {
    const slow = byPreset('h264', 'slow', 23);
    expect(slow.runs).toEqual({ succeeded: 3, failed: 1, canceled: 0 });
    expect(slow.metrics.jPerMin!.n).toBe(3);
    const vp9 = byPreset('vp9', 'good', 31);
    expect(vp9.runs).toEqual({ succeeded: 0, failed: 1, canceled: 0 });
    expect(vp9.energy).toBeNull();
    expect(vp9.missing.join()).toMatch(/no succeeded run/);
    expect(model.totals.runs).toEqual({ succeeded: 41, failed: 2, canceled: 0 });
  });
  it('ranks by net energy when every run has an idle baseline, lowest first', () => {
    expect(model.basis.energy).toBe('net');
    // ranked within each stratum: the measured rows, then the estimate on its own (rank 1 of its stratum)
    const measured = model.ranking.filter((r) => r.energyKind === 'measured');
    const means = measured.map((r) => r.energy.mean);
    expect([...means].sort((a, b) => a - b)).toEqual(means);
    expect(measured.map((r) => r.rank)).toEqual(measured.map((_, i) => i + 1));
    expect(model.ranking.filter((r) => r.energyKind === 'estimated')).toMatchObject([
      { rank: 1, label: 'file av1/8 crf35 240p30 x1', stratum: 'unclassified · ESTIMATE' },
    ]);
    expect(model.ranking[0].label).toContain('ultrafast');
    expect(model.ranking.find((r) => r.label.includes('vp9'))).toBeUndefined();
  });
  it('marks the estimate-sourced scenario on every row of every format', () => {
    const av1 = byPreset('av1', '8', 35);
    expect(av1.estimate).toBe(true);
    expect(av1.sourceLabel).toBe('ESTIMATE');
    const md = readFileSync(files.md, 'utf8');
    for (const line of md.split('\n').filter((l) => l.startsWith('|') && l.includes('av1/8')))
      expect(line).toMatch(/ESTIMATE/);
    const csv = readFileSync(files.csv, 'utf8')
      .split('\r\n')
      .find((l) => l.includes('av1/8'))!;
    expect(csv).toMatch(/,estimate,true,/);
    const html = readFileSync(files.html, 'utf8');
    const rows = html.split('<tr').filter((r) => r.includes('av1/8'));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(r).toMatch(/ESTIMATE/);
    // the estimate is never compared with measured energy
    expect(model.comparisons.tests.some((t) => t.a === av1.id || t.b === av1.id)).toBe(false);
  });
  it('shows flags and the CI-target state', () => {
    const uf = byPreset('h264', 'ultrafast', 23);
    expect(uf.flags).toEqual({ 'thermal-throttle': 1 });
    expect(readFileSync(files.md, 'utf8')).toContain('thermal-throttle×1');
    expect(uf.repetitions.met).toBe(true);
    expect(byPreset('vp9', 'good', 31).repetitions).toMatchObject({ met: false, note: '0 of at least 3 runs' });
  });
  it('states "no significant difference" plainly and Holm-adjusts the family', () => {
    const fastMedium = model.comparisons.tests.find(
      (t) => t.labelA.includes('h264/medium crf23') && t.labelB.includes('h264/fast crf23'),
    )!;
    expect(fastMedium.significant).toBe(false);
    expect(fastMedium.verdict).toMatch(/^no significant difference between/);
    for (const t of model.comparisons.tests) expect(t.pHolm).toBeGreaterThanOrEqual(t.p);
    expect(model.comparisons.tests.filter((t) => t.significant).length).toBeGreaterThan(0);
  });
  it('gives baseline-relative figures against the fastest preset of the first codec', () => {
    expect(model.reference).toMatchObject({ codec: 'h264', preset: 'ultrafast' });
    const slow = model.relative.find((r) => r.label.includes('h264/slow'))!;
    expect(slow.energyPct).toBeGreaterThan(0);
    expect(slow.text).toMatch(
      /^file h264\/slow crf23 240p30 x1 costs \+\d+(\.\d+)?% ±\d+(\.\d+)?% energy for \+\d\.\d+ VMAF vs file h264\/ultrafast/,
    );
  });
  it('computes BD-rate and BD-energy where a configuration has ≥ 4 rates', () => {
    const x265 = model.curves.find((c) => c.config === 'libx265 medium')!;
    expect(x265.points).toHaveLength(4);
    expect(x265.bd!.anchor).toBe('libx264 medium');
    // x265 reaches the same VMAF with less bitrate but far more energy in this fixture
    expect(x265.bd!.bdRatePct!).toBeLessThan(0);
    expect(x265.bd!.bdEnergyPct!).toBeGreaterThan(50);
  });
  it('Pareto fronts contain the lowest-energy point and no dominated point', () => {
    const q = model.pareto[0].quality!;
    expect(q.metric).toBe('vmaf');
    const front = q.points.filter((p) => p.onFront);
    expect(front.map((p) => p.label)).toContain(model.ranking[0].label);
    for (const p of front) expect(q.points.some((o) => o.energy < p.energy && o.value > p.value)).toBe(false);
  });
  it('efficiency scores are relative to the best of the same content', () => {
    const scores = efficiencyScores(model);
    expect(Math.max(...scores.map((s) => s.score))).toBe(1);
    for (const s of scores) expect(s.score).toBeGreaterThan(0);
    const best = scores.find((s) => s.score === 1 && !model.scenarios.find((x) => x.id === s.rowId)!.estimate)!;
    expect(model.scenarios.find((s) => s.id === best.rowId)!.efficiency).toBe(1);
    // the only estimate row is scored against estimates (itself), never against measurements
    const av1 = model.scenarios.find((s) => s.codec === 'av1')!;
    expect(scores.find((s) => s.rowId === av1.id)).toMatchObject({ score: 1, bestRowId: av1.id });
  });
  it('cost and CO2 per encoded hour follow the stated assumptions', () => {
    expect(model.cost).toMatchObject({
      pricePerKwh: 0.25,
      currency: 'EUR',
      carbonGramsPerKwh: 300,
      instanceCostPerHour: null,
    });
    const uf = byPreset('h264', 'ultrafast', 23);
    const kwh = (uf.metrics.jPerMin!.mean * 60) / 3.6e6;
    expect(uf.cost.kwhPerEncodedHour).toBeCloseTo(kwh, 12);
    expect(uf.cost.co2GramsPerEncodedHour).toBeCloseTo(kwh * 300, 12);
    expect(uf.cost.instanceCostPerEncodedHour).toBeNull();
    const priced = summarize({
      db,
      cost: { pricePerKwh: 0.1, currency: 'USD', carbonGramsPerKwh: 50, instanceCostPerHour: 2 },
      now: NOW,
    });
    const p = priced.scenarios.find((s) => s.id === uf.id)!;
    expect(p.cost.energyCostPerEncodedHour).toBeCloseTo(kwh * 0.1, 12);
    expect(p.cost.instanceCostPerEncodedHour).toBeCloseTo(
      (2 * uf.metrics.windowS!.mean) / uf.metrics.mediaSeconds!.mean,
      12,
    );
    expect(priced.cost.defaulted).toEqual([]);
  });
  it('records provenance', () => {
    expect(model.provenance.ffmpegVersions).toEqual([{ value: '5.1.6-0+deb12u1', runs: 41 }]);
    expect(model.provenance.meters).toContainEqual({
      meter: 'estimate',
      source: 'estimate',
      valid: true,
      state: 'in-use',
      runs: 3,
    });
    expect(model.provenance.idleBaselines).toHaveLength(1);
  });
  it('renders the short end-of-run summary', () => {
    const s = renderSummaryMarkdown(model);
    expect(s.split('\n')[0]).toBe(
      '| scenario | media s | wall s | fps | speed | bitrate | size | energy J | J/encoded min (net) | source | PSNR / SSIM / VMAF |',
    );
    expect(s).toMatch(/\| file av1\/8 crf35 240p30 x1 \|.*\*\*ESTIMATE\*\* \|/);
    expect(s).toContain('file h264/slow crf23 240p30 x1 (1 failed)');
  });
});

describe('other databases and inputs', () => {
  it('falls back to gross energy when a run lacks an idle baseline, and says so', () => {
    const path = join(dir, 'gross.sqlite');
    const cells = STANDARD_CELLS.slice(0, 3).map((c, i) => ({ ...c, idleW: i === 1 ? null : c.idleW }));
    writeFixture(path, { name: 'gross', campaignId: 'c-gross', cells, createdAt: Date.UTC(2026, 1, 1), seed: 3 });
    const m = summarize({ db: path, now: NOW });
    expect(m.basis.energy).toBe('gross');
    expect(m.basis.note).toMatch(/GROSS/);
    expect(m.ranking[0].energy.mean).toBe(m.scenarios.find((s) => s.id === m.ranking[0].rowId)!.metrics.jPerMin!.mean);
    expect(m.scenarios[1].missing).toContain('net energy: no idle baseline was applied');
  });
  it('picks the latest campaign by default and a named one on request', () => {
    const path = join(dir, 'two.sqlite');
    writeFixture(path, {
      name: 'old',
      campaignId: 'c-old',
      cells: STANDARD_CELLS.slice(0, 2),
      createdAt: Date.UTC(2026, 0, 1),
      seed: 1,
      idleW: 8,
    });
    writeFixture(path, {
      name: 'new',
      campaignId: 'c-new',
      cells: STANDARD_CELLS.slice(1, 2),
      createdAt: Date.UTC(2026, 0, 2),
      seed: 2,
      idleW: 8,
    });
    expect(summarize({ db: path }).campaign.id).toBe('c-new');
    expect(summarize({ db: path, campaignId: 'c-old' }).scenarios).toHaveLength(2);
    expect(() => summarize({ db: path, campaignId: 'c-nope' })).toThrow(/campaign "c-nope" is not in .*two.sqlite/);
  });
  it('rejects a missing database without creating it, and an unknown reference', () => {
    const missing = join(dir, 'missing.sqlite');
    expect(() => summarize({ db: missing })).toThrow(InputError);
    expect(existsSync(missing)).toBe(false);
    expect(() => summarize({ db, reference: { codec: 'h264', preset: 'placebo' } })).toThrow(/matches no scenario/);
  });
  it('uses a given reference configuration', () => {
    const m = summarize({ db, reference: { codec: 'h264', preset: 'medium' }, now: NOW });
    expect(m.reference).toMatchObject({ preset: 'medium', chosenBy: 'given in the report options' });
    expect(m.relative.some((r) => r.label.includes('ultrafast') && r.energyPct < 0 && r.text.includes('saves'))).toBe(
      true,
    );
  });
  it('reports a campaign id of an empty database as bad input', () => {
    expect(STANDARD_CAMPAIGN_ID).toBe('c-fixture-0001');
    const empty = join(dir, 'empty.sqlite');
    writeFixture(empty, { name: 'e', campaignId: 'c-e', cells: [], createdAt: 1 });
    const m = summarize({ db: empty });
    expect(m.scenarios).toHaveLength(0);
    expect(m.ranking).toHaveLength(0);
  });
});
