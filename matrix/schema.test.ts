import { describe, expect, it } from 'vitest';
import { parseBitrate, parseResolution } from './index.ts';

describe('parseBitrate', () => {
  it('reads numbers and k/M/G suffixes', () => {
    expect(parseBitrate('3M')).toBe(3_000_000);
    expect(parseBitrate('2.5M')).toBe(2_500_000);
    expect(parseBitrate('800k')).toBe(800_000);
    expect(parseBitrate('800K')).toBe(800_000);
    expect(parseBitrate('1G')).toBe(1e9);
    expect(parseBitrate(2_500_000)).toBe(2_500_000);
    expect(parseBitrate('1500000')).toBe(1_500_000);
  });

  it('refuses malformed, negative, zero and tiny values with a fix', () => {
    expect(parseBitrate('3X')).toMatch(/^bitrate '3X' is malformed — fix: write bits per second/);
    expect(parseBitrate('-1M')).toMatch(/^bitrate '-1M' must be greater than 0 — fix:/);
    expect(parseBitrate(0)).toMatch(/^bitrate 0 must be greater than 0/);
    expect(parseBitrate('3m')).toMatch(/malformed \(M is mega; a lower-case m would mean milli\)/);
    expect(parseBitrate('3 Mbps')).toMatch(/malformed/);
    expect(parseBitrate(800)).toMatch(/under 1 kbit\/s — fix: did you mean '800k'\?/);
    expect(parseBitrate({ M: 3 })).toMatch(/must be a number or a string like '3M'/);
  });
});

describe('parseResolution', () => {
  it('reads WxH', () => {
    expect(parseResolution('1280x720')).toEqual({ width: 1280, height: 720 });
    expect(parseResolution('1920 x 1080')).toEqual({ width: 1920, height: 1080 });
  });

  it('refuses shapes that are not WxH, odd sides and absurd sizes', () => {
    expect(parseResolution('1280*720')).toMatch(/is not WxH/);
    expect(parseResolution('720p')).toMatch(/is not WxH/);
    expect(parseResolution(1280)).toMatch(/must be a string WxH/);
    expect(parseResolution('1279x720')).toMatch(/odd side .* e\.g\. '1280x720'/);
    expect(parseResolution('0x0')).toMatch(/out of range/);
    expect(parseResolution('16384x16384')).toMatch(/out of range/);
  });
});
