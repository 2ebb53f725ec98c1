import { describe, expect, it } from 'vitest';
import {
  buildFeatureSpec,
  cpuClass,
  encodeBatch,
  encodeOne,
  parseFeatureSpec,
  unseenCategories,
  UNKNOWN,
  type FeatureInput,
} from './features.ts';

const base: FeatureInput = {
  codec: 'h264',
  encoder: 'libx264',
  preset: 'medium',
  mode: 'file',
  rate: { kind: 'crf', value: 23 },
  width: 640,
  height: 360,
  fps: 30,
  streams: 1,
  si: 50,
  ti: 10,
  cpuModel: 'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz',
  cores: 2,
  gpu: false,
  meterSource: 'rapl',
};
const other: FeatureInput = {
  ...base,
  codec: 'hevc',
  encoder: 'libx265',
  preset: 'slow',
  rate: { kind: 'bitrate', value: 1e6 },
  meterSource: 'estimate',
};
const spec = buildFeatureSpec([base, other], 'siti');
const col = (name: string, v: Float32Array) => v[spec.columns.indexOf(name)];

describe('feature encoding', () => {
  it('one-hot columns per known category, an unknown bucket per field, then the numbers', () => {
    expect(spec.columns.slice(0, 3)).toEqual(['codec=h264', 'codec=hevc', `codec=${UNKNOWN}`]);
    expect(spec.columns.slice(-10)).toEqual([
      'presetOrdinal',
      'crf',
      'log10Bitrate',
      'log2Pixels',
      'fps',
      'streams',
      'si',
      'ti',
      'cores',
      'gpu',
    ]);
    const v = encodeOne(spec, base);
    expect(col('codec=h264', v)).toBe(1);
    expect(col('codec=hevc', v)).toBe(0);
    expect(col(`codec=${UNKNOWN}`, v)).toBe(0);
    expect(col('presetOrdinal', v)).toBeCloseTo(5 / 9, 6);
    expect(col('crf', v)).toBe(23);
    expect(col('log10Bitrate', v)).toBe(0);
    expect(col('log2Pixels', v)).toBeCloseTo(Math.log2(640 * 360), 5);
    const b = encodeOne(spec, other);
    expect(col('crf', b)).toBe(0);
    expect(col('log10Bitrate', b)).toBeCloseTo(6, 6);
    expect(col('rateKind=bitrate', b)).toBe(1);
  });

  it('is stable: the same training inputs in another order give the same spec', () => {
    expect(buildFeatureSpec([other, base], 'siti')).toEqual(spec);
  });

  it('puts an unseen category in the unknown bucket and says which fields were unseen', () => {
    const vp9: FeatureInput = {
      ...base,
      codec: 'vp9',
      encoder: 'libvpx-vp9',
      preset: 'good-2',
      cpuModel: 'AMD EPYC 7B13',
    };
    const v = encodeOne(spec, vp9);
    expect(col(`codec=${UNKNOWN}`, v)).toBe(1);
    expect(col('codec=h264', v)).toBe(0);
    expect(col(`encoder=${UNKNOWN}`, v)).toBe(1);
    expect(col(`cpuClass=${UNKNOWN}`, v)).toBe(1);
    expect(unseenCategories(spec, vp9).map((u) => u.field)).toEqual(['codec', 'encoder', 'cpuClass']);
    const odd = encodeOne(spec, { ...base, encoder: 'my_encoder', preset: 'x' });
    expect(col('presetOrdinal', odd)).toBe(0.5);
  });

  it('encodes a batch exactly as row by row, and lists its unseen values in first-seen order', () => {
    const inputs: FeatureInput[] = [
      base,
      other,
      { ...base, codec: 'vp9', encoder: 'libvpx-vp9', preset: 'good-2', cpuModel: 'AMD EPYC 7B13' },
      { ...other, rate: { kind: 'bitrate', value: 2.5e6 }, width: 1920, height: 1080, gpu: true, cores: 64 },
      { ...base, mode: 'stream', meterSource: 'nvml', preset: 'veryslow', rate: { kind: 'crf', value: 31 } },
      { ...base, encoder: 'my_encoder', preset: 'x', cpuModel: 'QEMU Virtual CPU version 2.5+' },
      base,
    ];
    const unseen = new Set<string>();
    const batch = encodeBatch(spec, inputs, unseen);
    const width = spec.columns.length;
    inputs.forEach((input, i) => expect(batch.subarray(i * width, (i + 1) * width)).toEqual(encodeOne(spec, input)));
    expect([...unseen]).toEqual([
      ...new Set(inputs.flatMap((i) => unseenCategories(spec, i)).map((u) => `${u.field}=${u.value}`)),
    ]);
    expect([...unseen]).toEqual([
      'codec=vp9',
      'encoder=libvpx-vp9',
      'cpuClass=amd-epyc',
      'mode=stream',
      'meterSource=nvml',
      'encoder=my_encoder',
      'cpuClass=virtual',
    ]);
  });

  it('refuses a bad row of a batch with the error of that row alone', () => {
    const bad = { ...base, fps: Number.NaN };
    expect(() => encodeBatch(spec, [base, bad])).toThrow(/feature 'fps' is not a finite number \(NaN\)/);
    expect(() => encodeBatch(spec, [base, { ...other, rate: { kind: 'bitrate', value: 0 } }])).toThrow(
      /feature 'log10Bitrate' is not a finite number \(-Infinity\)/,
    );
    expect(() => encodeBatch(spec, [base, { ...base, preset: 'turbo' }])).toThrow(
      /preset 'turbo' is not valid for encoder libx264; valid presets/,
    );
  });

  it('rejects a preset the encoder does not have, naming the valid ones', () => {
    expect(() => encodeOne(spec, { ...base, preset: 'turbo' })).toThrow(
      /preset 'turbo' is not valid for encoder libx264; valid presets/,
    );
  });

  it('classes CPU models by vendor and line', () => {
    expect(cpuClass('Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz')).toBe('intel-xeon');
    expect(cpuClass('AMD EPYC 7B13')).toBe('amd-epyc');
    expect(cpuClass('AMD Ryzen 9 7950X 16-Core Processor')).toBe('amd-ryzen');
    expect(cpuClass('Intel(R) Core(TM) i7-1185G7 @ 3.00GHz')).toBe('intel-core');
    expect(cpuClass('Neoverse-N1')).toBe('arm-neoverse');
    expect(cpuClass('QEMU Virtual CPU version 2.5+')).toBe('virtual');
  });

  it('checks a spec read from disk', () => {
    expect(parseFeatureSpec(JSON.parse(JSON.stringify(spec)), 'x.json')).toEqual(spec);
    expect(() => parseFeatureSpec({ ...spec, columns: spec.columns.slice(1) }, 'x.json')).toThrow(
      /x\.json: columns do not match/,
    );
    expect(() => parseFeatureSpec({}, 'x.json')).toThrow(/not an ffwatt feature spec/);
  });
});
