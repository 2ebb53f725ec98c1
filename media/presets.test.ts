import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { CODECS } from '../core/types.ts';
import { InputError } from '../core/errors.ts';
import {
  ENCODER_PREFERENCE,
  X264_PRESETS,
  codecOfEncoder,
  defaultEncoder,
  isValidPreset,
  knownEncoders,
  presetArgs,
  presetOrdinal,
  validPresets,
} from './presets.ts';

describe('ENCODER_PREFERENCE / defaultEncoder', () => {
  it('prefers the software encoders', () => {
    expect(defaultEncoder('h264')).toBe('libx264');
    expect(defaultEncoder('hevc')).toBe('libx265');
    expect(defaultEncoder('av1')).toBe('libsvtav1');
    expect(defaultEncoder('vp9')).toBe('libvpx-vp9');
    expect(ENCODER_PREFERENCE.h264).toEqual(['libx264', 'h264_nvenc', 'h264_qsv', 'h264_vaapi']);
    expect(ENCODER_PREFERENCE.av1.slice(0, 3)).toEqual(['libsvtav1', 'libaom-av1', 'av1_nvenc']);
  });

  it('knows presets for every listed encoder and maps each back to its codec', () => {
    for (const codec of CODECS) {
      for (const enc of ENCODER_PREFERENCE[codec]) {
        expect(knownEncoders()).toContain(enc);
        expect(codecOfEncoder(enc)).toBe(codec);
        for (const p of X264_PRESETS) expect(isValidPreset(enc, p)).toBe(true);
      }
    }
    expect(codecOfEncoder('librav1e')).toBeUndefined();
  });

  it('refuses an unknown codec with the valid list', () => {
    expect(() => defaultEncoder('mpeg2' as never)).toThrow(/unknown codec 'mpeg2'; use one of: h264, hevc, av1, vp9/);
  });
});

describe('presetArgs', () => {
  it('maps x264 names per family', () => {
    expect(presetArgs('libx264', 'medium')).toEqual(['-preset', 'medium']);
    expect(presetArgs('libx265', 'ultrafast')).toEqual(['-preset', 'ultrafast']);
    expect(presetArgs('libsvtav1', 'medium')).toEqual(['-preset', '6']);
    expect(presetArgs('libsvtav1', 'ultrafast')).toEqual(['-preset', '12']);
    expect(presetArgs('libsvtav1', 'placebo')).toEqual(['-preset', '0']);
    expect(presetArgs('libaom-av1', 'veryfast')).toEqual(['-cpu-used', '6']);
    expect(presetArgs('libvpx-vp9', 'ultrafast')).toEqual(['-deadline', 'realtime', '-cpu-used', '8']);
    expect(presetArgs('libvpx-vp9', 'medium')).toEqual(['-deadline', 'good', '-cpu-used', '2']);
    expect(presetArgs('libvpx-vp9', 'veryslow')).toEqual(['-deadline', 'best', '-cpu-used', '0']);
    expect(presetArgs('h264_nvenc', 'medium')).toEqual(['-preset', 'p4']);
    expect(presetArgs('hevc_nvenc', 'veryslow')).toEqual(['-preset', 'p7']);
    expect(presetArgs('h264_qsv', 'ultrafast')).toEqual(['-preset', 'veryfast']);
    expect(presetArgs('h264_vaapi', 'slow')).toEqual(['-compression_level', '3']);
  });

  it('accepts the native names', () => {
    expect(presetArgs('libsvtav1', '13')).toEqual(['-preset', '13']);
    expect(presetArgs('h264_nvenc', 'p2')).toEqual(['-preset', 'p2']);
    expect(presetArgs('libvpx-vp9', 'good-3')).toEqual(['-deadline', 'good', '-cpu-used', '3']);
    expect(isValidPreset('libx264', 'p4')).toBe(false);
    expect(isValidPreset('libsvtav1', '14')).toBe(false);
    expect(isValidPreset('nope', 'medium')).toBe(false);
  });

  it('throws an InputError naming the valid presets', () => {
    let err: unknown;
    try {
      presetArgs('libx264', 'p4');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe(
      "preset 'p4' is not valid for encoder libx264; valid presets for libx264: " + X264_PRESETS.join(', '),
    );
    expect((err as InputError).details.field).toBe('preset');
    expect(() => presetArgs('libsvtav1', 'warp')).toThrow(
      /valid presets for libsvtav1: ultrafast, .*placebo, 13, 12, 11/,
    );
    expect(() => presetArgs('x999', 'medium')).toThrow(/unknown encoder 'x999'; use one of: libx264/);
  });

  it('returns a fresh array each call', () => {
    const a = presetArgs('libx264', 'fast');
    a.push('x');
    expect(presetArgs('libx264', 'fast')).toEqual(['-preset', 'fast']);
  });
});

describe('presetOrdinal', () => {
  it('runs 0 (fastest) to 1 (slowest) on the encoder scale and is monotone over x264 names', () => {
    expect(presetOrdinal('libx264', 'ultrafast')).toBe(0);
    expect(presetOrdinal('libx264', 'placebo')).toBe(1);
    expect(presetOrdinal('libx264', 'medium')).toBeCloseTo(5 / 9);
    expect(presetOrdinal('libsvtav1', '13')).toBe(0);
    expect(presetOrdinal('libsvtav1', '0')).toBe(1);
    expect(presetOrdinal('h264_nvenc', 'p1')).toBe(0);
    expect(presetOrdinal('h264_nvenc', 'p7')).toBe(1);
    for (const enc of knownEncoders()) {
      const ords = X264_PRESETS.map((p) => presetOrdinal(enc, p));
      for (let i = 1; i < ords.length; i++) expect(ords[i]).toBeGreaterThanOrEqual(ords[i - 1]);
      for (const o of ords) expect(o >= 0 && o <= 1).toBe(true);
    }
    expect(() => presetOrdinal('libx264', 'p9')).toThrow(InputError);
  });

  it('lists x264 names before native levels', () => {
    expect(validPresets('h264_nvenc').slice(-7)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
  });
});

describe('real ffmpeg accepts the arguments of the software encoders', () => {
  const encoders = ['libx264', 'libx265', 'libsvtav1', 'libaom-av1', 'libvpx-vp9'];
  for (const enc of encoders) {
    it(`${enc}: fastest and medium presets encode 2 frames`, () => {
      for (const preset of ['ultrafast', 'medium']) {
        const argv = [
          '-hide_banner',
          '-loglevel',
          'error',
          '-f',
          'lavfi',
          '-i',
          'testsrc2=size=320x240:rate=30',
          '-frames:v',
          '2',
          '-c:v',
          enc,
          ...presetArgs(enc, preset),
          '-f',
          'null',
          '-',
        ];
        // Throws (failing the test) on a non-zero exit, with ffmpeg's stderr in the message.
        execFileSync('ffmpeg', argv, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
      }
    });
  }
});
