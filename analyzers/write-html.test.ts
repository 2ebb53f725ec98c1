// The HTML report opened in real headless Chromium (Debian's `chromium`; test/setup.d/50-chromium.sh).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStandardFixture, writeFixture } from './fixture-db.ts';
import { writeReports } from './report.ts';
import { renderHtml } from './write-html.ts';
import { summarize } from './summarize.ts';
import type { ReportModel } from '../core/report-model.ts';

const SHOTS = join(import.meta.dirname, '..', 'test', '.work', 'analyzers');
let dir: string;
let html: string;
let htmlPath: string;
let model: ReportModel;
let run = 0;

function chromium(args: string[], url: string): { stdout: string; stderr: string; status: number | null } {
  const profile = join(dir, `profile-${++run}`);
  const r = spawnSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--enable-logging=stderr',
      '--v=0',
      ...args,
      url,
    ],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const consoleLines = (stderr: string) => stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));

/** The markup of one <figure id="…"> element. */
function figure(dom: string, id: string): string {
  const start = dom.indexOf(`<figure class="chart" id="${id}"`);
  expect(start, `chart ${id} present`).toBeGreaterThanOrEqual(0);
  return dom.slice(start, dom.indexOf('</figure>', start));
}
const points = (markup: string) => (markup.match(/data-point="/g) ?? []).length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-html-'));
  const db = join(dir, 'results.sqlite');
  writeStandardFixture(db);
  const r = await writeReports({
    db,
    outDir: join(dir, 'out'),
    formats: ['html'],
    now: new Date('2026-01-16T00:00:00Z'),
  });
  htmlPath = r.files.html;
  model = r.model;
  html = readFileSync(htmlPath, 'utf8');
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('self-contained HTML report', () => {
  it('has a CSP that forbids every fetch and no URL, script, font or external reference', () => {
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    );
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script|<link|<iframe|<img|\bsrc=|\bhref=|url\(|@import|@font-face/i);
    expect(html).toMatch(/@media print/);
  });

  it('opens in headless Chromium with no console message (CSP violations included), and every chart has its points', () => {
    const r = chromium(['--dump-dom'], `file://${htmlPath}`);
    expect(r.status).toBe(0);
    expect(consoleLines(r.stderr)).toEqual([]);
    const dom = r.stdout;
    expect(dom).toContain('ffwatt report: fixture');
    // one front per stratum: the measured rows first, the estimated SVT-AV1 row on its own
    expect(model.pareto.map((p) => p.stratum)).toEqual(['unclassified · measured', 'unclassified · ESTIMATE']);
    const q = model.pareto[0].quality!;
    expect(points(figure(dom, 'pareto-vmaf'))).toBe(q.points.length);
    expect(points(figure(dom, 'pareto-speed'))).toBe(model.pareto[0].speed!.points.length);
    expect(points(figure(dom, 'pareto-vmaf-1'))).toBe(1);
    const allPareto = model.pareto.reduce((n, p) => n + p.quality!.points.length + p.speed!.points.length, 0);
    for (const codec of ['h264', 'hevc', 'av1']) {
      const withEnergy = model.scenarios.filter((s) => s.codec === codec && s.energy).length;
      expect(points(figure(dom, `bars-${codec}`)), codec).toBe(withEnergy);
    }
    expect(dom).not.toContain('id="bars-vp9"'); // vp9 has no succeeded run: no bar
    const curvePoints = model.curves.flatMap((c) => c.points);
    expect(points(figure(dom, 'curve-energy-0'))).toBe(curvePoints.length);
    expect(points(figure(dom, 'curve-quality-0'))).toBe(curvePoints.length);
    expect(points(dom)).toBe(allPareto + model.ranking.length + 2 * curvePoints.length);
    // estimate rows and points are marked in the rendered page, never drawn on a measured front
    expect(dom).toMatch(/<tr class="estimate">.*av1\/8/);
    expect(figure(dom, 'pareto-vmaf-1')).toMatch(/class="dot[^"]* estimate"/);
    expect(figure(dom, 'pareto-vmaf')).not.toMatch(/class="dot[^"]*estimate"/);
  });

  it('the console detector does see violations (control page with a blocked image)', () => {
    const bad = join(dir, 'bad.html');
    writeFileSync(bad, html.replace('<body>', '<body><img src="http://127.0.0.1:9/x.png" alt="">'));
    const r = chromium(['--dump-dom'], `file://${bad}`);
    expect(consoleLines(r.stderr).join('\n')).toMatch(/Content Security Policy/);
  });

  it('takes a full-page screenshot into test/.work/analyzers and prints to PDF', () => {
    const png = join(SHOTS, 'report.png');
    rmSync(png, { force: true });
    const r = chromium(['--window-size=1280,4200', '--hide-scrollbars', `--screenshot=${png}`], `file://${htmlPath}`);
    expect(r.status).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(png).size).toBeGreaterThan(50_000);
    const pdf = join(SHOTS, 'report.pdf');
    rmSync(pdf, { force: true });
    chromium(['--no-pdf-header-footer', `--print-to-pdf=${pdf}`], `file://${htmlPath}`);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('renders an empty campaign without NaN or broken charts', () => {
    const db = join(dir, 'empty.sqlite');
    writeFixture(db, { name: 'empty', campaignId: 'c-empty', cells: [], createdAt: 1 });
    const out = renderHtml(summarize({ db }));
    expect(out).not.toMatch(/NaN|Infinity|undefined/);
    expect(out).toContain('nothing is ranked');
  });

  it('escapes labels', () => {
    const evil = structuredClone(model);
    evil.campaign.name = '<script>alert(1)</script>';
    evil.scenarios[0].label = 'a<b>&"c"';
    const out = renderHtml(evil);
    expect(out).not.toContain('<script>alert');
    expect(out).toContain('a&lt;b&gt;&amp;&quot;c&quot;');
  });
});
