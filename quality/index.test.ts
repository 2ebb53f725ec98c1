import { describe, expect, it } from 'vitest';

describe('quality/index.ts', () => {
  it('exports exactly the API other parts call', async () => {
    const api = await import('./index.ts');
    expect(Object.keys(api).sort()).toEqual(
      [
        'PSNR_CAP_DB',
        'QUALITY_FFMPEG_ENV',
        'VMAF_MODEL_ENV',
        'alignToReference',
        'probeScoringFfmpeg',
        'scoreOutputs',
      ].sort(),
    );
  });
});
