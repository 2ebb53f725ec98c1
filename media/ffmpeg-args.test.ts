import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import {
  buildEncodeArgs,
  buildLiveSourceArgs,
  buildPublishArgs,
  DISPLAY_PROGRESS_PERIOD_S,
  progressPeriodS,
  rateArgs,
  WARMUP_PROGRESS_PERIOD_S,
} from './ffmpeg-args.ts';
import { makeScenario, probeVideo, res, workDir } from './test-helpers.ts';

describe('buildEncodeArgs (snapshots)', () => {
  it('synthetic testsrc2, libx264 crf, one rung', () => {
    const s = makeScenario({ preset: 'medium' });
    expect(
      buildEncodeArgs(s, 'libx264', { outputs: ['/w/o0.mp4'], totalMediaS: 7, streamIndex: 0 }),
    ).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-stats_period",
        "0.5",
        "-y",
        "-progress",
        "pipe:1",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=7",
        "-filter_complex",
        "[0:v]scale=320:240,format=yuv420p[o0]",
        "-map",
        "[o0]",
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-crf",
        "23",
        "-an",
        "-metadata",
        "comment=ffwatt stream 0 rung 0",
        "/w/o0.mp4",
      ]
    `);
  });

  it('smptehdbars, libx265 bitrate, 3-rung ladder with a per-rung rate and a lower fps', () => {
    const s = makeScenario({
      codec: 'hevc',
      preset: 'fast',
      input: { kind: 'synthetic', source: 'smptehdbars', resolution: res('1280x720'), fps: 30 },
      rate: { kind: 'bitrate', value: 3_000_000 },
      rungs: [
        ['1280x720', 30],
        ['854x480', 30, { kind: 'bitrate', value: 1_200_000 }],
        ['640x360', 15],
      ],
    });
    expect(
      buildEncodeArgs(s, 'libx265', {
        outputs: ['/w/r0.mp4', '/w/r1.mp4', '/w/r2.mp4'],
        totalMediaS: 12.5,
        streamIndex: 3,
      }),
    ).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-stats_period",
        "0.5",
        "-y",
        "-progress",
        "pipe:1",
        "-f",
        "lavfi",
        "-i",
        "smptehdbars=size=1280x720:rate=30:duration=12.5",
        "-filter_complex",
        "[0:v]split=3[s0][s1][s2];[s0]scale=1280:720,format=yuv420p[o0];[s1]scale=854:480,format=yuv420p[o1];[s2]scale=640:360,fps=15,format=yuv420p[o2]",
        "-map",
        "[o0]",
        "-c:v",
        "libx265",
        "-preset",
        "fast",
        "-b:v",
        "3000000",
        "-maxrate",
        "3000000",
        "-bufsize",
        "6000000",
        "-an",
        "-metadata",
        "comment=ffwatt stream 3 rung 0",
        "/w/r0.mp4",
        "-map",
        "[o1]",
        "-c:v",
        "libx265",
        "-preset",
        "fast",
        "-b:v",
        "1200000",
        "-maxrate",
        "1200000",
        "-bufsize",
        "2400000",
        "-an",
        "-metadata",
        "comment=ffwatt stream 3 rung 1",
        "/w/r1.mp4",
        "-map",
        "[o2]",
        "-c:v",
        "libx265",
        "-preset",
        "fast",
        "-b:v",
        "3000000",
        "-maxrate",
        "3000000",
        "-bufsize",
        "6000000",
        "-an",
        "-metadata",
        "comment=ffwatt stream 3 rung 2",
        "/w/r2.mp4",
      ]
    `);
  });

  it('looped file input, libsvtav1 crf with encoder options', () => {
    const s = makeScenario({
      codec: 'av1',
      preset: '8',
      input: { kind: 'file', path: '/media/in.mp4', resolution: res('1920x1080'), fps: 30 },
      rate: { kind: 'crf', value: 35 },
      rungs: [['1280x720', 30]],
      encoderOptions: { 'svtav1-params': 'tune=0', '-g': '60' },
    });
    expect(
      buildEncodeArgs(s, 'libsvtav1', { outputs: ['/w/o.mkv'], totalMediaS: 20, streamIndex: 1 }),
    ).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-stats_period",
        "0.5",
        "-y",
        "-progress",
        "pipe:1",
        "-stream_loop",
        "-1",
        "-i",
        "/media/in.mp4",
        "-filter_complex",
        "[0:v]scale=1280:720,format=yuv420p[o0]",
        "-map",
        "[o0]",
        "-c:v",
        "libsvtav1",
        "-preset",
        "8",
        "-crf",
        "35",
        "-svtav1-params",
        "tune=0",
        "-g",
        "60",
        "-an",
        "-t",
        "20",
        "-metadata",
        "comment=ffwatt stream 1 rung 0",
        "/w/o.mkv",
      ]
    `);
  });

  it('live puller: rtmp input override, libvpx-vp9 crf', () => {
    const s = makeScenario({ codec: 'vp9', mode: 'live', preset: 'veryfast', rate: { kind: 'crf', value: 31 } });
    expect(
      buildEncodeArgs(s, 'libvpx-vp9', {
        outputs: ['/w/o.webm'],
        totalMediaS: 6,
        streamIndex: 0,
        input: 'rtmp://127.0.0.1:1935/live/s0',
      }),
    ).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-stats_period",
        "0.5",
        "-y",
        "-progress",
        "pipe:1",
        "-rw_timeout",
        "15000000",
        "-analyzeduration",
        "500000",
        "-i",
        "rtmp://127.0.0.1:1935/live/s0",
        "-filter_complex",
        "[0:v]scale=320:240,format=yuv420p[o0]",
        "-map",
        "[o0]",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "6",
        "-crf",
        "31",
        "-b:v",
        "0",
        "-an",
        "-t",
        "6",
        "-metadata",
        "comment=ffwatt stream 0 rung 0",
        "/w/o.webm",
      ]
    `);
  });

  it('live source render and publisher', () => {
    const s = makeScenario({ mode: 'live' });
    expect(buildLiveSourceArgs(s, '/w/live-source.flv', 11)).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=11",
        "-map",
        "0:v",
        "-vf",
        "format=yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "12",
        "-g",
        "25",
        "-bf",
        "0",
        "-an",
        "-f",
        "flv",
        "/w/live-source.flv",
      ]
    `);
    expect(buildPublishArgs('/w/live-source.flv', 'rtmp://127.0.0.1:1935/live/s0')).toMatchInlineSnapshot(`
      [
        "-hide_banner",
        "-nostats",
        "-re",
        "-i",
        "/w/live-source.flv",
        "-map",
        "0:v",
        "-c",
        "copy",
        "-f",
        "flv",
        "rtmp://127.0.0.1:1935/live/s0",
      ]
    `);
  });
});

describe('rateArgs per encoder family', () => {
  it('maps crf and bitrate to each encoder family', () => {
    const crf = { kind: 'crf', value: 28 } as const;
    const br = { kind: 'bitrate', value: 2_500_000 } as const;
    expect(rateArgs('libx264', crf)).toEqual(['-crf', '28']);
    expect(rateArgs('libx264', br)).toEqual(['-b:v', '2500000', '-maxrate', '2500000', '-bufsize', '5000000']);
    expect(rateArgs('libsvtav1', br)).toEqual(['-b:v', '2500000']);
    expect(rateArgs('libvpx-vp9', crf)).toEqual(['-crf', '28', '-b:v', '0']);
    expect(rateArgs('h264_nvenc', crf)).toEqual(['-rc', 'vbr', '-cq', '28', '-b:v', '0']);
    expect(rateArgs('hevc_qsv', crf)).toEqual(['-global_quality', '28']);
    expect(rateArgs('h264_vaapi', crf)).toEqual(['-rc_mode', 'CQP', '-qp', '28']);
  });
});

describe('progress period (-stats_period)', () => {
  const periodOf = (warmupS: number) => {
    const argv = buildEncodeArgs(makeScenario({ warmupS }), 'libx264', {
      outputs: ['/w/a.mkv'],
      totalMediaS: warmupS + 1,
      streamIndex: 0,
    });
    return argv[argv.indexOf('-stats_period') + 1];
  };

  it('is 50 ms with a warm-up, where a progress block opens the measured window', () => {
    expect(periodOf(1)).toBe('0.05');
    expect(periodOf(0.2)).toBe(String(WARMUP_PROGRESS_PERIOD_S));
  });

  it("is FFmpeg's default 0.5 s without one: the window opens at spawn, blocks only feed the display", () => {
    expect(periodOf(0)).toBe('0.5');
    expect(progressPeriodS({ warmupS: 0 })).toBe(DISPLAY_PROGRESS_PERIOD_S);
  });
});

describe('buildEncodeArgs refuses bad input', () => {
  it('names the mismatch between ladder rungs and output paths', () => {
    const s = makeScenario({
      rungs: [
        ['320x240', 25],
        ['160x120', 25],
      ],
    });
    expect(() => buildEncodeArgs(s, 'libx264', { outputs: ['/w/a.mp4'], totalMediaS: 1, streamIndex: 0 })).toThrow(
      /2 ladder rungs but 1 output paths/,
    );
  });

  it('refuses an encoder option name with spaces', () => {
    const s = makeScenario({ encoderOptions: { 'x264 params': '1' } });
    expect(() => buildEncodeArgs(s, 'libx264', { outputs: ['/w/a.mp4'], totalMediaS: 1, streamIndex: 0 })).toThrow(
      InputError,
    );
  });
});

describe('the built argv runs in real ffmpeg', () => {
  it('encodes a 2-rung ladder of the requested sizes, fps and duration', () => {
    const dir = workDir('args');
    const s = makeScenario({
      rungs: [
        ['320x240', 25],
        ['160x120', 10],
      ],
    });
    const outputs = [join(dir, 'r0.mp4'), join(dir, 'r1.mp4')];
    const argv = buildEncodeArgs(s, 'libx264', { outputs, totalMediaS: 2, streamIndex: 0 });
    const stdout = execFileSync('ffmpeg', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(stdout).toContain('progress=end');
    const [r0, r1] = outputs.map(probeVideo);
    expect(r0).toMatchObject({ width: 320, height: 240, codec: 'h264', frames: 50 });
    expect(r1).toMatchObject({ width: 160, height: 120, codec: 'h264', frames: 20 });
    expect(r0.durationS).toBeCloseTo(2, 1);
  });

  it('bounds a looped file input to totalMediaS', () => {
    const dir = workDir('args-file');
    const src = join(dir, 'src.mp4');
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=160x120:rate=10:duration=1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      src,
    ]);
    const s = makeScenario({ input: { kind: 'file', path: src, resolution: res('160x120'), fps: 10 } });
    const out = join(dir, 'o.mp4');
    execFileSync('ffmpeg', buildEncodeArgs(s, 'libx264', { outputs: [out], totalMediaS: 2.5, streamIndex: 0 }), {
      stdio: 'ignore',
    });
    const p = probeVideo(out);
    expect(p.frames).toBe(25);
  });
});
