import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStandardFixture } from '../analyzers/fixture-db.ts';
import { recentRunsForMetrics } from './metrics-source.ts';
import { Store } from './store.ts';

describe('recentRunsForMetrics (real SQLite)', () => {
  it('gives the latest run per scenario+node with an efficiency score relative to the best of its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-msrc-'));
    const path = join(dir, 'r.sqlite');
    writeStandardFixture(path);
    const store = Store.open(path);
    const runs = recentRunsForMetrics(store, 1000);
    expect(runs.length).toBeGreaterThan(0);
    const scored = runs.filter((r) => r.efficiency != null);
    expect(scored.length).toBeGreaterThan(0);
    for (const r of scored) {
      expect(r.efficiency!).toBeGreaterThan(0);
      expect(r.efficiency!).toBeLessThanOrEqual(1 + 1e-12);
    }
    // within one energy source, some configuration is the best one
    const bySource = new Map<string, number>();
    for (const r of scored) bySource.set(r.source as string, Math.max(bySource.get(r.source as string) ?? 0, r.efficiency!));
    expect([...bySource.values()].some((v) => Math.abs(v - 1) < 1e-9)).toBe(true);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
