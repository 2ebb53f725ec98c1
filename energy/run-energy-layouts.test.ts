/**
 * The machine total of every powercap layout, through a full run record: a real local run
 * (`ffwatt run`, a short x264 encode, SQLite) against a fixture tree whose counters a writer
 * (test/fixtures/powercap/rate-writer.mjs, loaded into the run's process) moves at known power
 * in real time. The recorded energy must be the layout's total.
 */
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEnergy } from '../core/types.ts';
import { copyPowercapFixture, type PowercapFixture } from '../test/fixtures/powercap/fixture.ts';
import { LAYOUTS, type PowercapLayout } from '../test/fixtures/powercap/layouts.ts';

const BIN = new URL('../bin/ffwatt.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ffwatt-layout-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MATRIX = `name: layout-check
input: {source: testsrc2, resolution: 640x360, fps: 30}
repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}
cooldown_s: 0
idle_baseline_s: 1
scenarios:
  - mode: file
    codec: h264
    preset: veryfast
    rate: {crf: 28}
    warmup_s: 0.5
    duration_s: 12
`;
// 12 s of media: at veryfast 360p the measured window is about 1.3 s of wall time, so one
// preemption at a window edge moves a figure by half as much as with 6 s (a CI run saw 5.06 %).

async function runOn(
  L: PowercapLayout,
  watts: Record<string, number>,
  tag: string,
  prepare?: (f: PowercapFixture) => void,
) {
  const f = copyPowercapFixture(L.fixture);
  prepare?.(f);
  const writer = f.rateWriter(watts, { mirrors: L.mirrors });
  const out = join(dir, `${L.fixture}-${tag}`);
  const matrix = join(dir, 'layout.yml');
  writeFileSync(matrix, MATRIX);
  let log = '';
  try {
    const r = await execa(
      'node',
      [
        ...writer.nodeArgs,
        BIN,
        'run',
        matrix,
        '--out',
        out,
        '--sysfs',
        f.sysfs,
        '--json',
        '--no-report',
        '--seed',
        '1',
      ],
      {
        reject: false,
        env: writer.env,
      },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    log = `${r.stdout}\n${r.stderr}`;
  } finally {
    f.cleanup();
  }
  const db = new Database(join(out, 'ffwatt.sqlite'), { readonly: true });

  try {
    const rows = db
      .prepare("SELECT energy, energy_source, flags, media_seconds FROM run WHERE status = 'succeeded'")
      .all() as Array<{
      energy: string;
      energy_source: string;
      flags: string;
      media_seconds: number;
    }>;
    expect(rows).toHaveLength(1);
    return {
      energy: JSON.parse(rows[0].energy) as RunEnergy,
      source: rows[0].energy_source,
      flags: JSON.parse(rows[0].flags) as string[],
      mediaSeconds: rows[0].media_seconds,
      log,
    };
  } finally {
    db.close();
  }
}

describe('machine total through a full local run, per layout', () => {
  for (const L of LAYOUTS) {
    it(`${L.fixture}: recorded energy averages ${L.totalW} W`, async () => {
      const { energy, source, flags, mediaSeconds } = await runOn(L, L.watts, 'ok');
      expect(source).toBe('rapl');
      expect(Object.fromEntries(energy.zones.map((z) => [z.zone, z.role]))).toEqual(L.roles);
      // counters fresh at every read (one 10 ms update at most); a run preempted between reading the
      // counters and stamping the time at one end of its few-second window moves the figure by a few per cent
      expect(energy.avgW / L.totalW).toBeGreaterThan(0.95);
      expect(energy.avgW / L.totalW).toBeLessThan(1.05);
      expect(energy.grossJ).toBeCloseTo(energy.avgW * energy.windowS, 6);
      expect(energy.jPerEncodedMinute).toBeCloseTo(energy.grossJ / (mediaSeconds / 60), 6);
      if (L.platformW === null) expect(energy.platformJ).toBeNull();
      else expect(energy.platformJ! / energy.windowS / L.platformW).toBeCloseTo(1, 1);
      expect(flags).not.toContain('topology-suspect');
    }, 180_000);
  }

  it('a RAPL total above psys by more than 5 % is recorded with the flag topology-suspect; a short wrap range raises the sampling rate', async () => {
    const L = LAYOUTS.find((x) => x.fixture === 'laptop-psys-mmio')!;
    // a 100 J range: at the 500 W assumed before any reading it wraps in 0.2 s, so local mode must sample at 4 / 0.2 s = 20 Hz
    const prepare = (f: PowercapFixture) => {
      for (const id of ['intel-rapl:0', 'intel-rapl-mmio:0']) f.setRange(id, 100_000_000n);
      for (const id of ['intel-rapl:0', 'intel-rapl-mmio:0']) f.setEnergy(id, 1_000_000n);
    };
    const { energy, flags, log } = await runOn(L, { ...L.watts, 'intel-rapl:1': 9 }, 'suspect', prepare);
    expect(energy.flags).toEqual(['topology-suspect']);
    expect(flags).toContain('topology-suspect');
    expect(log).toMatch(/energy sampling at 20 Hz/);
    expect(energy.avgW / 12).toBeGreaterThan(0.95); // wraps every ~8 s at 12 W, all counted
  }, 180_000);
});
