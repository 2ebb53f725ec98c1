// Quality scoring against real FFmpeg (Debian's, without libvmaf): tiny 2 s 320x240 encodes.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.ts';
import { InputError, RunError } from '../core/errors.ts';
import type { InputSpec } from '../core/types.ts';
import { probeScoringFfmpeg } from './ffmpeg.ts';
import { runProcess } from '../runner/index.ts';
import { scoreOutputs, type ScoredQuality } from './score.ts';

const FFMPEG = 'ffmpeg';
const reference: InputSpec = {
  kind: 'synthetic',
  source: 'testsrc2',
  resolution: { width: 320, height: 240 },
  fps: 30,
};
const qvga = { width: 320, height: 240 };
let dir: string;
const file = (name: string) => path.join(dir, name);

async function encode(name: string, outArgs: string[]): Promise<void> {
  await runProcess(FFMPEG, [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=30:duration=2',
    ...outArgs,
    file(name),
  ]);
}

const x264 = (bitrate: string) => ['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', bitrate, '-pix_fmt', 'yuv420p'];

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ format: 'text', level: 'debug', write: (l) => lines.push(l) }) };
}

let main: ScoredQuality;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ffwatt-quality-'));
  await Promise.all([
    encode('lossless.mkv', ['-c:v', 'ffv1', '-pix_fmt', 'yuv420p']),
    encode('hi.mp4', x264('1500k')),
    encode('lo.mp4', x264('80k')),
    encode('fps15.mp4', ['-vf', 'fps=15', ...x264('1500k')]),
    encode('small.mp4', ['-vf', 'scale=160:120', ...x264('500k')]),
  ]);
  main = await scoreOutputs({
    reference,
    referenceDurationS: 2,
    outputs: [
      { rung: 0, path: file('lossless.mkv'), fps: 30, resolution: qvga },
      { rung: 1, path: file('hi.mp4'), fps: 30, resolution: qvga },
      { rung: 2, path: file('lo.mp4'), fps: 30, resolution: qvga },
      { rung: 3, path: file('fps15.mp4'), fps: 15, resolution: qvga },
      { rung: 4, path: file('small.mp4'), fps: 30, resolution: { width: 160, height: 120 } },
    ],
    ffmpegPath: FFMPEG,
    vmafModel: null,
    workDir: path.join(dir, 'work'),
    notices: new Set(),
  });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('scoreOutputs with real ffmpeg', () => {
  it('scores an identical output as capped PSNR (flagged) and SSIM 1', () => {
    const same = main.outputs[0];
    expect(same.psnrY).toBe(100);
    expect(same.psnrAvg).toBe(100);
    expect(same.psnrCapped).toBe(true);
    expect(same.psnrFrames).toMatchObject({ mean: 100, p1: 100, min: 100 });
    expect(same.psnrFrames!.harmonicMean).toBeCloseTo(100, 9);
    expect(same.ssim).toBe(1);
    expect(same.ssimY).toBe(1);
    expect(same.frames).toBe(60);
    expect(main.recipe.psnrCapDb).toBe(100);
  });

  it('scores a lower bitrate strictly lower in PSNR and SSIM', () => {
    const [, hi, lo] = main.outputs;
    expect(hi.psnrCapped).toBe(false);
    expect(lo.psnrY!).toBeLessThan(hi.psnrY!);
    expect(lo.psnrAvg!).toBeLessThan(hi.psnrAvg!);
    expect(lo.ssim!).toBeLessThan(hi.ssim!);
    expect(lo.psnrFrames!.min).toBeLessThan(hi.psnrFrames!.min);
    expect(hi.psnrY!).toBeGreaterThan(35);
    expect(hi.ssim!).toBeGreaterThan(0.95);
    for (const o of [hi, lo]) {
      expect(o.frames).toBe(60);
      const f = o.psnrFrames!;
      expect(f.min).toBeLessThanOrEqual(f.p1);
      expect(f.min).toBeLessThanOrEqual(f.harmonicMean);
      expect(f.harmonicMean).toBeLessThanOrEqual(f.mean);
    }
  });

  it('compares a 15 fps output at the 30 fps reference rate (each frame shown twice)', () => {
    const o = main.outputs[3];
    expect(o.frames).toBe(60);
    expect(o.psnrY!).toBeGreaterThan(20);
    expect(o.psnrY!).toBeLessThan(main.outputs[1].psnrY!); // motion between repeated frames costs quality
    expect(o.ssim!).toBeGreaterThan(0.85);
    expect(o.psnrFrames!.min).toBeLessThan(main.outputs[1].psnrFrames!.min);
  });

  it('scales a 160x120 output to the 320x240 reference with bicubic', () => {
    const o = main.outputs[4];
    expect(o.frames).toBe(60);
    expect(o.psnrY!).toBeGreaterThan(25);
    expect(o.psnrY!).toBeLessThan(main.outputs[1].psnrY!);
    expect(o.ssim!).toBeGreaterThan(0.85);
    const comparisons = main.recipe.comparisons as Array<{ rung: number; filterGraph: string; argv: string[] }>;
    expect(comparisons[4].filterGraph).toContain('scale=320:240:flags=bicubic');
    expect(comparisons[4].filterGraph).toContain('settb=AVTB,setpts=PTS-STARTPTS,fps=fps=30');
    expect(comparisons[4].filterGraph).toContain('shortest=1:repeatlast=0');
  });

  it('records the recipe: scoring ffmpeg version, scaler, reference', async () => {
    const probe = await probeScoringFfmpeg(FFMPEG);
    expect(main.recipe.scoringFfmpeg).toEqual({ path: FFMPEG, version: probe.version, libvmaf: null });
    expect(probe.version).toMatch(/^\d+\.\d+/);
    expect(main.recipe.scaler).toBe('bicubic');
    expect(main.recipe.reference).toBe(
      `lavfi testsrc2 320x240@30, rendered for 2 s by the encoding ffmpeg (ffmpeg, version ${probe.version}) and piped to the scoring ffmpeg as raw yuv420p frames (NUT)`,
    );
    const [first] = main.recipe.comparisons as Array<{ argv: string[]; referenceArgv: string[] }>;
    expect(first.referenceArgv).toEqual([
      'ffmpeg',
      '-hide_banner',
      '-nostdin',
      '-nostats',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30:duration=2',
      '-map',
      '0:v:0',
      '-pix_fmt',
      'yuv420p',
      '-c:v',
      'rawvideo',
      '-f',
      'nut',
      'pipe:1',
    ]);
    expect(first.argv.join(' ')).toContain(' -f nut -i pipe:0 ');
    expect(main.recipe.vmaf).toBeNull();
  });

  it('says once, plainly, that this ffmpeg has no libvmaf', async () => {
    expect(main.vmafSkippedReason).toMatch(
      /^VMAF skipped: this ffmpeg \(ffmpeg, version \S+\) has no libvmaf; set --quality-ffmpeg or FFWATT_QUALITY_FFMPEG to a VMAF-capable ffmpeg$/,
    );
    const { lines, log } = capture();
    const notices = new Set<string>();
    const opts = {
      reference,
      referenceDurationS: 1,
      outputs: [{ rung: 0, path: file('hi.mp4'), fps: 30, resolution: qvga }],
      ffmpegPath: FFMPEG,
      vmafModel: '/nonexistent/but/irrelevant.pkl',
      log,
      notices,
      workDir: path.join(dir, 'once'),
    };
    const first = await scoreOutputs(opts);
    await scoreOutputs(opts);
    expect(lines.filter((l) => l.includes('VMAF skipped'))).toEqual([`warn: ${first.vmafSkippedReason}`]);
    expect(first.outputs[0].vmaf).toBeNull();
    // a 1 s reference against a 2 s output: the comparison stops with the shorter one
    expect(first.outputs[0].frames).toBe(30);
  });

  it('scores against a file reference the same way as against the regenerated source', async () => {
    const q = await scoreOutputs({
      reference: { kind: 'file', path: file('lossless.mkv'), fps: 30, resolution: qvga },
      outputs: [{ rung: 0, path: file('hi.mp4'), fps: 30, resolution: qvga }],
      ffmpegPath: FFMPEG,
      vmafModel: null,
      workDir: path.join(dir, 'fileref'),
      notices: new Set(),
    });
    expect(q.outputs[0].psnrY).toBeCloseTo(main.outputs[1].psnrY!, 6);
    expect(q.outputs[0].ssim).toBeCloseTo(main.outputs[1].ssim!, 6);
  });

  it('fails clearly on a missing output, a missing binary and a bad scaler', async () => {
    const base = {
      reference,
      outputs: [{ rung: 0, path: file('nope.mp4'), fps: 30, resolution: qvga }],
      vmafModel: null,
      workDir: path.join(dir, 'bad'),
      notices: new Set<string>(),
    };
    await expect(scoreOutputs({ ...base, ffmpegPath: FFMPEG })).rejects.toThrow(RunError);
    await expect(scoreOutputs({ ...base, ffmpegPath: FFMPEG })).rejects.toThrow(/rung 0 not found at .*nope\.mp4/);
    await expect(scoreOutputs({ ...base, qualityFfmpegPath: '/nonexistent/ffmpeg' })).rejects.toThrow(InputError);
    await expect(scoreOutputs({ ...base, ffmpegPath: FFMPEG, scale: 'nearest' as never })).rejects.toThrow(
      /unknown scaler "nearest"/,
    );
  });

  it('turns an ffmpeg failure into a RunError with its stderr', async () => {
    const bogus = file('not-a-video.mp4');
    await runProcess('sh', ['-c', `echo garbage > ${bogus}`]);
    await expect(
      scoreOutputs({
        reference,
        outputs: [{ rung: 0, path: bogus, fps: 30, resolution: qvga }],
        ffmpegPath: FFMPEG,
        vmafModel: null,
        workDir: path.join(dir, 'garbage'),
        notices: new Set(),
      }),
    ).rejects.toThrow(/ffmpeg exited with 1: .*not-a-video\.mp4/s);
  });
});
