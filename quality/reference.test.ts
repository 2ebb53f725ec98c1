// The reference is what the encoder got, whichever FFmpeg scores. Debian's FFmpeg 5.1 encodes; the
// static FFmpeg 4.1 with libvmaf 1.3 (@ffmpeg-installer/linux-x64) scores. The two builds' testsrc2
// draw different frames, so a libvmaf build that regenerated the source scored a 3 Mb/s encode
// about 5 dB too low. Models come from ../shared/vmaf beside the repository (never copied in; docs/vmaf-models.md).
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../runner/index.ts';
import { scoreOutputs, type ScoredQuality } from './score.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const VMAF_FFMPEG = path.join(repoRoot, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
const PKL = path.resolve(repoRoot, '..', 'shared', 'vmaf', 'vmaf_v0.6.1.pkl');
const ENCODER = 'ffmpeg';
const nhd = { width: 640, height: 360 };
const SOURCE = 'testsrc2=size=640x360:rate=30:duration=2';
let dir: string;
const file = (name: string) => path.join(dir, name);

const rungs = [
  { name: 'hi.mkv', args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3M'] },
  { name: 'mid.mkv', args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M'] },
  { name: 'lossless.mkv', args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0'] },
];
const outputs = () => rungs.map((r, rung) => ({ rung, path: file(r.name), fps: 30, resolution: nhd }));

let byEncoder: ScoredQuality;
let byVmafBuild: ScoredQuality;

async function ffmpeg(bin: string, args: string[]) {
  return runProcess(bin, ['-hide_banner', '-nostdin', '-nostats', ...args], { tailBytes: 16384 });
}

/** Mean over frames of PSNR-Y from a psnr filter stats file (the definition ffwatt reports). */
async function meanPsnrY(statsFile: string): Promise<number> {
  const values = [...(await readFile(statsFile, 'utf8')).matchAll(/psnr_y:(\d+\.\d+)/g)].map((m) => Number(m[1]));
  if (values.length !== 60) throw new Error(`${statsFile}: expected 60 frames, got ${values.length}`);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** libvmaf 1.x's own pooled score, logged by its filter as "VMAF score: 96.611130". */
function summaryVmaf(stderr: string): number {
  const m = /VMAF score: (\d+\.\d+)/.exec(stderr);
  if (!m) throw new Error(`no VMAF score in: ${stderr}`);
  return Number(m[1]);
}

beforeAll(async () => {
  // Both must exist: a missing one is a setup fault to fix (npm ci; ../shared/vmaf, docs/vmaf-models.md), not a reason to skip.
  await access(VMAF_FFMPEG, fsConstants.X_OK);
  await access(PKL);
  dir = await mkdtemp(path.join(os.tmpdir(), 'ffwatt-qref-'));
  await Promise.all(
    rungs.map((r) =>
      ffmpeg(ENCODER, [
        '-loglevel',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        SOURCE,
        ...r.args,
        '-pix_fmt',
        'yuv420p',
        file(r.name),
      ]),
    ),
  );
  const common = {
    reference: { kind: 'synthetic' as const, source: 'testsrc2' as const, resolution: nhd, fps: 30 },
    referenceDurationS: 2,
    outputs: outputs(),
    ffmpegPath: ENCODER,
    notices: new Set<string>(),
  };
  byEncoder = await scoreOutputs({ ...common, vmafModel: null, workDir: file('by-encoder') });
  byVmafBuild = await scoreOutputs({
    ...common,
    qualityFfmpegPath: VMAF_FFMPEG,
    vmafModel: PKL,
    workDir: file('by-vmaf-build'),
  });
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the same encodes scored by two FFmpeg builds', () => {
  it('give the same PSNR within 0.05 dB and the same SSIM within 0.0005', () => {
    expect(byVmafBuild.recipe.scoringFfmpeg).toMatchObject({ path: VMAF_FFMPEG, libvmaf: '1.x' });
    expect(byVmafBuild.recipe.reference).toMatch(
      /^lavfi testsrc2 640x360@30, rendered for 2 s by the encoding ffmpeg \(ffmpeg, version 5\./,
    );
    for (let rung = 0; rung < rungs.length; rung++) {
      const a = byEncoder.outputs[rung];
      const b = byVmafBuild.outputs[rung];
      expect(b.frames).toBe(60);
      expect(a.frames).toBe(60);
      expect(Math.abs(a.psnrY! - b.psnrY!)).toBeLessThan(0.05);
      expect(Math.abs(a.psnrAvg! - b.psnrAvg!)).toBeLessThan(0.05);
      expect(Math.abs(a.ssim! - b.ssim!)).toBeLessThan(0.0005);
    }
  });

  it('score a lossless encode as identical frames: the reference is exactly what the encoder got', () => {
    for (const q of [byEncoder, byVmafBuild]) {
      expect(q.outputs[2].psnrY).toBe(100);
      expect(q.outputs[2].psnrCapped).toBe(true);
      expect(q.outputs[2].ssim).toBe(1);
    }
  });

  it('match the encoding FFmpeg scoring on its own source, where the libvmaf build regenerating testsrc2 is dB off', async () => {
    const graph = (stats: string) =>
      `[0:v]settb=AVTB,setpts=PTS-STARTPTS,fps=fps=30,format=yuv420p[d];[1:v]settb=AVTB,setpts=PTS-STARTPTS,fps=fps=30,format=yuv420p[r];[d][r]psnr=stats_file=${stats}:shortest=1`;
    const input = (stats: string) => [
      '-loglevel',
      'error',
      '-i',
      file('hi.mkv'),
      '-f',
      'lavfi',
      '-i',
      SOURCE,
      '-filter_complex',
      graph(stats),
      '-f',
      'null',
      '-',
    ];
    await ffmpeg(ENCODER, input(file('truth-psnr.log')));
    await ffmpeg(VMAF_FFMPEG, input(file('regenerated-psnr.log')));
    const truth = await meanPsnrY(file('truth-psnr.log'));
    const regenerated = await meanPsnrY(file('regenerated-psnr.log'));
    expect(Math.abs(byVmafBuild.outputs[0].psnrY! - truth)).toBeLessThan(0.05);
    // Why the reference is piped: the other build's testsrc2 is not the encoder's source.
    expect(truth - regenerated).toBeGreaterThan(1);
  });

  it('give VMAF within 0.2 of the truth: libvmaf on both sides exchanged losslessly as y4m', async () => {
    // Truth (one libvmaf build exists here, so this checks the frames VMAF sees, not libvmaf itself):
    // the encoding FFmpeg renders the reference and decodes the encode to raw y4m files, and the
    // libvmaf build only reads raw frames: no decoder and no source generator of its own in the loop.
    await ffmpeg(ENCODER, [
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      SOURCE,
      '-pix_fmt',
      'yuv420p',
      file('ref.y4m'),
    ]);
    for (const rung of [0, 1]) {
      const dist = file(`dist-${rung}.y4m`);
      await ffmpeg(ENCODER, ['-loglevel', 'error', '-y', '-i', file(rungs[rung].name), '-pix_fmt', 'yuv420p', dist]);
      const scored = await ffmpeg(VMAF_FFMPEG, [
        '-i',
        dist,
        '-i',
        file('ref.y4m'),
        '-lavfi',
        `[0:v][1:v]libvmaf=model_path=${PKL}`,
        '-f',
        'null',
        '-',
      ]);
      const truth = summaryVmaf(scored.stderrTail);
      expect(truth).toBeGreaterThan(80);
      expect(Math.abs(byVmafBuild.outputs[rung].vmaf!.mean - truth)).toBeLessThanOrEqual(0.2);
    }
  });
});
