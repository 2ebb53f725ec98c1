import type { Scenario } from '../core/types.ts';

/** A small valid cell (320x240 testsrc2, x264-style crf 23, 2 s) for the queue's tests. */
export function testScenario(
  key: string,
  codec: Scenario['codec'] = 'h264',
  mode: Scenario['mode'] = 'file',
  warmupS = 0.5,
): Scenario {
  const res = { width: 320, height: 240 };
  return {
    key,
    label: `${mode} ${codec}/ultrafast ${key}`,
    mode,
    input: { kind: 'synthetic', source: 'testsrc2', resolution: res, fps: 30 },
    codec,
    preset: 'ultrafast',
    rate: { kind: 'crf', value: 23 },
    streams: 1,
    warmupS,
    durationS: 2,
    outputs: [{ resolution: res, fps: 30 }],
  };
}
