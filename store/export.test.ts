import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STANDARD_CAMPAIGN_ID, STANDARD_CELLS, writeFixture, writeStandardFixture } from '../analyzers/fixture-db.ts';
import { exportCampaign, importCampaign } from './export.ts';
import { setupKey, Store } from './store.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each imported run's run_setup row holds the key of its own provenance (not the exporter's row id). */
function setupsMatch(store: Store, campaignId: string): { runs: number; wrong: number } {
  const rows = store.db
    .prepare('SELECT r.provenance, s.key FROM run r LEFT JOIN run_setup s ON s.id = r.setup_id WHERE r.campaign_id = ?')
    .all(campaignId) as Array<{ provenance: string; key: string | null }>;
  return { runs: rows.length, wrong: rows.filter((r) => r.key !== setupKey(JSON.parse(r.provenance))).length };
}

describe('campaign export → import (ffwatt campaign fetch, ffwatt run --master)', () => {
  writeStandardFixture(join(dir, 'master.sqlite'));
  const source = Store.open(join(dir, 'master.sqlite'));
  const exported = exportCampaign(source, STANDARD_CAMPAIGN_ID)!;
  source.close();

  it('imports into an empty results database (the master’s run_setup ids are not carried over)', () => {
    const local = Store.open(join(dir, 'empty.sqlite'));
    try {
      importCampaign(local, exported);
      expect(setupsMatch(local, STANDARD_CAMPAIGN_ID)).toEqual({ runs: exported.runs.length, wrong: 0 });
    } finally {
      local.close();
    }
  });

  it('imports beside other campaigns whose setups took the same ids, each run pointing at its own setup', () => {
    const path = join(dir, 'busy.sqlite');
    writeFixture(path, {
      name: 'other',
      campaignId: 'c-other',
      cells: STANDARD_CELLS.slice(0, 2),
      createdAt: Date.UTC(2026, 0, 1),
      provenance: { ffmpegVersion: '7.1-other', kernel: '6.12.0-other' },
    });
    const local = Store.open(path);
    try {
      importCampaign(local, exported);
      importCampaign(local, exported); // fetched twice: replaced, not doubled
      expect(setupsMatch(local, STANDARD_CAMPAIGN_ID)).toEqual({ runs: exported.runs.length, wrong: 0 });
      expect(setupsMatch(local, 'c-other').wrong).toBe(0);
    } finally {
      local.close();
    }
  });
});
