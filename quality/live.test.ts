// Live outputs scored against the part of the source they show (real nginx-rtmp + ffmpeg, 320x240).
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEncodeArgs,
  buildLiveSourceArgs,
  buildPublishArgs,
  parseInputStartS,
  runEncodeCell,
  startRtmpServer,
  type RtmpServer,
} from '../media/index.ts';
import { runProcess, startProcess } from '../runner/index.ts';
import { alignToReference } from './align.ts';
import { buildComparison } from './graph.ts';
import { scoreOutputs } from './score.ts';
import { makeScenario, res, workDir } from '../media/test-helpers.ts';

const qvga = res('320x240');

describe('parseInputStartS', () => {
  it('reads the start time of input #0 from ffmpeg stderr', () => {
    const stderr = [
      "Input #0, flv, from 'rtmp://127.0.0.1:41234/live/s0':",
      '  Metadata:',
      '    encoder         : Lavf59.27.100',
      '  Duration: 00:00:00.00, start: 3.000000, bitrate: N/A',
      '  Stream #0:0: Video: h264 (High), yuv420p(progressive), 320x240, 25 fps, 25 tbr, 1k tbn',
      "Output #0, matroska, to 'out.mkv':",
      '  Duration: 00:00:04.00, start: 0.000000, bitrate: N/A',
    ].join('\n');
    expect(parseInputStartS(stderr)).toBe(3);
    expect(parseInputStartS('[tcp @ 0x1] Connection refused\n')).toBeNull();
  });
});

describe('comparison from a reference offset', () => {
  it('trims the reference to the offset frame after fixing its rate', () => {
    const cmd = buildComparison({
      reference: { kind: 'file', path: '/w/live-source.flv', resolution: qvga, fps: 25, startS: 1.04 },
      distorted: { path: '/w/s0-r0.mkv', fps: 25, resolution: qvga },
      scaler: 'bicubic',
      pixFmt: 'yuv420p',
      logs: { psnr: 'psnr.log', ssim: 'ssim.log', vmaf: 'vmaf.json' },
      vmaf: null,
    });
    expect(cmd.filterGraph).toContain(
      '[1:v]settb=AVTB,setpts=PTS-STARTPTS,fps=fps=25,trim=start_frame=26,setpts=PTS-STARTPTS,format=yuv420p,split=2[ref0][ref1]',
    );
  });
});

describe('frame matching on static content', () => {
  it('keeps the given offset when every offset matches alike', async () => {
    const dir = workDir('align-static');
    const output = path.join(dir, 'bars.mkv');
    await runProcess('ffmpeg', [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'smptehdbars=size=320x240:rate=25:duration=2',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-b:v',
      '300k',
      '-pix_fmt',
      'yuv420p',
      output,
    ]);
    const reference = { kind: 'synthetic' as const, source: 'smptehdbars' as const, resolution: qvga, fps: 25 };
    const a = await alignToReference({ ffmpegPath: 'ffmpeg', reference, output, givenS: 1.2 });
    expect(a).toMatchObject({ method: 'given', offsetS: 1.2, searchedS: [0, 3.2] });
    expect(a.matchPsnrDb).toBeGreaterThan(35);
  }, 30_000);
});

describe('a puller that joins late (real nginx-rtmp)', () => {
  let rtmp: RtmpServer;
  let dir: string;
  let startS: number | null;
  const source = () => path.join(dir, 'live-source.flv');
  const output = () => path.join(dir, 'late.mkv');
  const scenario = makeScenario({ mode: 'live', durationS: 2, rate: { kind: 'bitrate', value: 1_000_000 } });
  const reference = () => ({ kind: 'file' as const, path: source(), resolution: qvga, fps: 25 });

  beforeAll(async () => {
    dir = workDir('live-late');
    rtmp = await startRtmpServer({ workDir: path.join(dir, 'rtmp') });
    await runProcess('ffmpeg', buildLiveSourceArgs(scenario, source(), 8));
    const url = rtmp.url('late');
    const publisher = startProcess('ffmpeg', buildPublishArgs(source(), url), { stopWith: 'q', graceMs: 1500 });
    await rtmp.waitPublishing('late', 15_000);
    await sleep(2300); // well past the first keyframes
    const puller = await runProcess(
      'ffmpeg',
      buildEncodeArgs(scenario, 'libx264', { outputs: [output()], totalMediaS: 2, streamIndex: 0, input: url }),
      {
        nothrow: true,
        tailBytes: 64 * 1024,
      },
    );
    await publisher.stop();
    expect(puller.ok).toBe(true);
    startS = parseInputStartS(puller.stderrTail);
  }, 60_000);
  afterAll(() => rtmp?.stop());

  it('keeps the publisher timestamps: the input starts seconds into the source, and frame matching agrees', async () => {
    expect(startS).not.toBeNull();
    expect(startS!).toBeGreaterThanOrEqual(2);
    expect(startS!).toBeLessThan(6);
    const checked = await alignToReference({
      ffmpegPath: 'ffmpeg',
      reference: reference(),
      output: output(),
      givenS: startS,
    });
    expect(checked).toMatchObject({ method: 'given', offsetS: startS });
    expect(checked.matchPsnrDb).toBeGreaterThan(35);
    expect(checked.runnerUpPsnrDb!).toBeLessThan(checked.matchPsnrDb - 10);
    const searched = await alignToReference({
      ffmpegPath: 'ffmpeg',
      reference: reference(),
      output: output(),
      givenS: null,
    });
    expect(searched).toMatchObject({ method: 'frame-match', offsetS: startS });
    const wrongHint = await alignToReference({
      ffmpegPath: 'ffmpeg',
      reference: reference(),
      output: output(),
      givenS: startS! - 0.6,
    });
    expect(wrongHint).toMatchObject({ method: 'frame-match', offsetS: startS });
  }, 60_000);

  it('scores high from the right offset and poorly from the start of the source', async () => {
    const q = await scoreOutputs({
      reference: reference(),
      outputs: [
        {
          rung: 0,
          path: output(),
          fps: 25,
          resolution: qvga,
          referenceOffsetS: startS,
          referenceOffsetOrigin: 'rtmp stream timestamps',
          verifyReferenceOffset: true,
        },
        { rung: 1, path: output(), fps: 25, resolution: qvga },
      ],
      ffmpegPath: 'ffmpeg',
      vmafModel: null,
      workDir: path.join(dir, 'quality'),
      notices: new Set(),
    });
    const [aligned, naive] = q.outputs;
    expect(aligned.referenceOffsetS).toBe(startS);
    expect(aligned.alignment?.method).toBe('given');
    expect(aligned.ssim!).toBeGreaterThan(0.95);
    expect(aligned.psnrY!).toBeGreaterThan(35);
    expect(aligned.frames).toBe(50);
    expect(naive.referenceOffsetS).toBe(0);
    expect(naive.ssim!).toBeLessThan(0.9);
    expect(naive.psnrY!).toBeLessThan(aligned.psnrY! - 10);
    const recipe = q.recipe as { comparisons: Array<Record<string, unknown>>; alignment?: string };
    expect(recipe.comparisons[0]).toMatchObject({
      referenceOffsetS: startS,
      referenceOffsetOrigin: 'rtmp stream timestamps',
    });
    expect(recipe.alignment).toMatch(/frame/);
  }, 60_000);
});

describe('a live cell scores like a file cell of the same settings', () => {
  it('records a plausible source offset and scores close to the file encode', async () => {
    const common = { durationS: 3, rate: { kind: 'bitrate' as const, value: 1_000_000 } };
    const total = 3;
    const liveDir = workDir('live-quality');
    const fileDir = workDir('file-quality');
    const live = await runEncodeCell(makeScenario({ mode: 'live', ...common }), 'libx264', { workDir: liveDir });
    const file = await runEncodeCell(makeScenario({ mode: 'file', ...common }), 'libx264', { workDir: fileDir });
    expect(live.error).toBeNull();
    expect(file.error).toBeNull();
    expect(live.liveSourcePath).toBe(path.join(liveDir, 'live-source.flv'));
    expect(file.liveSourcePath).toBeUndefined();
    const offset = live.streams[0].sourceOffsetS;
    expect(offset).not.toBeNull();
    expect(offset!).toBeGreaterThanOrEqual(0);
    expect(offset!).toBeLessThan(total);

    const out = (dir: string, st: (typeof live.streams)[0], extra = {}) => ({
      rung: 0,
      path: st.outputs[0].path,
      fps: 25,
      resolution: qvga,
      ...extra,
    });
    const [lq, fq] = await Promise.all([
      scoreOutputs({
        reference: { kind: 'file', path: live.liveSourcePath!, fps: 25, resolution: qvga },
        outputs: [out(liveDir, live.streams[0], { referenceOffsetS: offset, verifyReferenceOffset: true })],
        ffmpegPath: 'ffmpeg',
        vmafModel: null,
        workDir: path.join(liveDir, 'quality'),
        notices: new Set(),
      }),
      scoreOutputs({
        reference: makeScenario().input,
        referenceDurationS: total,
        outputs: [out(fileDir, file.streams[0])],
        ffmpegPath: 'ffmpeg',
        vmafModel: null,
        workDir: path.join(fileDir, 'quality'),
        notices: new Set(),
      }),
    ]);
    const [l, f] = [lq.outputs[0], fq.outputs[0]];
    expect(l.alignment).toMatchObject({ method: 'given', offsetS: offset });
    expect(l.ssim!).toBeGreaterThan(0.95);
    expect(f.ssim!).toBeGreaterThan(0.95);
    expect(Math.abs(l.psnrY! - f.psnrY!)).toBeLessThan(3);
    expect(Math.abs(l.ssim! - f.ssim!)).toBeLessThan(0.02);
    expect(l.frames).toBeGreaterThanOrEqual(70);
  }, 90_000);
});
