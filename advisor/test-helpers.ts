/** Synthetic training rows with a known rule, for the advisor tests (not part of the advisor API). */
import type { TrainingRow } from './dataset.ts';
import { presetOrdinal } from '../media/presets.ts';

export const SYNTH_CPU = 'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz';

/** The rule the synthetic data follows (noise-free): what a trained model should recover. */
export function syntheticRule(encoder: string, preset: string, crf: number, width: number, height: number) {
  const ord = presetOrdinal(encoder, preset);
  const codecCost = encoder === 'libx265' ? 2.5 : encoder === 'libsvtav1' ? 1.8 : 1;
  const pixels = (width * height) / 57600;
  const energy = 40 * pixels * codecCost * (1 + 6 * ord * ord) * (1 + (40 - crf) / 30);
  const quality = Math.min(
    99,
    100 - 1.2 * (crf - 18) + 4 * ord + (encoder === 'libx264' ? 0 : 3) + (crf > 30 ? -5 : 0),
  );
  const speed = (8 / (pixels * codecCost * (1 + 6 * ord))) * (1 + (crf - 18) / 40);
  return { energy, quality, speed };
}

export function syntheticRows(opts: { repetitions?: number; noise?: number; seed?: number } = {}): TrainingRow[] {
  const reps = opts.repetitions ?? 2;
  const noise = opts.noise ?? 0.01;
  let s = opts.seed ?? 7;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rows: TrainingRow[] = [];
  const encoders: Array<[string, string, string[]]> = [
    ['h264', 'libx264', ['ultrafast', 'veryfast', 'medium', 'slow']],
    ['hevc', 'libx265', ['ultrafast', 'veryfast', 'medium', 'slow']],
    ['av1', 'libsvtav1', ['12', '10', '8']],
  ];
  let job = 0;
  for (const [codec, encoder, presets] of encoders) {
    for (const preset of presets) {
      for (const crf of [18, 23, 28, 33, 38]) {
        for (const [width, height] of [
          [320, 180],
          [640, 360],
          [960, 540],
        ]) {
          const rule = syntheticRule(encoder, preset, crf, width, height);
          for (let r = 0; r < reps; r++) {
            const jitter = () => 1 + noise * (rand() * 2 - 1);
            rows.push({
              campaignId: 'synthetic',
              scenarioId: rows.length,
              jobId: `j${job++}`,
              nodeId: 'n1',
              content: 'testsrc2 640x360@30',
              features: {
                codec,
                encoder,
                preset,
                mode: 'file',
                rate: { kind: 'crf', value: crf },
                width,
                height,
                fps: 30,
                streams: 1,
                si: 60,
                ti: 12,
                cpuModel: SYNTH_CPU,
                cores: 2,
                gpu: false,
                meterSource: 'rapl',
              },
              energySource: 'rapl',
              netJPerEncodedMinute: rule.energy * jitter(),
              jPerEncodedMinute: rule.energy * 1.3 * jitter(),
              vmaf: rule.quality * jitter(),
              psnr: null,
              speed: rule.speed * jitter(),
            });
          }
        }
      }
    }
  }
  return rows;
}
