import { describe, expect, it } from 'vitest';
import { libvmafGenerationFromHelp, listsLibvmaf, probeScoringFfmpeg, versionFromBanner } from './quality-ffmpeg.ts';

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
    expect(listsLibvmaf(' ... libvmaf           VV->V      Calculate the VMAF between two video streams.\n')).toBe(true);
    expect(listsLibvmaf(' ... vmafmotion        V->V       Calculate the VMAF Motion score.\n')).toBe(false);
  });

  it('reads the version from the banner', () => {
    expect(versionFromBanner('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026\nbuilt with gcc')).toBe('5.1.9-0+deb12u1');
    expect(versionFromBanner('nonsense')).toBe('unknown');
  });

  it('probes the installed Debian ffmpeg: no libvmaf', async () => {
    const probe = await probeScoringFfmpeg('ffmpeg');
    expect(probe.hasLibvmaf).toBe(false);
    expect(probe.version).toMatch(/^\d+\.\d+/);
    expect(await probeScoringFfmpeg('ffmpeg')).toBe(probe); // cached per process
  });
});
