// Shapes of the two matrix formats (zod, strict: unknown keys are errors) and the value
// parsers they share (resolution "WxH", bitrate "3M"). Rules that need more than one key
// (preset valid for the codec's encoder, crf range per codec) live in expand.ts.

import { z } from 'zod';
import { CODECS, type Resolution } from '../core/types.ts';
import { PLACEMENTS, QUEUE_CLASSES } from '../core/contracts/lists.ts';
import { closest, splitFix, withFix, type KeyPath, type Problem } from './problems.ts';

const ALLOWED_PREFIX = 'allowed keys: ';

/** Defaults of `repetitions` (docs/matrix.md); expand.ts DEFAULTS uses the same object. */
export const REPETITION_DEFAULTS = { min: 3, max: 10, ciHalfwidthPct: 5 } as const;

/** A strict object whose unknown-key issue carries the allowed keys. */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z
    .object(shape, {
      errorMap: (issue, ctx) => {
        if (issue.code === 'unrecognized_keys') return { message: ALLOWED_PREFIX + allowed };
        if (issue.code === 'invalid_type') {
          return {
            message: withFix(`expected a mapping (key: value), got ${issue.received}`, `write the keys ${allowed}`),
          };
        }
        return { message: ctx.defaultError };
      },
    })
    .strict();
}

function num(example: string) {
  return z.number({
    required_error: withFix('missing required key', `add it, e.g. ${example}`),
    invalid_type_error: withFix('must be a number', `write e.g. ${example}`),
  });
}

function positive(example: string) {
  return num(example).positive(withFix('must be greater than 0', `use e.g. ${example}`));
}

function nonNegative(example: string) {
  return num(example).nonnegative(withFix('must be 0 or more', `use e.g. ${example}`));
}

function int(example: string, min: number, max: number) {
  return num(example)
    .int(withFix('must be a whole number', `use e.g. ${example}`))
    .min(min, withFix(`must be at least ${min}`, `use e.g. ${example}`))
    .max(max, withFix(`must be at most ${max}`, `use a value from ${min} to ${max}`));
}

function oneOf<T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.enum(values, {
    errorMap: (issue, ctx) => {
      if (issue.code === 'invalid_enum_value') {
        const hint = closest(String(issue.received), values);
        return {
          message: withFix(
            `unknown ${what} '${String(issue.received)}'`,
            `${hint ? `did you mean '${hint}'? ` : ''}use one of: ${values.join(', ')}`,
          ),
        };
      }
      if (issue.code === 'invalid_type') {
        if (issue.received === 'undefined')
          return { message: withFix('missing required key', `add it: one of ${values.join(', ')}`) };
        return { message: withFix(`must be one of ${values.join(', ')}`, `write one of: ${values.join(', ')}`) };
      }
      return { message: ctx.defaultError };
    },
  });
}

/**
 * Bounds of a matrix (docs/matrix.md): a list key holds at most MAX_LIST_LENGTH values; times and
 * streams have maxima; the cell count is checked from the list lengths before anything is expanded
 * (MAX_CELLS, expand.ts).
 */
export const BOUNDS = {
  listLength: 64,
  scenarios: 1000,
  outputs: 16,
  durationS: 3600,
  warmupS: 600,
  cooldownS: 600,
  idleBaselineS: 600,
  streams: 64,
} as const;

/** A number with a documented maximum: the error names the maximum. */
function atMost<T extends z.ZodNumber>(schema: T, max: number, example: string): T {
  return schema.max(max, withFix(`must be at most ${max}`, `use a value up to ${max}, e.g. ${example}`)) as T;
}

/** A single value or a list of values; always a non-empty list of at most BOUNDS.listLength after parsing. */
function listOf<T extends z.ZodTypeAny>(item: T, example: string) {
  return z.preprocess(
    (v) => (v === undefined || Array.isArray(v) ? v : [v]),
    z
      .array(item, { required_error: withFix('missing required key', `add it, e.g. ${example}`) })
      .min(1, withFix('empty list', `give at least one value, e.g. ${example}`))
      .max(
        BOUNDS.listLength,
        withFix(
          `list longer than ${BOUNDS.listLength} values`,
          `give at most ${BOUNDS.listLength} values, or split the matrix into several campaigns`,
        ),
      ),
  );
}

// ---------- value parsers ----------

const MAX_SIDE = 8192;

/** "1280x720" → {width, height}, or a message + fix. */
export function parseResolution(value: unknown): Resolution | string {
  if (typeof value !== 'string') {
    return withFix(`resolution must be a string WxH, got ${JSON.stringify(value)}`, "write e.g. '1280x720'");
  }
  const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/.exec(value);
  if (!m) return withFix(`resolution '${value}' is not WxH`, "write width x height, e.g. '1280x720'");
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < 2 || height < 2 || width > MAX_SIDE || height > MAX_SIDE) {
    return withFix(`resolution '${value}' is out of range`, `use sides from 2 to ${MAX_SIDE}, e.g. '1920x1080'`);
  }
  if (width % 2 !== 0 || height % 2 !== 0) {
    const even = `${width + (width % 2)}x${height + (height % 2)}`;
    return withFix(
      `resolution '${value}' has an odd side (4:2:0 video needs even sizes)`,
      `use even sizes, e.g. '${even}'`,
    );
  }
  return { width, height };
}

const BITRATE_SCALE: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/** "3M" | "800k" | "2.5M" | 3000000 → bits per second, or a message + fix. */
export function parseBitrate(value: unknown): number | string {
  const fix = "write bits per second with an optional k/M/G suffix, e.g. '3M', '800k' or 2500000";
  let bps: number;
  if (typeof value === 'number') {
    bps = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*([kKMG]?)\s*$/.exec(value);
    if (!m) {
      const lower = /^\s*\d+(?:\.\d+)?\s*m\s*$/.test(value) ? ` (M is mega; a lower-case m would mean milli)` : '';
      return withFix(`bitrate '${value}' is malformed${lower}`, fix);
    }
    bps = Number(m[1]) * BITRATE_SCALE[m[2]];
  } else {
    return withFix(`bitrate must be a number or a string like '3M', got ${JSON.stringify(value)}`, fix);
  }
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  if (!Number.isFinite(bps) || bps <= 0) return withFix(`bitrate ${shown} must be greater than 0`, fix);
  if (bps < 1000) return withFix(`bitrate ${shown} is under 1 kbit/s`, `did you mean '${value}k'? ${fix}`);
  return Math.round(bps);
}

function parsed<T>(parse: (v: unknown) => T | string, example: string) {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: withFix('missing required key', `add it, e.g. ${example}`) });
      return z.NEVER;
    }
    const r = parse(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });
}

export const resolutionSchema = parsed(parseResolution, "'1280x720'");
export const bitrateSchema = parsed(parseBitrate, "'3M'");
const fpsSchema = positive('30').max(240, withFix('must be at most 240', 'use a frame rate such as 25, 30 or 60'));

/** A preset may be written as a number (SVT-AV1 `6`); it is a string inside. */
const presetSchema = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.string({ invalid_type_error: withFix('preset must be a name', "write e.g. 'medium'") }).min(1),
);

const encoderOptionsSchema = z.record(
  z.unknown().transform((v, ctx) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    ctx.addIssue({
      code: 'custom',
      message: withFix(
        `encoder option value must be a string or number, got ${JSON.stringify(v)}`,
        "write e.g. 'x264-params: keyint=60'",
      ),
    });
    return z.NEVER;
  }),
  { invalid_type_error: withFix('encoder_options must be a mapping', 'write e.g. {tune: film, g: 60}') },
);

// ---------- native format ----------

export const MODES = ['file', 'live'] as const;
export const SYNTHETIC_SOURCES = ['testsrc2', 'smptehdbars'] as const;

const rateSchema = strictObject({
  crf: num('23').nonnegative(withFix('crf must be 0 or more', 'use e.g. 23')).optional(),
  bitrate: bitrateSchema.optional(),
}).superRefine((r, ctx) => {
  const n = (r.crf !== undefined ? 1 : 0) + (r.bitrate !== undefined ? 1 : 0);
  if (n !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: withFix(
        n === 0 ? 'a rate needs crf or bitrate' : 'a rate has either crf or bitrate, not both',
        'write {crf: 23} or {bitrate: 3M}; list several as rate: [{crf: 23}, {bitrate: 3M}]',
      ),
    });
  }
});

const rungSchema = strictObject({
  resolution: resolutionSchema,
  fps: fpsSchema.optional(),
  bitrate: bitrateSchema.optional(),
});

export const nativeScenarioSchema = strictObject({
  mode: listOf(oneOf([...MODES], 'mode'), 'file').optional(),
  codec: listOf(oneOf([...CODECS] as [string, ...string[]], 'codec'), '[h264, hevc]'),
  encoder: z
    .string({ invalid_type_error: withFix('encoder must be a name', "write e.g. 'libx264', or leave it out") })
    .min(1)
    .optional(),
  preset: listOf(presetSchema, '[veryfast, medium]').optional(),
  rate: listOf(rateSchema, '[{crf: 23}]'),
  streams: listOf(int('1', 1, BOUNDS.streams), '[1, 2]').optional(),
  warmup_s: listOf(atMost(nonNegative('2'), BOUNDS.warmupS, '2'), '2').optional(),
  duration_s: listOf(atMost(positive('10'), BOUNDS.durationS, '10'), '10'),
  outputs: z
    .array(rungSchema)
    .min(1, withFix('empty ladder', 'list at least one {resolution, fps} or leave outputs out'))
    .max(BOUNDS.outputs, withFix(`more than ${BOUNDS.outputs} rungs`, `give at most ${BOUNDS.outputs} outputs`))
    .optional(),
  encoder_options: encoderOptionsSchema.optional(),
});

export const nativeMatrixSchema = strictObject({
  name: z
    .string({
      required_error: withFix('missing required key', 'add a name, e.g. name: quick'),
      invalid_type_error: withFix('name must be text', 'write e.g. name: quick'),
    })
    .min(1, withFix('empty name', 'write e.g. name: quick')),
  input: strictObject({
    source: z
      .string({
        required_error: withFix('missing required key', 'add source: testsrc2 (or smptehdbars, or a video file path)'),
        invalid_type_error: withFix('source must be text', 'write testsrc2, smptehdbars or a video file path'),
      })
      .min(1),
    resolution: resolutionSchema,
    fps: fpsSchema,
  }),
  // Every key here has a documented default (docs/matrix.md), so each one is optional.
  repetitions: strictObject({
    min: int('3', 1, 1000).optional(),
    max: int('10', 1, 1000).optional(),
    ci_halfwidth_pct: positive('5').max(100, withFix('must be at most 100', 'use e.g. 5')).optional(),
  })
    .superRefine((r, ctx) => {
      const min = r.min ?? REPETITION_DEFAULTS.min;
      const max = r.max ?? REPETITION_DEFAULTS.max;
      if (min > max) {
        ctx.addIssue({
          code: 'custom',
          path: [r.max === undefined ? 'min' : 'max'],
          message:
            r.max === undefined
              ? withFix(`min (${min}) is more than the default max (${max})`, `add max: ${min} or more, or lower min`)
              : withFix(`max (${max}) is less than min (${min})`, `set max to ${min} or more, or lower min`),
        });
      }
    })
    .optional(),
  placement: oneOf(PLACEMENTS, 'placement').optional(),
  queue: oneOf(QUEUE_CLASSES, 'queue class').optional(),
  priority: int('10', -1000, 1000).optional(),
  cooldown_s: atMost(nonNegative('5'), BOUNDS.cooldownS, '5').optional(),
  idle_baseline_s: atMost(nonNegative('30'), BOUNDS.idleBaselineS, '30').optional(),
  seed: int('42', 0, 2 ** 32 - 1).optional(),
  scenarios: z
    .array(nativeScenarioSchema, { required_error: withFix('missing required key', 'add a list of scenarios') })
    .min(1, withFix('no scenarios', 'add at least one scenario'))
    .max(
      BOUNDS.scenarios,
      withFix(`more than ${BOUNDS.scenarios} scenario entries`, 'split the matrix into several campaigns'),
    ),
});

export type NativeMatrix = z.infer<typeof nativeMatrixSchema>;
export type NativeScenario = z.infer<typeof nativeScenarioSchema>;

// ---------- the seed system's batch-matrix JSON ----------

export const LEGACY_TYPES = ['baseline', 'multi', 'single'] as const;

export const legacyEntrySchema = strictObject({
  type: oneOf([...LEGACY_TYPES], 'entry type'),
  name: z.string().optional(),
  count: int('2', 1, BOUNDS.streams).optional(),
  bitrate: bitrateSchema.optional(),
  resolution: resolutionSchema.optional(),
  fps: fpsSchema.optional(),
  stabilization: atMost(nonNegative('5'), BOUNDS.warmupS, '5').optional(),
  duration: atMost(positive('30'), BOUNDS.durationS, '30').optional(),
  cooldown: atMost(nonNegative('5'), BOUNDS.cooldownS, '5').optional(),
  preset: presetSchema.optional(),
  outputs: z
    .array(strictObject({ resolution: resolutionSchema, fps: fpsSchema.optional() }))
    .min(1)
    .optional(),
});

export const legacyMatrixSchema = strictObject({
  scenarios: z
    .array(legacyEntrySchema)
    .min(1, withFix('no scenarios', 'add at least one baseline, multi or single entry'))
    .max(BOUNDS.scenarios, withFix(`more than ${BOUNDS.scenarios} entries`, 'split the matrix into several files')),
});

export type LegacyEntry = z.infer<typeof legacyEntrySchema>;

// ---------- zod issues → problems ----------

/** Keys of the other format, named in the hint when they show up as unknown keys. */
const OTHER_FORMAT_HINT: Record<string, string> = {
  type: '\'type\' belongs to the older batch-matrix JSON (a file holding only {"scenarios": [...]}); see docs/matrix.md',
};

export function issuesToProblems(error: z.ZodError): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    const path = issue.path as KeyPath;
    if (issue.code === 'unrecognized_keys') {
      const allowed = issue.message.startsWith(ALLOWED_PREFIX) ? issue.message.slice(ALLOWED_PREFIX.length) : '';
      const allowedList = allowed.split(', ').filter(Boolean);
      for (const key of issue.keys) {
        const hint = closest(key, allowedList);
        const other = OTHER_FORMAT_HINT[key];
        problems.push({
          path: [...path, key],
          message: `unknown key '${key}'`,
          fix: `${other ? `${other}; ` : ''}${hint ? `did you mean '${hint}'? ` : ''}remove it or use one of the allowed keys: ${allowed}`,
        });
      }
      continue;
    }
    if (issue.code === 'invalid_union') {
      problems.push({ path, message: 'value has the wrong shape', fix: 'see docs/matrix.md for this key' });
      continue;
    }
    const { message, fix } = splitFix(issue.message);
    if (issue.code === 'invalid_type' && issue.received === 'undefined' && message === 'Required') {
      problems.push({ path, message: 'missing', fix: 'add this key (see docs/matrix.md)' });
      continue;
    }
    problems.push({ path, message, fix });
  }
  return problems;
}
