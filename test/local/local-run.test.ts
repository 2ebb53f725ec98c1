import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pidsMatching, startFfwatt, stop, waitFor } from '../fleet/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function matrix(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function rows<T>(db: string, sql: string): T[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(sql).all() as T[];
  } finally {
    d.close();
  }
}

describe('local mode end to end (real ffmpeg, real SQLite)', () => {
  it('records a failing cell (bad encoder option) as failed and finishes the campaign', async () => {
    const m = matrix(
      'fail.yml',
      `name: failing-cell
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 1
scenarios:
  - mode: file
    codec: h264
    preset: ultrafast
    rate: {crf: 30}
    warmup_s: 0.5
    duration_s: 2
  - mode: file
    codec: h264
    preset: ultrafast
    rate: {crf: 30}
    warmup_s: 0.5
    duration_s: 2
    encoder_options: {"profile:v": nosuch}
`,
    );
    const out = join(dir, 'fail-out');
    const p = startFfwatt(['run', m, '--out', out, '--seed', '7']);
    const code = await p.exited;
    expect(code, p.output()).toBe(1); // a failed cell makes the run exit 1, after the campaign completed
    const db = join(out, 'ffwatt.sqlite');
    const runs = rows<{
      status: string;
      error: string | null;
      stderr_tail: string;
      exit_code: number | null;
      energy_source: string | null;
      provenance: string;
    }>(db, 'SELECT status, error, stderr_tail, exit_code, energy_source, provenance FROM run ORDER BY status');
    expect(runs.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    const failed = runs[0];
    expect(failed.exit_code).not.toBe(0);
    expect(failed.stderr_tail).toMatch(/nosuch|Error/i);
    expect(JSON.parse(failed.provenance).argv[0].join(' ')).toContain('-profile:v nosuch');
    expect(runs[1].energy_source).toBe('estimate');
    expect(rows<{ status: string }>(db, 'SELECT status FROM campaign')[0].status).toBe('done');
    expect(p.output()).toMatch(/J\/encoded min|J per encoded minute/);
  });

  it('runs the older batch-matrix JSON with its idle baseline used for net energy', async () => {
    const m = matrix(
      'legacy.json',
      JSON.stringify({
        scenarios: [
          { type: 'baseline', name: 'idle', duration: 1 },
          {
            type: 'multi',
            name: 'one',
            count: 1,
            bitrate: '600k',
            resolution: '320x240',
            fps: 30,
            stabilization: 0.5,
            duration: 2,
            cooldown: 0,
          },
          {
            type: 'multi',
            name: 'two',
            count: 2,
            bitrate: '600k',
            resolution: '320x240',
            fps: 30,
            stabilization: 0.5,
            duration: 2,
            cooldown: 0,
          },
          {
            type: 'single',
            name: 'ladder',
            bitrate: '800k',
            resolution: '320x240',
            fps: 30,
            stabilization: 0.5,
            duration: 2,
            cooldown: 0,
            outputs: [
              { resolution: '320x240', fps: 30 },
              { resolution: '256x144', fps: 30 },
              { resolution: '160x90', fps: 15 },
            ],
          },
        ],
      }),
    );
    const out = join(dir, 'legacy-out');
    const p = startFfwatt(['run', m, '--out', out, '--seed', '3', '--json']);
    const code = await p.exited;
    expect(code, p.output()).toBe(0);
    const db = join(out, 'ffwatt.sqlite');
    const c = rows<{ matrix_format: string; settings: string }>(db, 'SELECT matrix_format, settings FROM campaign')[0];
    expect(c.matrix_format).toBe('legacy-batch');
    expect(JSON.parse(c.settings).idleBaselineS).toBe(1);
    const runs = rows<{
      streams: number;
      mode: string;
      status: string;
      idle_w: number | null;
      net_j: number | null;
      gross_j: number;
      window_s: number;
      quality: string;
      energy: string;
      flags: string;
    }>(
      db,
      'SELECT s.streams, s.mode, r.status, r.idle_w, r.net_j, r.gross_j, r.window_s, r.quality, r.energy, r.flags FROM run r JOIN scenario s ON s.id = r.scenario_id',
    );
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(new Set(runs.map((r) => r.streams))).toEqual(new Set([1, 2]));
    // The baseline is used for net energy when it was clean; on a machine busy with other work it is
    // refused (docs/methodology.md) and the run says so instead of carrying a wrong net figure.
    let freshClean = 0;
    for (const r of runs) {
      expect(r.status).toBe('succeeded');
      expect(r.mode).toBe('live');
      const baseline = JSON.parse(r.energy).baseline;
      expect(baseline.seconds).toBeGreaterThan(0.9);
      if (baseline.clean) {
        if (!baseline.reused) freshClean += 1;
        expect(r.idle_w).not.toBeNull();
        expect(r.net_j).toBeCloseTo(r.gross_j - (r.idle_w as number) * r.window_s, 6);
      } else {
        expect(JSON.parse(r.flags)).toContain('idle-baseline-dirty');
        expect(r.idle_w).toBeNull();
        expect(r.net_j).toBeNull();
      }
    }
    expect(rows(db, 'SELECT * FROM idle_baseline')).toHaveLength(freshClean);
    const ladder = runs.map((r) => JSON.parse(r.quality)).find((q) => q?.outputs?.length === 3);
    expect(ladder, 'the single cell scores its 3 rungs').toBeTruthy();
  });

  it('leaves no ffmpeg or nginx behind and no half-written run when interrupted mid-run', async () => {
    const m = matrix(
      'long.yml',
      `name: interrupted
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 2, max: 2, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 0
scenarios:
  - mode: live
    codec: h264
    preset: ultrafast
    rate: {bitrate: 400k}
    warmup_s: 1
    duration_s: 30
`,
    );
    const out = join(dir, 'int-out');
    const p = startFfwatt(['run', m, '--out', out]);
    await waitFor('a live encode running', async () => pidsMatching(join(out, 'work')).length >= 2 || null, 60_000);
    await stop(p, 'SIGINT', 20_000);
    expect(p.child.exitCode).toBe(130);
    await waitFor('children gone', async () => pidsMatching(join(out, 'work')).length === 0 || null, 10_000);
    const db = join(out, 'ffwatt.sqlite');
    const jobs = rows<{ state: string }>(db, 'SELECT state FROM job');
    expect(jobs.every((j) => j.state === 'canceled' || j.state === 'succeeded')).toBe(true);
    // a run row exists only as a complete record (written in one transaction), here the canceled one
    for (const r of rows<{ status: string; provenance: string; ended_at: string }>(
      db,
      'SELECT status, provenance, ended_at FROM run',
    )) {
      expect(['canceled', 'succeeded']).toContain(r.status);
      expect(JSON.parse(r.provenance).ffmpegVersion).toBeTruthy();
    }
    expect(rows<{ status: string }>(db, 'SELECT status FROM campaign')[0].status).toBe('canceled');
    expect(rows<{ integrity_check: string }>(db, 'PRAGMA integrity_check')[0].integrity_check).toBe('ok');
  });
});
