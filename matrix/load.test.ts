import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { InputError } from '../core/errors.ts';
import { loadMatrix, parseMatrix } from './index.ts';

const FIXTURES = relative(process.cwd(), fileURLToPath(new URL('../test/fixtures/matrices/', import.meta.url)));
const MATRICES = relative(process.cwd(), fileURLToPath(new URL('../matrices/', import.meta.url)));

async function errorOf(path: string): Promise<InputError> {
  try {
    await loadMatrix(path);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error(`${path} loaded without error`);
}

const OPTIONS = 'mode, codec, encoder, preset, rate, streams, warmup_s, duration_s, outputs, encoder_options';
const BITRATE_FIX = "write bits per second with an optional k/M/G suffix, e.g. '3M', '800k' or 2500000";
const X264 = 'ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo';

// Each bad file → the exact lines of its error ({F} stands for the file's path; a line ending in … is a prefix).
const BAD: Record<string, { lines: string[]; line: number; field: string }> = {
  'unknown-key.yml': {
    line: 6,
    field: 'scenarios[0].presets',
    lines: [
      `{F}:6: scenarios[0].presets: unknown key 'presets' — fix: did you mean 'preset'? remove it or use one of the allowed keys: ${OPTIONS}`,
    ],
  },
  'unknown-key.json': {
    line: 9,
    field: 'scenarios[0].durration_s',
    lines: [
      `{F}:9: scenarios[0].durration_s: unknown key 'durration_s' — fix: did you mean 'duration_s'? remove it or use one of the allowed keys: ${OPTIONS}`,
    ],
  },
  'unknown-codec.yml': {
    line: 5,
    field: 'scenarios[0].codec[1]',
    lines: [
      "{F}:5: scenarios[0].codec[1]: unknown codec 'h266' — fix: did you mean 'h264'? use one of: h264, hevc, av1, vp9",
    ],
  },
  'bad-preset.yml': {
    line: 6,
    field: 'scenarios[0].preset[1]',
    lines: [
      'matrix {F} has 2 problems:',
      `{F}:6: scenarios[0].preset[1]: preset 'p4' is not valid for libx264 (the default encoder of codec h264) — fix: use one of: ${X264}`,
      `{F}:6: scenarios[0].preset[1]: preset 'p4' is not valid for libsvtav1 (the default encoder of codec av1) — fix: use one of: ${X264}, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0`,
    ],
  },
  'bad-bitrate.yml': {
    line: 7,
    field: 'scenarios[0].rate[0].bitrate',
    lines: [
      'matrix {F} has 3 problems:',
      `{F}:7: scenarios[0].rate[0].bitrate: bitrate '3X' is malformed — fix: ${BITRATE_FIX}`,
      `{F}:8: scenarios[0].rate[1].bitrate: bitrate '-1M' must be greater than 0 — fix: ${BITRATE_FIX}`,
      `{F}:9: scenarios[0].rate[2].bitrate: bitrate 800 is under 1 kbit/s — fix: did you mean '800k'? ${BITRATE_FIX}`,
    ],
  },
  'bad-resolution.yml': {
    line: 2,
    field: 'input.resolution',
    lines: [
      'matrix {F} has 2 problems:',
      "{F}:2: input.resolution: resolution '1280*720' is not WxH — fix: write width x height, e.g. '1280x720'",
      "{F}:9: scenarios[0].outputs[1].resolution: resolution '641x360' has an odd side (4:2:0 video needs even sizes) — fix: use even sizes, e.g. '642x360'",
    ],
  },
  'bad-numbers.yml': {
    line: 7,
    field: 'scenarios[0].streams[1]',
    lines: [
      'matrix {F} has 3 problems:',
      '{F}:7: scenarios[0].streams[1]: must be at least 1 — fix: use e.g. 1',
      '{F}:8: scenarios[0].duration_s: must be greater than 0 — fix: use e.g. 10',
      '{F}:9: scenarios[0].warmup_s: must be 0 or more — fix: use e.g. 2',
    ],
  },
  'reps-min-gt-max.yml': {
    line: 5,
    field: 'repetitions.max',
    lines: ['{F}:5: repetitions.max: max (2) is less than min (5) — fix: set max to 5 or more, or lower min'],
  },
  'live-missing-file.yml': {
    line: 2,
    field: 'input.source',
    lines: ["{F}:2: input.source: 'videos/missing.mp4' is neither a synthetic source nor an existing file (…"],
  },
  'encoder-mismatch.yml': {
    line: 6,
    field: 'scenarios[0].encoder',
    lines: [
      "{F}:6: scenarios[0].encoder: encoder hevc_nvenc makes hevc, but this entry's codec list holds h264 — fix: leave encoder out (each node picks an encoder per codec), or set codec: hevc only",
    ],
  },
  'crf-range.yml': {
    line: 6,
    field: 'scenarios[0].rate[1].crf',
    lines: [
      '{F}:6: scenarios[0].rate[1].crf: crf 60 is outside 0–51 (whole numbers) for codec h264 — fix: use a whole crf from 0 to 51, or split codecs with different crf scales into separate entries',
    ],
  },
  'duplicate-cell.yml': {
    line: 5,
    field: 'scenarios[0]',
    lines: ["{F}:5: scenarios[0]: cell 'file h264/medium crf23 240p30 x1' (key …"],
  },
  'missing-key.yml': {
    line: 5,
    field: 'scenarios[0].duration_s',
    lines: ['{F}:5: scenarios[0].duration_s: missing required key — fix: add it, e.g. 10'],
  },
  'rate-both.yml': {
    line: 6,
    field: 'scenarios[0].rate',
    lines: [
      '{F}:6: scenarios[0].rate: a rate has either crf or bitrate, not both — fix: write {crf: 23} or {bitrate: 3M}; list several as rate: [{crf: 23}, {bitrate: 3M}]',
    ],
  },
  'encoder-options.yml': {
    line: 8,
    field: 'scenarios[0].encoder_options.-g',
    lines: [
      'matrix {F} has 2 problems:',
      "{F}:8: scenarios[0].encoder_options.-g: option '-g' starts with '-' — fix: write it without the dash: g: 60",
      "{F}:8: scenarios[0].encoder_options.crf: 'crf' is set by the matrix itself — fix: set it through the scenario's rate key instead",
    ],
  },
  'syntax.yml': {
    line: 3,
    field: '',
    lines: [
      '{F}:3:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a } — fix: correct the YAML syntax there (see docs/matrix.md for examples)',
    ],
  },
  'syntax.json': {
    line: 5,
    field: '',
    lines: [
      '{F}:5:1: JSON syntax error: Expected double-quoted property name — fix: correct the JSON syntax there (see docs/matrix.md for examples)',
    ],
  },
  'not-a-mapping.yml': {
    line: 1,
    field: '(top level)',
    lines: [
      '{F}:1: (top level): the matrix must be a mapping with name, input, scenarios, … — fix: start from matrices/quick.yml',
    ],
  },
  'legacy-bad.json': {
    line: 3,
    field: 'scenarios[0].bitrat',
    lines: [
      'matrix {F} has 2 problems:',
      "{F}:3: scenarios[0].bitrat: unknown key 'bitrat' — fix: did you mean 'bitrate'? remove it or use one of the allowed keys: type, name, count, bitrate, resolution, fps, stabilization, duration, cooldown, preset, outputs",
      "{F}:4: scenarios[1].type: unknown entry type 'burst' — fix: use one of: baseline, multi, single",
    ],
  },
  'legacy-bad-cells.json': {
    line: 3,
    field: 'scenarios[0].bitrate',
    lines: [
      'matrix {F} has 3 problems:',
      "{F}:3: scenarios[0].bitrate: 'bitrate' has no meaning in a baseline entry — fix: remove it; a baseline entry takes type, name, duration, cooldown",
      '{F}:4: scenarios[1].bitrate: missing required key for a multi entry — fix: add "bitrate": "3M"',
      '{F}:5: scenarios[2].count: a single entry runs one stream, but count is 2 — fix: use type "multi" for concurrent streams, or remove count',
    ],
  },
  'legacy-two-baselines.json': {
    line: 4,
    field: 'scenarios[1].preset',
    lines: [
      'matrix {F} has 2 problems:',
      `{F}:4: scenarios[1].preset: preset 'p4' is not valid for libx264 (batch-matrix cells encode h264) — fix: use one of: ${X264}`,
      '{F}:5: scenarios[2].type: a second baseline entry (the first is scenarios[0]) — fix: keep one baseline: the idle power is measured once, before the campaign',
    ],
  },
};

describe('bad matrix files are refused with file, line, key and fix', () => {
  for (const [name, want] of Object.entries(BAD)) {
    it(name, async () => {
      const file = join(FIXTURES, name);
      const err = await errorOf(file);
      const lines = err.message.split('\n');
      for (const expected of want.lines.map((l) => l.replaceAll('{F}', file))) {
        if (expected.endsWith('…')) {
          const prefix = expected.slice(0, -1);
          expect(
            lines.some((l) => l.startsWith(prefix)),
            `${prefix}\n---not in---\n${err.message}`,
          ).toBe(true);
        } else {
          expect(lines, err.message).toContain(expected);
        }
      }
      expect(lines).toHaveLength(want.lines.length);
      expect(err.details.file).toBe(file);
      expect(err.details.line).toBe(want.line);
      if (want.field) expect(err.details.field).toBe(want.field);
      expect(err.exitCode).toBe(2);
    });
  }
});

describe('ready matrices load', () => {
  it('quick.yml: 2 codecs × 2 presets file mode + 1 live cell, fast settings', async () => {
    const plan = await loadMatrix(join(MATRICES, 'quick.yml'));
    expect(plan.matrixFormat).toBe('native');
    expect(plan.name).toBe('quick');
    expect(plan.scenarios).toHaveLength(5);
    const file = plan.scenarios.filter((s) => s.mode === 'file');
    expect(new Set(file.map((s) => s.codec))).toEqual(new Set(['h264', 'hevc']));
    expect(new Set(file.map((s) => s.preset))).toEqual(new Set(['ultrafast', 'veryfast']));
    const live = plan.scenarios.filter((s) => s.mode === 'live');
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ codec: 'h264', preset: 'ultrafast', streams: 1 });
    expect(plan.repetitions).toEqual({ min: 2, max: 3, ciHalfwidthPct: 10 });
    // worst case stays under the 3-minute budget: live cells run in real time, file cells
    // here encode at ≥ 1.5× real time (slowest: x265 veryfast at 360p on 2 cores)
    const wall = plan.scenarios.reduce(
      (t, s) => t + (plan.repetitions.max * (s.warmupS + s.durationS) * s.streams) / (s.mode === 'live' ? 1 : 1.5),
      0,
    );
    const cool = plan.scenarios.length * plan.repetitions.max * plan.cooldownS;
    expect(plan.idleBaselineS + wall + cool).toBeLessThan(120);
  });

  it('full.yml: 1080p and 720p, h264/hevc/av1, ≥ 4 rates per config, streams 1 and 2', async () => {
    const plan = await loadMatrix(join(MATRICES, 'full.yml'));
    expect(plan.scenarios).toHaveLength(2 * (2 * 3 * 8 * 2 + 3 * 8 * 2) + 2 * 2 * 4 * 2);
    expect(new Set(plan.scenarios.map((s) => s.codec))).toEqual(new Set(['h264', 'hevc', 'av1']));
    expect(new Set(plan.scenarios.map((s) => s.outputs[0].resolution.height))).toEqual(new Set([1080, 720]));
    expect(new Set(plan.scenarios.map((s) => s.streams))).toEqual(new Set([1, 2]));
    const rates = new Map<string, Set<string>>();
    for (const s of plan.scenarios) {
      const config = `${s.mode} ${s.codec} ${s.preset} ${s.outputs[0].resolution.height} ${s.streams}`;
      const set = rates.get(config) ?? new Set();
      set.add(`${s.rate.kind}${s.rate.value}`);
      rates.set(config, set);
    }
    for (const set of rates.values()) expect(set.size).toBeGreaterThanOrEqual(4);
    expect(plan.repetitions).toEqual({ min: 3, max: 10, ciHalfwidthPct: 5 });
  });

  it('legacy-example.json converts', async () => {
    const plan = await loadMatrix(join(MATRICES, 'legacy-example.json'));
    expect(plan.matrixFormat).toBe('legacy-batch');
    expect(plan.name).toBe('legacy-example');
    expect(plan.idleBaselineS).toBe(5);
    expect(plan.scenarios.map((s) => s.streams)).toEqual([1, 2, 1]);
    expect(plan.scenarios[2].outputs).toHaveLength(3);
  });
});

describe('plan bookkeeping', () => {
  const text =
    'name: t\ninput: {source: testsrc2, resolution: 320x240, fps: 30}\nscenarios:\n  - {codec: h264, rate: {crf: 23}, duration_s: 2}\n';

  it('keeps the original text and its sha256', () => {
    const plan = parseMatrix(text, 't.yml');
    expect(plan.matrixText).toBe(text);
    expect(plan.matrixHash).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('seed: option over file over random (recorded)', () => {
    const a = parseMatrix(text, 't.yml');
    expect(Number.isInteger(a.seed)).toBe(true);
    expect(parseMatrix(`${text}seed: 7\n`, 't.yml').seed).toBe(7);
    expect(parseMatrix(`${text}seed: 7\n`, 't.yml', { seed: 9 }).seed).toBe(9);
    expect(() => parseMatrix(text, 't.yml', { seed: -1 })).toThrow(InputError);
    const seeds = new Set(Array.from({ length: 8 }, () => parseMatrix(text, 't.yml').seed));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('defaults: repetitions 3–10 at 5 %, cooldown 5 s, idle baseline 30 s', () => {
    const plan = parseMatrix(text, 't.yml');
    expect(plan.repetitions).toEqual({ min: 3, max: 10, ciHalfwidthPct: 5 });
    expect(plan.cooldownS).toBe(5);
    expect(plan.idleBaselineS).toBe(30);
  });

  it('the same matrix as JSON gives the same scenarios', () => {
    const json = JSON.stringify(
      {
        name: 't',
        input: { source: 'testsrc2', resolution: '320x240', fps: 30 },
        scenarios: [{ codec: 'h264', rate: { crf: 23 }, duration_s: 2 }],
      },
      null,
      2,
    );
    expect(parseMatrix(json, 't.json').scenarios).toEqual(parseMatrix(text, 't.yml').scenarios);
  });

  it('a missing file names the path and the ready matrices', async () => {
    const err = await errorOf('matrices/nope.yml');
    expect(err.message).toContain("matrix file 'matrices/nope.yml' cannot be read (ENOENT)");
    expect(err.message).toContain('matrices/quick.yml');
  });

  it('an empty file is refused', () => {
    expect(() => parseMatrix('# nothing\n', 'e.yml')).toThrow('e.yml: the matrix file is empty');
  });

  it('a live cell with an existing input file loads; checkInputFiles: false skips the check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-matrix-'));
    writeFileSync(join(dir, 'clip.mp4'), 'not really a video, only needs to exist');
    const live =
      'name: l\ninput: {source: clip.mp4, resolution: 1280x720, fps: 25}\nscenarios:\n  - {mode: live, codec: h264, rate: {bitrate: 3M}, duration_s: 5}\n';
    const plan = parseMatrix(live, join(dir, 'l.yml'));
    expect(plan.scenarios[0].input).toEqual({
      kind: 'file',
      path: join(dir, 'clip.mp4'),
      resolution: { width: 1280, height: 720 },
      fps: 25,
    });
    const elsewhere = live.replace('clip.mp4', '/srv/media/absent.mp4');
    expect(() => parseMatrix(elsewhere, join(dir, 'l.yml'))).toThrow(
      /input.source: '\/srv\/media\/absent.mp4' is neither/,
    );
    expect(parseMatrix(elsewhere, join(dir, 'l.yml'), { checkInputFiles: false }).scenarios).toHaveLength(1);
  });

  it('a misspelt synthetic source gets a hint', () => {
    expect(() => parseMatrix(text.replace('testsrc2', 'testsrc'), 't.yml')).toThrow(
      /^t\.yml:2: input\.source: 'testsrc' is neither a synthetic source nor an existing file \(.*\) — fix: did you mean 'testsrc2'\?/,
    );
  });

  it('a key of the batch format in a native file gets a hint', () => {
    const bad = text.replace('codec: h264', 'type: multi, codec: h264');
    expect(() => parseMatrix(bad, 't.yml')).toThrow(
      "t.yml:4: scenarios[0].type: unknown key 'type' — fix: 'type' belongs to the older batch-matrix JSON",
    );
  });
});

describe('keys with documented defaults are optional; placement, queue and priority', () => {
  const head = 'name: opt\ninput: {source: testsrc2, resolution: 320x240, fps: 30}\n';
  const cells = 'scenarios:\n  - {codec: h264, rate: {crf: 30}, duration_s: 1}\n';
  it('fills each left-out repetitions key with its default (ci_halfwidth_pct 5, min 3, max 10)', () => {
    expect(parseMatrix(`${head}repetitions: {min: 2, max: 4}\n${cells}`, 'm.yml').repetitions).toEqual({
      min: 2,
      max: 4,
      ciHalfwidthPct: 5,
    });
    expect(parseMatrix(`${head}repetitions: {ci_halfwidth_pct: 2}\n${cells}`, 'm.yml').repetitions).toEqual({
      min: 3,
      max: 10,
      ciHalfwidthPct: 2,
    });
    expect(() => parseMatrix(`${head}repetitions: {min: 12}\n${cells}`, 'm.yml')).toThrow(
      /repetitions\.min: min \(12\) is more than the default max \(10\) — fix: add max: 12 or more, or lower min/,
    );
  });
  it('reads placement, queue and priority; leaves them out when absent', () => {
    const plan = parseMatrix(`${head}placement: each-node\nqueue: batch\npriority: -5\n${cells}`, 'm.yml');
    expect(plan).toMatchObject({ placement: 'each-node', queueClass: 'batch', priority: -5 });
    const plain = parseMatrix(`${head}${cells}`, 'm.yml');
    expect(plain.placement).toBeUndefined();
    expect(plain.queueClass).toBeUndefined();
    expect(() => parseMatrix(`${head}queue: urgent\n${cells}`, 'm.yml')).toThrow(
      /queue: unknown queue class 'urgent' — fix: use one of: live, default, batch/,
    );
  });
});
