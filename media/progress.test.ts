import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProgressParser, parseBitrate, parseClock, parseProgressText, parseSpeed } from './progress.ts';

// Recorded with real ffmpeg 5.1 (`-progress pipe:1 -nostats`); see test/fixtures/ffmpeg/README.md.
const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../test/fixtures/ffmpeg/${name}`, import.meta.url)), 'utf8');

describe('parseProgressText on recorded ffmpeg output', () => {
  it('reads a single libx264 encode: N/A start block, then the end block', () => {
    const samples = parseProgressText(fixture('progress-libx264-320x240-2s.txt'));
    expect(samples).toHaveLength(2);
    expect(samples[0]).toEqual({
      frame: 1,
      fps: 0,
      bitrateBps: null,
      totalSizeBytes: 48,
      outTimeS: 0,
      dupFrames: 0,
      dropFrames: 0,
      speed: null,
      end: false,
    });
    expect(samples[1]).toEqual({
      frame: 50,
      fps: 0,
      bitrateBps: 715_900,
      totalSizeBytes: 175_408,
      outTimeS: 1.960078,
      dupFrames: 0,
      dropFrames: 0,
      speed: 49.6,
      end: true,
    });
  });

  it('reads a realtime two-rung ladder: monotonic time, one end block last', () => {
    const samples = parseProgressText(fixture('progress-ladder-2rungs-realtime.txt'));
    expect(samples.length).toBe(7);
    expect(samples.filter((s) => s.end)).toHaveLength(1);
    expect(samples.at(-1)!.end).toBe(true);
    for (let i = 1; i < samples.length; i++) {
      expect(samples[i].outTimeS).toBeGreaterThanOrEqual(samples[i - 1].outTimeS);
      expect(samples[i].frame).toBeGreaterThanOrEqual(samples[i - 1].frame);
    }
    expect(samples[1].speed).toBe(0); // "speed=   0x"
    expect(samples.at(-1)).toMatchObject({
      frame: 75,
      fps: 24.76,
      outTimeS: 2.880078,
      speed: 0.951,
      bitrateBps: 444_600,
    });
  });

  it('reads duplicated frames', () => {
    const last = parseProgressText(fixture('progress-dup-frames.txt')).at(-1)!;
    expect(last).toMatchObject({ dupFrames: 30, dropFrames: 0, speed: 101, end: true });
  });

  it('gives the same samples whatever the chunking (partial lines, split UTF-8)', () => {
    const text = fixture('progress-ladder-2rungs-realtime.txt');
    const whole = parseProgressText(text);
    const bytes = Buffer.from(text);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const p = new ProgressParser();
        const got = [];
        for (let i = 1; i < points.length; i++) got.push(...p.push(bytes.subarray(points[i - 1], points[i])));
        got.push(...p.finish());
        expect(got).toEqual(whole);
        expect(p.last).toEqual(whole.at(-1));
      }),
      { numRuns: 200 },
    );
  });
});

describe('progress value parsers', () => {
  it('parses bitrates, speeds and clocks, N/A as null', () => {
    expect(parseBitrate(' 715.9kbits/s')).toBe(715_900);
    expect(parseBitrate('2.5Mbits/s')).toBe(2_500_000);
    expect(parseBitrate('N/A')).toBeNull();
    expect(parseSpeed(' 101x')).toBe(101);
    expect(parseSpeed('N/A')).toBeNull();
    expect(parseClock('01:02:03.500000')).toBe(3723.5);
    expect(parseClock('-00:00:00.040000')).toBe(-0.04);
    expect(parseClock('N/A')).toBeNull();
  });

  it('falls back from out_time_us to out_time, then out_time_ms (microseconds in practice)', () => {
    expect(parseProgressText('out_time=00:00:02.000000\nprogress=continue\n')[0].outTimeS).toBe(2);
    expect(parseProgressText('out_time_ms=1500000\nprogress=continue\n')[0].outTimeS).toBe(1.5);
    // N/A everywhere keeps the previous time; negative start-up times clamp to 0
    const s = parseProgressText(
      'out_time_us=1000000\nprogress=continue\nout_time_us=N/A\nout_time=N/A\nprogress=continue\nout_time_us=-40000\nprogress=end',
    );
    expect(s.map((x) => x.outTimeS)).toEqual([1, 1, 0]);
    expect(s[2].end).toBe(true);
  });
});
