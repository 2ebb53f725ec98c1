import { describe, expect, it } from 'vitest';
import { InputError, RunError } from '../core/errors.ts';
import { liveProcesses } from '../runner/index.ts';
import {
  libvmafGenerationFromHelp,
  listsLibvmaf,
  probeScoringFfmpeg,
  runQualityPipeline,
  versionFromBanner,
} from './ffmpeg.ts';

// Option lines in the layout `ffmpeg -h filter=libvmaf` prints. The 1.x lines are from the static
// FFmpeg 4.1 (libvmaf 1.3); the 2.x lines are written after FFmpeg 5+'s option table (there `model`
// was added and `model_path` kept as deprecated), since no such build is available here.
const help1 = `libvmaf AVOptions:
  model_path        <string>     ..FV..... Set the model to be used for computing vmaf. (default "/usr/local/share/model/vmaf_v0.6.1.pkl")
  log_path          <string>     ..FV..... Set the file path to be used to store logs.
`;
const help2 = `libvmaf AVOptions:
  model_path        <string>     ..FV.......D Set the model to be used for computing vmaf.
  log_path          <string>     ..FV....... Set the file path to be used to store log files.
  model             <string>     ..FV....... Set the model to be used for computing vmaf. (default "version=vmaf_v0.6.1")
`;

describe('scoring ffmpeg capabilities', () => {
  it('tells libvmaf 1.x from 2.x by its options', () => {
    expect(libvmafGenerationFromHelp(help1)).toBe(1);
    expect(libvmafGenerationFromHelp(help2)).toBe(2);
    expect(libvmafGenerationFromHelp('Unknown filter libvmaf.')).toBeNull();
  });

  it('finds libvmaf in the filter list only as a filter name', () => {
    expect(listsLibvmaf(' ... libvmaf           VV->V      Calculate the VMAF between two video streams.\n')).toBe(
      true,
    );
    expect(listsLibvmaf(' ... vmafmotion        V->V       Calculate the VMAF Motion score.\n')).toBe(false);
  });

  it('reads the version from the banner', () => {
    expect(versionFromBanner('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026\nbuilt with gcc')).toBe(
      '5.1.9-0+deb12u1',
    );
    expect(versionFromBanner('nonsense')).toBe('unknown');
  });

  it('probes the installed Debian ffmpeg: no libvmaf', async () => {
    const probe = await probeScoringFfmpeg('ffmpeg');
    expect(probe.hasLibvmaf).toBe(false);
    expect(probe.version).toMatch(/^\d+\.\d+/);
    expect(await probeScoringFfmpeg('ffmpeg')).toBe(probe); // cached per process
  });
});

// The reference pipe: the encoding FFmpeg renders raw frames into the scoring FFmpeg's stdin.
const render = (input: string[]) => [
  '-hide_banner',
  '-nostdin',
  '-loglevel',
  'error',
  ...input,
  '-pix_fmt',
  'yuv420p',
  '-c:v',
  'rawvideo',
  '-f',
  'nut',
  'pipe:1',
];
const count = (frames: number, extra: string[] = []) => [
  '-hide_banner',
  '-nostdin',
  '-loglevel',
  'error',
  ...extra,
  '-f',
  'nut',
  '-i',
  'pipe:0',
  '-frames:v',
  String(frames),
  '-f',
  'framemd5',
  '-',
];

describe('runQualityPipeline (real ffmpeg)', () => {
  it('ends when the reader is done: an endless source cut off by the closed pipe is no failure', async () => {
    const r = await runQualityPipeline(
      { file: 'ffmpeg', args: render(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25']) },
      { file: 'ffmpeg', args: count(10) },
    );
    expect(r.stdout.split('\n').filter((l) => /^0,/.test(l))).toHaveLength(10);
    expect(liveProcesses()).toEqual([]);
  });

  it("fails with the producer's own error when it cannot render the reference", async () => {
    const err = await runQualityPipeline(
      { file: 'ffmpeg', args: render(['-i', '/nonexistent/reference.mkv']), role: 'encoding' },
      { file: 'ffmpeg', args: count(10) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunError);
    expect((err as Error).message).toMatch(
      /^ffmpeg exited with 1: .*\/nonexistent\/reference\.mkv: No such file or directory/s,
    );
    expect(liveProcesses()).toEqual([]);
  });

  it('names a missing binary by its role, and stops both at the timeout', async () => {
    await expect(
      runQualityPipeline(
        { file: 'ffmpeg', args: render(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25']) },
        { file: '/nonexistent/ffmpeg', args: [], role: 'scoring' },
      ),
    ).rejects.toThrow(InputError);
    const t0 = Date.now();
    const err = await runQualityPipeline(
      { file: 'ffmpeg', args: render(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25']) },
      { file: 'ffmpeg', args: count(1000) },
      { timeoutMs: 500 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^ffmpeg was killed \(timeout after 0\.5 s\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(liveProcesses()).toEqual([]);
  });
});
