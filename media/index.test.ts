import { describe, expect, it } from 'vitest';

describe('media/index.ts', () => {
  it('exports the API other parts call', async () => {
    const api = await import('./index.ts');
    expect(Object.keys(api)).toEqual(
      expect.arrayContaining([
        'ProgressParser',
        'parseProgressText',
        'buildEncodeArgs',
        'buildLiveSourceArgs',
        'buildPublishArgs',
        'rateArgs',
        'parseInputStartS',
        'detectEncoders',
        'resolveEncoder',
        'defaultFfmpegPath',
        'runProcess',
        'startProcess',
        'stopAllProcesses',
        'liveProcesses',
        'ProcessResult',
        'runEncodeCell',
        'startRtmpServer',
        'presetArgs',
        'presetOrdinal',
        'ENCODER_PREFERENCE',
      ]),
    );
  });
});
