// VMAF with a real libvmaf: the static FFmpeg 4.1 (libvmaf 1.3) from @ffmpeg-installer/linux-x64 scores,
// Debian's FFmpeg encodes. Models come from ../shared/vmaf beside the repository (never copied in; docs/vmaf-models.md).
import { access, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.ts';
import { InputError } from '../core/errors.ts';
import type { InputSpec } from '../core/types.ts';
import { probeScoringFfmpeg } from './ffmpeg.ts';
import { runProcess } from '../runner/index.ts';
import { scoreOutputs } from './score.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const VMAF_FFMPEG = path.join(repoRoot, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
const MODELS = path.resolve(repoRoot, '..', 'shared', 'vmaf');
const PKL = path.join(MODELS, 'vmaf_v0.6.1.pkl');
const ENCODER = 'ffmpeg';
const nhd = { width: 640, height: 360 };
const reference: InputSpec = { kind: 'synthetic', source: 'testsrc2', resolution: nhd, fps: 30 };
let dir: string;
const file = (name: string) => path.join(dir, name);

async function encode(name: string, bitrate: string): Promise<void> {
  await runProcess(ENCODER, [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30:duration=2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    bitrate,
    '-pix_fmt',
    'yuv420p',
    file(name),
  ]);
}

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ format: 'text', level: 'info', write: (l) => lines.push(l) }) };
}

const outputs = () => [
  { rung: 0, path: file('good.mp4'), fps: 30, resolution: nhd },
  { rung: 1, path: file('starved.mp4'), fps: 30, resolution: nhd },
];

beforeAll(async () => {
  // Both must exist: a missing one is a setup fault to fix (npm ci; ../shared/vmaf, docs/vmaf-models.md), not a reason to skip.
  await access(VMAF_FFMPEG, fsConstants.X_OK);
  await access(PKL);
  dir = await mkdtemp(path.join(os.tmpdir(), 'ffwatt-vmaf-'));
  await Promise.all([encode('good.mp4', '3M'), encode('starved.mp4', '100k')]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('VMAF with libvmaf 1.x (static ffmpeg 4.1)', () => {
  it('detects libvmaf and its generation from the filter help', async () => {
    const probe = await probeScoringFfmpeg(VMAF_FFMPEG);
    expect(probe).toMatchObject({ hasLibvmaf: true, libvmafGeneration: 1 });
    const debian = await probeScoringFfmpeg(ENCODER);
    expect(debian).toMatchObject({ hasLibvmaf: false, libvmafGeneration: null });
  });

  it('scores a high-bitrate encode above 90 and a starved one strictly lower', async () => {
    const q = await scoreOutputs({
      reference,
      referenceDurationS: 2,
      outputs: outputs(),
      ffmpegPath: ENCODER,
      qualityFfmpegPath: VMAF_FFMPEG,
      vmafModel: PKL,
      workDir: path.join(dir, 'scores'),
      notices: new Set(),
    });
    const [good, starved] = q.outputs;
    expect(q.vmafSkippedReason).toBeUndefined();
    expect(good.vmaf!.mean).toBeGreaterThan(90);
    expect(starved.vmaf!.mean).toBeLessThan(good.vmaf!.mean);
    expect(starved.vmaf!.min).toBeLessThan(good.vmaf!.min);
    expect(starved.psnrY!).toBeLessThan(good.psnrY!);
    expect(starved.ssim!).toBeLessThan(good.ssim!);
    for (const o of q.outputs) {
      expect(o.frames).toBe(60);
      expect(o.vmaf!.min).toBeLessThanOrEqual(o.vmaf!.p1);
      expect(o.vmaf!.harmonicMean).toBeLessThanOrEqual(o.vmaf!.mean);
    }
    expect(q.recipe.vmaf).toEqual({
      modelPath: PKL,
      modelFormat: 'pkl',
      libvmafGeneration: 1,
      libvmafVersion: '1.3.7',
    });
    expect((q.recipe.scoringFfmpeg as { path: string; libvmaf: string }).libvmaf).toBe('1.x');
    const comparisons = q.recipe.comparisons as Array<{ filterGraph: string }>;
    expect(comparisons[0].filterGraph).toContain(
      `libvmaf=model_path=${PKL}:log_fmt=json:log_path=vmaf.json:shortest=1:repeatlast=0`,
    );
  });

  it('takes the model from FFWATT_VMAF_MODEL, uses the .pkl twin of a .json model, and escapes odd paths', async () => {
    const odd = path.join(dir, 'models:a,b[1]');
    await mkdir(path.dirname(odd), { recursive: true });
    await symlink(MODELS, odd);
    const { lines, log } = capture();
    const q = await scoreOutputs({
      reference,
      referenceDurationS: 1,
      outputs: outputs().slice(0, 1),
      qualityFfmpegPath: VMAF_FFMPEG,
      log,
      env: { FFWATT_VMAF_MODEL: path.join(odd, 'vmaf_v0.6.1.json') },
      workDir: path.join(dir, 'twin'),
      notices: new Set(),
    });
    expect(q.outputs[0].frames).toBe(30);
    expect(q.outputs[0].vmaf!.mean).toBeGreaterThan(90);
    expect((q.recipe.vmaf as { modelPath: string }).modelPath).toBe(path.join(odd, 'vmaf_v0.6.1.pkl'));
    expect(lines.some((l) => l.includes('using') && l.includes('vmaf_v0.6.1.pkl') && l.includes('libvmaf 1.x'))).toBe(
      true,
    );
  });

  it('takes a relative --quality-ffmpeg path from where the program runs, not from the rung folder', async () => {
    const relative = path.relative(process.cwd(), VMAF_FFMPEG);
    expect(relative).toMatch(/^[^/]/);
    const q = await scoreOutputs({
      reference,
      referenceDurationS: 1,
      outputs: outputs().slice(0, 1),
      ffmpegPath: ENCODER,
      qualityFfmpegPath: relative,
      vmafModel: PKL,
      workDir: path.join(dir, 'relative'),
      notices: new Set(),
    });
    expect((q.recipe.scoringFfmpeg as { path: string }).path).toBe(VMAF_FFMPEG);
    expect(q.outputs[0].vmaf!.mean).toBeGreaterThan(90);
  });

  it('says once, plainly, that no model is configured', async () => {
    const { lines, log } = capture();
    const notices = new Set<string>();
    const opts = {
      reference,
      referenceDurationS: 1,
      outputs: outputs().slice(1),
      qualityFfmpegPath: VMAF_FFMPEG,
      log,
      env: {},
      workDir: path.join(dir, 'nomodel'),
      notices,
    };
    const first = await scoreOutputs(opts);
    await scoreOutputs({ ...opts, vmafModel: null });
    expect(first.vmafSkippedReason).toBe(
      'VMAF skipped: no VMAF model configured: pass --vmaf-model or FFWATT_VMAF_MODEL',
    );
    expect(first.outputs[0].vmaf).toBeNull();
    expect(first.outputs[0].psnrY).not.toBeNull();
    expect(lines).toEqual([`warn: ${first.vmafSkippedReason}`]);
  });

  it('says that Debian ffmpeg has no libvmaf even with a model given', async () => {
    const { lines, log } = capture();
    const q = await scoreOutputs({
      reference,
      referenceDurationS: 1,
      outputs: outputs().slice(1),
      ffmpegPath: ENCODER,
      vmafModel: PKL,
      log,
      env: {},
      workDir: path.join(dir, 'debian'),
      notices: new Set(),
    });
    expect(q.vmafSkippedReason).toMatch(
      /^VMAF skipped: this ffmpeg \(ffmpeg, version .+\) has no libvmaf; set --quality-ffmpeg or FFWATT_QUALITY_FFMPEG to a VMAF-capable ffmpeg$/,
    );
    expect(lines).toEqual([`warn: ${q.vmafSkippedReason}`]);
  });

  it('refuses a configured model that does not exist', async () => {
    await expect(
      scoreOutputs({
        reference,
        outputs: outputs().slice(1),
        qualityFfmpegPath: VMAF_FFMPEG,
        vmafModel: path.join(dir, 'missing.pkl'),
        workDir: path.join(dir, 'missing'),
        notices: new Set(),
      }),
    ).rejects.toThrow(InputError);
  });
});
