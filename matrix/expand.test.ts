import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { MAX_CELLS, canonicalJson, formatBitrate, parseMatrix } from './index.ts';

const HEAD = 'name: t\ninput: {source: testsrc2, resolution: 1280x720, fps: 30}\nscenarios:\n';
const plan = (scenarios: string) => parseMatrix(HEAD + scenarios, 't.yml');

describe('cross product', () => {
  it('expands every list axis and nothing else', () => {
    const p = plan(
      [
        '  - codec: [h264, hevc]',
        '    preset: [ultrafast, medium, slow]',
        '    rate: [{crf: 23}, {bitrate: 3M}]',
        '    streams: [1, 2]',
        '    warmup_s: [0, 1]',
        '    duration_s: [2, 3]',
        '    outputs: [{resolution: 1280x720}, {resolution: 640x360, bitrate: 800k}]',
        '  - {mode: [file, live], codec: av1, preset: [6, 8], rate: {crf: 35}, duration_s: 4}',
      ].join('\n'),
    );
    expect(p.scenarios).toHaveLength(2 * 3 * 2 * 2 * 2 * 2 + 2 * 2);
    expect(p.scenarios.filter((s) => s.origin === 'scenarios[0]')).toHaveLength(96);
    expect(
      p.scenarios.every((s) => (s.origin === 'scenarios[0]' ? s.outputs.length === 2 : s.outputs.length === 1)),
    ).toBe(true);
    // order: entry, then mode × codec × preset × rate × streams × warm-up × duration
    expect(p.scenarios[0]).toMatchObject({
      codec: 'h264',
      preset: 'ultrafast',
      rate: { kind: 'crf', value: 23 },
      streams: 1,
      warmupS: 0,
      durationS: 2,
    });
    expect(p.scenarios[1]).toMatchObject({ durationS: 3, warmupS: 0 });
    expect(p.scenarios[95]).toMatchObject({
      codec: 'hevc',
      preset: 'slow',
      rate: { kind: 'bitrate', value: 3e6 },
      streams: 2,
      warmupS: 1,
      durationS: 3,
    });
    const av1 = p.scenarios.slice(96);
    expect(av1.map((s) => `${s.mode}/${s.preset}`)).toEqual(['file/6', 'file/8', 'live/6', 'live/8']);
  });

  it('a scalar is a one-item list', () => {
    const a = plan('  - {codec: h264, preset: fast, rate: {crf: 23}, streams: 2, warmup_s: 1, duration_s: 2}\n');
    const b = plan(
      '  - {codec: [h264], preset: [fast], rate: [{crf: 23}], streams: [2], warmup_s: [1], duration_s: [2]}\n',
    );
    expect(a.scenarios).toEqual(b.scenarios);
  });

  it('fills the defaults: file mode, medium, 1 stream, no warm-up, one rung at the input size', () => {
    const [s] = plan('  - {codec: hevc, rate: {bitrate: 2500k}, duration_s: 5}\n').scenarios;
    expect(s).toEqual({
      key: s.key,
      label: 'file hevc/medium 2.5M 720p30 x1',
      mode: 'file',
      input: { kind: 'synthetic', source: 'testsrc2', resolution: { width: 1280, height: 720 }, fps: 30 },
      codec: 'hevc',
      preset: 'medium',
      rate: { kind: 'bitrate', value: 2_500_000 },
      streams: 1,
      warmupS: 0,
      durationS: 5,
      outputs: [{ resolution: { width: 1280, height: 720 }, fps: 30 }],
      origin: 'scenarios[0]',
    });
  });

  it('keeps an explicit encoder, its native presets, ladder rates and encoder options', () => {
    const [s] = plan(
      '  - {codec: h264, encoder: h264_nvenc, preset: p5, rate: {bitrate: 6M}, duration_s: 5,\n' +
        '     outputs: [{resolution: 1920x1080, fps: 60}, {resolution: 1280x720, bitrate: 3M}],\n' +
        '     encoder_options: {rc-lookahead: 20, spatial-aq: true}}\n',
    ).scenarios;
    expect(s.encoder).toBe('h264_nvenc');
    expect(s.preset).toBe('p5');
    expect(s.outputs).toEqual([
      { resolution: { width: 1920, height: 1080 }, fps: 60 },
      { resolution: { width: 1280, height: 720 }, fps: 30, rate: { kind: 'bitrate', value: 3e6 } },
    ]);
    expect(s.encoderOptions).toEqual({ 'rc-lookahead': '20', 'spatial-aq': 'true' });
    expect(s.label).toBe('file h264(h264_nvenc)/p5 6M 1080p60+720p30 x1');
  });

  it('refuses a matrix that expands past the cell cap', () => {
    const crfs = Array.from({ length: 52 }, (_, i) => `{crf: ${i}}`).join(', ');
    const streams = Array.from({ length: 50 }, (_, i) => i + 1).join(', ');
    expect(() => plan(`  - {codec: h264, rate: [${crfs}], streams: [${streams}], duration_s: [1, 2]}\n`)).toThrow(
      `t.yml:4: scenarios[0]: the matrix expands to 5200 cells, more than the cap of ${MAX_CELLS} (this entry alone makes 5200)`,
    );
  });

  it('reports an unknown explicit encoder with the encoders of the codec', () => {
    expect(() => plan('  - {codec: av1, encoder: librav1e, rate: {crf: 30}, duration_s: 2}\n')).toThrow(
      "t.yml:4: scenarios[0].encoder: unknown encoder 'librav1e' — fix: use one of libsvtav1, libaom-av1, av1_nvenc, av1_qsv, av1_vaapi",
    );
  });

  it('collects every problem of a file in one error', () => {
    try {
      plan(
        '  - {codec: h264, preset: warp, rate: {crf: 70}, duration_s: 2}\n  - {codec: vp9, preset: p1, rate: {crf: 64}, duration_s: 2}\n',
      );
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const lines = (e as InputError).message.split('\n');
      expect(lines[0]).toBe('matrix t.yml has 4 problems:');
      expect(lines.slice(1).map((l) => l.split(' — ')[0])).toEqual([
        "t.yml:4: scenarios[0].preset: preset 'warp' is not valid for libx264 (the default encoder of codec h264)",
        't.yml:4: scenarios[0].rate.crf: crf 70 is outside 0–51 (whole numbers) for codec h264',
        "t.yml:5: scenarios[1].preset: preset 'p1' is not valid for libvpx-vp9 (the default encoder of codec vp9)",
        't.yml:5: scenarios[1].rate.crf: crf 64 is outside 0–63 (whole numbers) for codec vp9',
      ]);
    }
  });
});

describe('keys and labels', () => {
  const text =
    '  - {codec: [h264, hevc], preset: [fast, slow], rate: [{crf: 23}, {bitrate: 800k}], streams: [1, 4], duration_s: 2}\n';

  it('gives every cell a short unique key, stable across loads and key order', () => {
    const a = plan(text).scenarios;
    expect(a.every((s) => /^[0-9a-f]{12}$/.test(s.key))).toBe(true);
    expect(new Set(a.map((s) => s.key)).size).toBe(a.length);
    expect(plan(text).scenarios.map((s) => s.key)).toEqual(a.map((s) => s.key));
    const reordered =
      '  - {duration_s: 2, streams: [1, 4], rate: [{crf: 23}, {bitrate: 800k}], preset: [fast, slow], codec: [h264, hevc]}\n';
    expect(new Set(plan(reordered).scenarios.map((s) => s.key))).toEqual(new Set(a.map((s) => s.key)));
    const other = plan(text.replace('duration_s: 2', 'duration_s: 3')).scenarios;
    expect(other.some((s) => a.some((t) => t.key === s.key))).toBe(false);
  });

  it('labels read like "file h264/medium crf23 720p30 x1" and stay unique', () => {
    const labels = plan(text).scenarios.map((s) => s.label);
    expect(labels).toContain('file h264/fast crf23 720p30 x1');
    expect(labels).toContain('file hevc/slow 800k 720p30 x4');
    const twins = plan('  - {codec: h264, rate: {crf: 23}, duration_s: [2, 4]}\n').scenarios.map((s) => s.label);
    expect(twins).toHaveLength(2);
    expect(twins[0]).toMatch(/^file h264\/medium crf23 720p30 x1 w0s d2s #[0-9a-f]{6}$/);
    expect(twins[1]).toMatch(/ w0s d4s #/);
  });

  it('canonical JSON sorts keys and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] })).toBe('{"a":[{"c":"x"}],"b":1}');
  });

  it('formats bitrates compactly', () => {
    expect([3e6, 2.5e6, 800e3, 4500e3, 1234, 999].map(formatBitrate)).toEqual([
      '3M',
      '2.5M',
      '800k',
      '4.5M',
      '1234',
      '999',
    ]);
  });
});

describe('bounds', () => {
  const refusal = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      return (err as Error).message;
    }
    throw new Error('not refused');
  };

  it('counts the cells from the list lengths before expanding: 60⁵ cells are refused at once, naming the count', () => {
    const list = (n: number, f: (i: number) => string) => `[${Array.from({ length: n }, (_, i) => f(i)).join(', ')}]`;
    const t0 = performance.now();
    const msg = refusal(() =>
      plan(
        `  - {codec: h264, rate: ${list(51, (i) => `{crf: ${i}}`)}, streams: ${list(60, (i) => String(i + 1))}, warmup_s: ${list(60, (i) => String(i))}, duration_s: ${list(60, (i) => String(i + 1))}, preset: [ultrafast, medium]}\n`,
      ),
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(msg).toContain(`the matrix expands to ${51 * 60 * 60 * 60 * 2} cells, more than the cap of ${MAX_CELLS}`);
  });

  it('refuses lists longer than 64 values, naming the key', () => {
    const msg = refusal(() =>
      plan(
        `  - {codec: h264, rate: {crf: 23}, duration_s: [${Array.from({ length: 150 }, (_, i) => i + 1).join(', ')}]}\n`,
      ),
    );
    expect(msg).toMatch(/scenarios\[0\]\.duration_s: list longer than 64 values/);
  });

  it.each([
    [
      'duration_s',
      '  - {codec: h264, rate: {crf: 23}, duration_s: 1e9}\n',
      /scenarios\[0\]\.duration_s: must be at most 3600/,
    ],
    [
      'warmup_s',
      '  - {codec: h264, rate: {crf: 23}, duration_s: 2, warmup_s: 601}\n',
      /scenarios\[0\]\.warmup_s: must be at most 600/,
    ],
    [
      'streams',
      '  - {codec: h264, rate: {crf: 23}, duration_s: 2, streams: 65}\n',
      /scenarios\[0\]\.streams: must be at most 64/,
    ],
  ])('refuses %s past its maximum, naming field and maximum', (_key, text, expected) => {
    expect(refusal(() => plan(text))).toMatch(expected);
  });

  it('refuses cooldown_s and idle_baseline_s past 600 s', () => {
    const scen = '  - {codec: h264, rate: {crf: 23}, duration_s: 2}\n';
    expect(refusal(() => parseMatrix(`cooldown_s: 1e9\n${HEAD}${scen}`, 't.yml'))).toMatch(
      /cooldown_s: must be at most 600/,
    );
    expect(refusal(() => parseMatrix(`idle_baseline_s: 601\n${HEAD}${scen}`, 't.yml'))).toMatch(
      /idle_baseline_s: must be at most 600/,
    );
  });

  it('caps the jobs a campaign creates up front (cells × repetitions.min)', () => {
    const crfs = Array.from({ length: 51 }, (_, i) => `{crf: ${i}}`).join(', ');
    const text = `repetitions: {min: 1000, max: 1000, ci_halfwidth_pct: 5}\n${HEAD}  - {codec: h264, rate: [${crfs}], duration_s: 2}\n`;
    expect(refusal(() => parseMatrix(text, 't.yml'))).toMatch(
      /repetitions\.min: 51 cells × 1000 repetitions make 51000 jobs, more than the cap of 50000/,
    );
  });

  it('in fleet mode keeps inputs relative to the media folder and refuses paths outside it', () => {
    const fleetPlan = (source: string, extra = '') =>
      parseMatrix(
        `name: t\ninput: {source: ${source}, resolution: 320x240, fps: 30}\nscenarios:\n  - {codec: h264, rate: {crf: 23}, duration_s: 2${extra}}\n`,
        't.yml',
        { fleet: true },
      );
    expect(fleetPlan('clips/a.mp4').scenarios[0].input).toMatchObject({ kind: 'file', path: 'clips/a.mp4' });
    expect(refusal(() => fleetPlan('/etc/shadow'))).toMatch(
      /input\.source: '\/etc\/shadow' is outside the workers' media folder/,
    );
    expect(refusal(() => fleetPlan('clips/../../etc/shadow'))).toMatch(/outside the workers' media folder/);
    expect(fleetPlan('testsrc2', ', encoder_options: {tune: film, g: 60}').scenarios[0].encoderOptions).toEqual({
      tune: 'film',
      g: '60',
    });
    expect(refusal(() => fleetPlan('testsrc2', ', encoder_options: {x264-params: "stats=/etc/passwd"}'))).toMatch(
      /encoder_options\.x264-params: encoder option 'x264-params' is not on the fleet allow-list/,
    );
  });
});
