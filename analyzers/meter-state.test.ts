// A meter the machine does not have is reported as absent, never as INVALID: a fleet report over
// hosts without RAPL or NVML used to list both as INVALID. Runs record each meter's state in their
// provenance (energy/: in-use, absent, unusable); records from before states fall back to `valid`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X264_CELL, writeFixture, type FixtureCell } from './fixture-db.ts';
import { summarize } from './summarize.ts';
import { writeModelFiles } from './report.ts';
import type { ReportModel } from '../core/report-model.ts';

const CELL: FixtureCell = {
  ...X264_CELL,
  preset: 'ultrafast',
  source: 'estimate',
  runs: ['ok', 'ok', 'ok'],
  jPerMin: 300,
  speed: 9,
};

let dir: string;
let model: ReportModel;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffwatt-meter-state-'));
  const db = join(dir, 'ffwatt.sqlite');
  writeFixture(db, {
    name: 'meters',
    campaignId: 'c-meters',
    cells: [CELL],
    createdAt: Date.UTC(2026, 0, 20),
    seed: 3,
    provenance: {
      meters: [
        {
          meter: 'rapl',
          source: 'rapl',
          valid: false,
          state: 'absent',
          note: 'no /sys/class/powercap/intel-rapl* zones',
        },
        { meter: 'nvml', source: 'nvml', valid: false, state: 'absent', note: 'libnvidia-ml.so.1 not found' },
        { meter: 'estimate', source: 'estimate', valid: true, state: 'in-use' },
      ],
    },
  });
  model = summarize({ db, now: new Date('2026-02-01T00:00:00Z') });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('meters in the report', () => {
  it('keeps absent meters apart from invalid ones in the model', () => {
    const byMeter = Object.fromEntries(model.provenance.meters.map((m) => [m.meter, m.state]));
    expect(byMeter).toEqual({ estimate: 'in-use', nvml: 'absent', rapl: 'absent' });
  });

  it('says "absent" in Markdown and HTML, never INVALID, for a host without RAPL and NVML', () => {
    const files = writeModelFiles(model, ['md', 'html'], join(dir, 'out'));
    for (const file of [files.md, files.html]) {
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/rapl \(rapl, absent: the machine has none, 3 runs\)/);
      expect(text).toMatch(/nvml \(nvml, absent: the machine has none, 3 runs\)/);
      expect(text).not.toMatch(/INVALID/);
    }
  });
});
