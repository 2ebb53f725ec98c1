import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { RunError, exitCodeOf } from '../core/errors.ts';
import { liveProcesses } from '../runner/index.ts';
import { describeInput, hasSitiFilter, measureContent, parseSitiSummary } from './content.ts';
import type { InputSpec } from '../core/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'ffwatt-content-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const testsrc: InputSpec = { kind: 'synthetic', source: 'testsrc2', resolution: { width: 320, height: 180 }, fps: 25 };
const bars: InputSpec = { kind: 'synthetic', source: 'smptehdbars', resolution: { width: 320, height: 180 }, fps: 25 };

describe('content complexity (real ffmpeg)', () => {
  it('FFmpeg 5.1 here has the siti filter', async () => {
    expect(await hasSitiFilter()).toBe(true);
  });

  it('measures SI/TI with siti: moving testsrc2 has motion, static bars have none', async () => {
    const cacheFile = join(dir, 'cache.json');
    const a = await measureContent(testsrc, { seconds: 1, cacheFile });
    const b = await measureContent(bars, { seconds: 1, cacheFile });
    expect(a.method).toBe('siti');
    expect(a.frames).toBe(25);
    expect(a.si).toBeGreaterThan(10);
    expect(a.ti).toBeGreaterThan(1);
    expect(b.ti).toBeLessThan(0.5);
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    expect(Object.keys(cache)).toHaveLength(2);
    expect(Object.values(cache)).toContainEqual(a);
  });

  it('the proxy ranks the same sources the same way', async () => {
    const a = await measureContent(testsrc, { seconds: 1, method: 'proxy' });
    const b = await measureContent(bars, { seconds: 1, method: 'proxy' });
    expect(a.method).toBe('proxy');
    expect(a.ti).toBeGreaterThan(b.ti);
    expect(a.si).toBeGreaterThan(0);
  });

  it('names a missing input file', async () => {
    await expect(
      measureContent({ kind: 'file', path: join(dir, 'none.mp4'), resolution: { width: 2, height: 2 }, fps: 1 }),
    ).rejects.toThrow(/none\.mp4' does not exist/);
  });

  it('an FFmpeg that fails is a run failure (exit 1) carrying its stderr, and leaves no process behind', async () => {
    // A file that exists but is no video: FFmpeg itself refuses it.
    const junk = join(dir, 'junk.mp4');
    writeFileSync(junk, 'not a video\n');
    const err = await measureContent(
      { kind: 'file', path: junk, resolution: { width: 2, height: 2 }, fps: 1 },
      { method: 'siti' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(exitCodeOf(err)).toBe(1);
    expect((err as Error).message).toMatch(
      /^content analysis failed: ffmpeg exited with code \d+: .*junk\.mp4: Invalid data found/,
    );
    expect(liveProcesses()).toEqual([]);
  });

  it('describes inputs stably and parses the siti summary', () => {
    expect(describeInput(testsrc)).toBe('testsrc2 320x180@25');
    expect(
      parseSitiSummary(
        'Total frames: 3\nSpatial Information:\nAverage: 1.5\nMax: 2\nTemporal Information:\nAverage: 0.25\n',
      ),
    ).toEqual({ si: 1.5, ti: 0.25, frames: 3 });
    expect(() => parseSitiSummary('nothing')).toThrow(/siti summary/);
  });
});
