/**
 * Cross-check against Debian's prometheus-node-exporter reading the same powercap fixture
 * tree (--path.sysfs): before a wrap both give the same joules for every zone; after one,
 * node_exporter's counter falls back (it has no wrap handling) while ffwatt's keeps rising,
 * ahead by exactly wraps × max_energy_range_uj / 1e6 J.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  copyPowercapFixture,
  type PowercapFixture,
  type PowercapFixtureName,
} from '../test/fixtures/powercap/fixture.ts';
import { openRaplMeter, type RaplMeter } from './rapl.ts';
import { joulesFromUj } from './units.ts';
import { freeLoopbackPort } from '../core/net.ts';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function fixture(name: PowercapFixtureName): PowercapFixture {
  const f = copyPowercapFixture(name);
  cleanups.push(() => f.cleanup());
  return f;
}

const freePort = freeLoopbackPort;

/** Starts node_exporter with only the rapl collector on the tree; returns a scrape function. */
async function startNodeExporter(sysfs: string): Promise<() => Promise<string>> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    NODE_EXPORTER,
    [
      `--path.sysfs=${sysfs}`,
      '--collector.disable-defaults',
      '--collector.rapl',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  cleanups.push(() => child.kill('SIGTERM'));
  const url = `http://127.0.0.1:${port}/metrics`;
  const scrape = async () => (await fetch(url)).text();
  for (let i = 0; i < 100; i++) {
    try {
      await scrape();
      return scrape;
    } catch {
      if (child.exitCode !== null) throw new Error(`node_exporter exited ${child.exitCode}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`node_exporter did not answer on ${url}: ${stderr}`);
}

/** node_rapl_*_joules_total values keyed by the zone path label. */
function raplByPath(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^node_rapl_\w+_joules_total\{[^}]*path="([^"]+)"[^}]*\} (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

function ours(m: RaplMeter): Map<string, { joules: number; rangeJ: number; wraps: number }> {
  const samples = new Map(m.read().map((s) => [s.zone, s.uj]));
  const wraps = m.wraps();
  return new Map(
    m
      .details()
      .map((z) => [
        z.path,
        { joules: joulesFromUj(samples.get(z.zone)!), rangeJ: joulesFromUj(z.maxRangeUj), wraps: wraps[z.zone] },
      ]),
  );
}

describe('RAPL cross-check with prometheus-node-exporter', () => {
  for (const name of [
    'intel-laptop',
    'intel-2socket',
    'amd-2socket',
    'xeon-2socket-psys',
    'xeon-4socket',
    'laptop-psys-mmio',
    'amd-1socket-2die-mirror',
    'psys1-only',
  ] as const) {
    it(`${name}: equal joules for every zone before a wrap, the documented difference after one`, async () => {
      const f = fixture(name);
      const p = openRaplMeter({ sysfsRoot: f.sysfs });
      if (!p.ok) throw new Error(p.reason);
      const meter = p.meter as RaplMeter;
      const scrape = await startNodeExporter(f.sysfs);
      const ids = meter.details().map((z) => z.id);

      // 1. as found, and 2. after some energy below any wrap
      for (let step = 0; step < 2; step++) {
        if (step === 1) for (const id of ids) f.advance(id, 1_234_567n);
        const theirs = raplByPath(await scrape());
        const mine = ours(meter);
        expect([...theirs.keys()].sort()).toEqual([...mine.keys()].sort());
        for (const [path, v] of mine) expect(theirs.get(path)).toBeCloseTo(v.joules, 6);
      }

      // 3. wrap the first zone: put in enough to pass max_energy_range_uj once
      const wrapped = ids[0];
      const before = f.energy(wrapped);
      const rangeUj = f.range(wrapped);
      const put = rangeUj - before + 5_000_000n; // lands 5 J past the wrap
      expect(f.advance(wrapped, put)).toBe(1);
      const theirs = raplByPath(await scrape());
      const mine = ours(meter);
      for (const [path, v] of mine) {
        const diff = v.joules - theirs.get(path)!;
        // ffwatt = node_exporter + wraps × range: node_exporter's increase() would lose (range − last) J
        expect(diff).toBeCloseTo(v.wraps * v.rangeJ, 4);
        expect(v.wraps).toBe(path === f.zoneDir(wrapped) ? 1 : 0);
      }
      expect(theirs.get(f.zoneDir(wrapped))).toBeCloseTo(5, 6);
    });
  }

  it('missing-range: node_exporter silently drops every zone, ffwatt refuses with the reason', async () => {
    const f = fixture('missing-range');
    const scrape = await startNodeExporter(f.sysfs);
    const text = await scrape();
    expect(raplByPath(text).size).toBe(0);
    expect(text).toMatch(/node_scrape_collector_success\{collector="rapl"\} 0/);
    const p = openRaplMeter({ sysfsRoot: f.sysfs });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(/max_energy_range_uj: missing/);
  });
});
