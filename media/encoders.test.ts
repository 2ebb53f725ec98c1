import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RunError } from '../core/errors.ts';
import { detectEncoders, parseEncoderList, parseFfmpegVersion, resolveEncoder } from './encoders.ts';

describe('parsers', () => {
  it('reads video encoder names below the legend', () => {
    const text = [
      'Encoders:',
      ' V..... = Video',
      ' A..... = Audio',
      ' ------',
      ' V....D libx264              libx264 H.264 (codec h264)',
      ' A....D aac                  AAC (Advanced Audio Coding)',
      ' V..... h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)',
      '',
    ].join('\n');
    expect(parseEncoderList(text)).toEqual(['libx264', 'h264_nvenc']);
    expect(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')).toBe('5.1.9-0+deb12u1');
  });
});

describe('detectEncoders on this machine (real ffmpeg)', () => {
  it('finds x264/x265/SVT-AV1 usable and NVENC listed but refused by the probe', async () => {
    const report = await detectEncoders();
    expect(report.listed).toEqual(expect.arrayContaining(['libx264', 'libx265', 'libsvtav1', 'h264_nvenc']));
    expect(report.usable).toEqual(expect.arrayContaining(['libx264', 'libx265', 'libsvtav1']));
    expect(report.usable).not.toContain('h264_nvenc');
    const nvenc = report.refused.find((r) => r.encoder === 'h264_nvenc');
    expect(nvenc?.reason).toMatch(/libcuda|CUDA|nvenc|NVENC|device/i);
    expect(report.codecMap).toMatchObject({ h264: 'libx264', hevc: 'libx265', av1: 'libsvtav1' });
    expect(report.ffmpegVersion).toMatch(/^\d+\.\d+/);
    const buildconf = execFileSync('ffmpeg', ['-hide_banner', '-buildconf'], { encoding: 'utf8' });
    expect(report.buildconfHash).toBe(createHash('sha256').update(buildconf).digest('hex'));
    // cached per path: same promise, same object
    expect(await detectEncoders({ ffmpegPath: 'ffmpeg' })).toBe(report);
  });

  it('resolves codecs to encoders and explains refusals', async () => {
    const report = await detectEncoders();
    expect(resolveEncoder(report, 'h264')).toBe('libx264');
    expect(resolveEncoder(report, 'hevc', 'libx265')).toBe('libx265');
    expect(() => resolveEncoder(report, 'h264', 'h264_nvenc')).toThrow(
      /h264_nvenc is not usable on this node: .*libcuda/i,
    );
  });

  it('names the fix when ffmpeg is missing', async () => {
    const err = await detectEncoders({ ffmpegPath: '/nonexistent/ffmpeg' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunError);
    expect((err as Error).message).toMatch(/apt-get install ffmpeg.*FFWATT_FFMPEG/);
  });
});
